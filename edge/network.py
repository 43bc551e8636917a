"""Network addresses: whether a host a server binds to is reachable only from this machine.

The web page (``http://``), the RTSP server (``rtsp://``) and the URI checks before start-up
(``edge.uri_options``) refuse a server reachable from the network without a token or password; they all ask
``is_loopback``.
"""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
