"""Who a request is from when it comes through a reverse proxy (pure).

A proxy in front of the station (deploy/nginx.conf: TLS for the streams, a cache for HLS)
connects from its own address, so every listener, DJ and login would look like the proxy to
the listening history, /admin/listclients and the login lockout. The proxy names its client in
X-Forwarded-For (or RFC 7239's Forwarded). Anyone can send those headers, so they are believed
only from the addresses in `server.trusted_proxies`, and read from the right: each trusted hop
names the one before it, and the first address not trusted is the client (nginx's
real_ip_recursive, Icecast's <x-forwarded-for>). A hop that is no address ("unknown", a
proxy's obfuscated name) ends the walk at the last address known.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Network = IPv4Network | IPv6Network  # as settings.parse_network reads them from the config

_FOR = re.compile(r'(?:^|[;,])\s*for\s*=\s*("[^"]*"|[^;,\s]*)', re.IGNORECASE)
_PROTO = re.compile(r'(?:^|[;,])\s*proto\s*=\s*"?([A-Za-z]+)', re.IGNORECASE)


def address_of(hop: str) -> IPv4Address | IPv6Address | None:
    """The address in one hop as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443`,
    `2001:db8::1`, quoted or not; None for anything else."""
    hop = hop.strip().strip('"')
    if hop.startswith("["):
        hop = hop[1 : hop.find("]")] if "]" in hop else ""
    elif hop.count(":") == 1:
        hop = hop.split(":")[0]  # IPv4 with a port
    try:
        found = ip_address(hop.split("%")[0])
    except ValueError:
        return None
    return (found.ipv4_mapped or found) if isinstance(found, IPv6Address) else found


def trusted(address: IPv4Address | IPv6Address | None, networks: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def hops(forwarded_for: str, forwarded: str) -> list[str]:
    """The chain of addresses the proxies name, client first: X-Forwarded-For's when sent, else
    the `for=` values of Forwarded (repeated headers arrive joined with commas)."""
    if forwarded_for.strip():
        return [hop for hop in forwarded_for.split(",") if hop.strip()]
    return [match[1] for match in _FOR.finditer(forwarded)]


def client_of(peer: str, forwarded_for: str, forwarded: str, networks: Sequence[Network]) -> str:
    """The client's address: `peer` (the connection's), or the one its trusted proxies name. An
    IPv4 client of a dual-stack socket (host "::") is named as IPv4, not ::ffff:a.b.c.d."""
    peer = peer[7:] if peer.startswith("::ffff:") and "." in peer else peer
    if not networks or not trusted(address_of(peer), networks):
        return peer
    client = peer
    for hop in reversed(hops(forwarded_for, forwarded)):
        address = address_of(hop)
        if address is None:
            break
        client = str(address)
        if not trusted(address, networks):
            break
    return client


def scheme_of(peer: str, forwarded_proto: str, forwarded: str, networks: Sequence[Network]) -> str:
    """The scheme of links for a client: https when a trusted proxy says it came over TLS (X-Forwarded-Proto, else
    Forwarded's proto=; the nearest proxy's word), else "http": links given to a listener of the
    proxy's https side must be https (QA: .m3u files pointed at http:// on the TLS port)."""
    if not networks or not trusted(address_of(peer), networks):
        return "http"
    said = forwarded_proto.split(",")[-1] if forwarded_proto.strip() else next(reversed(_PROTO.findall(forwarded)), "")
    return "https" if said.strip().lower() == "https" else "http"


def unheeded(peer: str, networks: Sequence[Network]) -> bool:
    """A proxy's header from `peer`, not believed: a private or loopback address (where proxies
    sit) that `networks` does not list. Worth one word in the log, as every client behind it
    then shares its address (QA: one guesser locked every operator out behind nginx)."""
    address = address_of(peer)
    return address is not None and (address.is_private or address.is_loopback) and not trusted(address, networks)
