"""The words of the request head's refusals, http.HttpError(n): loaded only to answer one (and
unloaded with routes.py's modules), so that none of this text comes with the code every
dashboard poll loads."""

# Status line and sentence of each, in the order of http.py's refusal consts.
REFUSED = (("414 URI Too Long", "the request line is too long"),
           ("400 Bad Request", "not an HTTP/1.x request"),
           ("431 Request Header Fields Too Large", "the request head is too long"),
           ("431 Request Header Fields Too Large", "too many header lines"),
           ("400 Bad Request", "Content-Length is not a size"),
           ("501 Not Implemented", "chunked request bodies are not accepted"))
