"""The shape of decoded data, for "unknown layout" errors: e.g. 'structure(13: integer, ...)'."""


def describe(value, depth=0):
    """A short shape of decoded data for 'unknown layout' errors, e.g. 'structure(13: ...)'."""
    if isinstance(value, tuple):
        inner = ", ".join(describe(v, depth + 1) for v in value[:20]) if depth < 2 else "..."
        return "structure(%d: %s%s)" % (len(value), inner, ", ..." if len(value) > 20 else "")
    if isinstance(value, list):
        inner = describe(value[0], depth + 1) if value and depth < 2 else ""
        return "array(%d%s)" % (len(value), (" of " + inner) if inner else "")
    if isinstance(value, bytes) or value is ...:  # (`...`: a 6-byte one, han.cosem.Reader.data)
        return "octet-string(%d)" % (6 if value is ... else len(value))
    if value is None or isinstance(value, (str, bool, int)):
        return "null" if value is None else "string(%d)" % len(value) if isinstance(value, str) \
            else "boolean" if isinstance(value, bool) else "integer"
    return type(value).__name__
