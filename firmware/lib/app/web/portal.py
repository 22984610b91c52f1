"""Captive portal: while the access point is open, a phone that joins it checks for a captive
portal by asking some well-known address for a page; the access point's DNS (app/dns.py) gives
our address for every name, and we answer with a redirect to the config page, which the phone
then shows by itself. Loaded only while the access point is open."""

# Where Android, Apple, Windows, Firefox and Kindle devices check for a captive portal.
PROBES = ("/generate_204", "/gen_204", "/hotspot-detect.html", "/library/test/success.html",
          "/connecttest.txt", "/ncsi.txt", "/redirect", "/success.txt", "/canonical.html",
          "/kindle-wifi/wifistub.html")


def is_address(name):
    """Whether a host is an IPv4 address (digits and dots) rather than a name."""
    if not name:
        return False
    for c in name:
        if c != "." and not "0" <= c <= "9":
            return False
    return True


def captive(host, path, hostname):
    """Whether a request is a captive-portal check to be sent to the config page: a probe path,
    or a host name that is not ours (an address, our host name, or localhost is ours)."""
    if path in PROBES:
        return True
    if not host or host[0] == "[":  # none (HTTP/1.0) or an IPv6 address: meant for us
        return False
    name = host.rsplit(":", 1)[0].lower()
    hostname = hostname.lower()
    return not (is_address(name) or name == "localhost" or name == hostname
                or (hostname and name.startswith(hostname + ".")))
