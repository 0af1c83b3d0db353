"""The client's address of a request: the one answer for throttles, the login lock-out and logs.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only as far as
it was appended by proxies named in ``TRUSTED_PROXIES`` (addresses or networks; empty by
default: no proxy is trusted and the peer's address, ``REMOTE_ADDR``, is the client). The
header is walked from the right, as each proxy appends the address it received the request
from: the first hop that is not a trusted proxy is the client. Entries a client wrote
themselves sit left of it and are never reached.

A list rather than a count of proxies: a count believes that many hops even for a request that
reached the server directly, around the proxy.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """``TRUSTED_PROXIES`` entries as networks (a bare address is a one-address network)."""
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies)


def parse_address(value: str) -> IPAddress | None:
    """An address from a ``REMOTE_ADDR`` or forwarded hop (``1.2.3.4``, ``1.2.3.4:5678``,
    ``::1``, ``[::1]:5678``); IPv4-mapped IPv6 as IPv4; ``None`` for anything else."""
    value = value.strip()
    if value.startswith("["):  # [IPv6]:port
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:  # IPv4:port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address for ``request`` (a Django or DRF request); ``None`` when the peer
    has no IP address (a Unix socket without a trusted proxy in front)."""
    peer = parse_address(request.META.get("REMOTE_ADDR") or "")
    networks = trusted_networks(tuple(settings.TRUSTED_PROXIES))
    if peer is None or not is_trusted(peer, networks):
        return str(peer) if peer is not None else None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR") or ""
    for hop in reversed(forwarded.split(",")):
        address = parse_address(hop)
        if address is None:  # a malformed hop: the last address we can vouch for
            break
        peer = address
        if not is_trusted(address, networks):
            break
    # Every hop was a trusted proxy: the left-most one is the client.
    return str(peer)
