"""Which client address to believe, given the socket peer and X-Forwarded-For.

Pure logic, no Twisted and of Django only ``ImproperlyConfigured``, so the
rules can be tested (and property-tested) on their own. The web layer asks
one question per request: ``TrustedProxies.client_address(peer, header_lines)``.

The rules (the de-facto X-Forwarded-For semantics; RFC 7239 section 5.2 for
the node syntax we tolerate):

* If the socket peer is not a trusted upstream, forwarding headers are
  ignored: anyone can send them.
* Otherwise every ``X-Forwarded-For`` line is joined (RFC 9110 section 5.3:
  repeated field lines are one comma-separated list), split on commas, and
  walked from the right. Each trusted proxy appends the address it saw, so
  the right-most entry that is not itself trusted is the client. Entries left
  of it were written by someone we do not trust and are never used.
* A malformed entry where we would need a real address stops the walk: we
  fall back to the nearest hop we do trust, never to the client's text.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence

from django.core.exceptions import ImproperlyConfigured

__all__ = ["TrustedProxies", "UpstreamIPsError", "parse_node", "MAX_HEADER_BYTES", "MAX_HOPS"]

#: Longest X-Forwarded-For value (all lines joined) we look at. Longer values
#: are cut from the left: the trustworthy part of the chain is on the right.
MAX_HEADER_BYTES = 4096
#: Most entries we walk from the right before giving up on the chain.
MAX_HOPS = 32

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _normalize(addr: _IPAddress) -> _IPAddress:
    """Treat ``::ffff:1.2.3.4`` (dual-stack sockets) as ``1.2.3.4``."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


class UpstreamIPsError(ImproperlyConfigured, ValueError):
    """A bad ``UPSTREAM_IPS`` entry: a settings error for Django, and still
    the ``ValueError`` it always was for plain callers."""


def _entry(entry) -> _IPAddress | _Network:
    """One ``UPSTREAM_IPS`` entry as an address or a network, IPv4-mapped
    ones as their IPv4 equivalent: peers are compared as IPv4 (``_normalize``),
    so ``::ffff:10.0.0.0/104`` must mean ``10.0.0.0/8`` to trust anyone."""
    text = str(entry).strip()
    if "/" not in text:
        return _normalize(ipaddress.ip_address(text))
    iface = ipaddress.ip_interface(text)  # the network, and the address as written
    net = iface.network
    if iface.version == 6 and iface.ip.ipv4_mapped is not None:
        if net.prefixlen < 96:
            raise UpstreamIPsError(
                f"UPSTREAM_IPS: {entry!r} is an IPv4-mapped network with a prefix shorter "
                "than /96, which no IPv4 range can express. Fix: write the IPv4 range "
                "itself (e.g. '10.0.0.0/8'), or a mapped prefix of /96 to /128 "
                "(e.g. '::ffff:10.0.0.0/104')"
            )
        net = ipaddress.IPv4Network((net.network_address.ipv4_mapped, net.prefixlen - 96))
    if net.num_addresses == 1:
        return _normalize(net.network_address)
    return net


def parse_node(text: str | bytes) -> _IPAddress | None:
    """Parse one X-Forwarded-For entry; ``None`` if it is not an address.

    Accepted: ``1.2.3.4``, ``1.2.3.4:80``, ``2001:db8::1``, ``[2001:db8::1]``
    and ``[2001:db8::1]:80`` (ports are dropped). Anything else - names,
    ``unknown``, obfuscated identifiers, zone ids, stray brackets - is None.
    """
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    return _parse_text(text)


@functools.lru_cache(maxsize=4096)  # the same few addresses come back on every request
def _parse_text(text: str) -> _IPAddress | None:
    text = text.strip().strip('"')
    if not text or len(text) > 64 or not text.isascii():
        return None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        if ":" not in host:
            return None
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
        if not port.isdigit():
            return None
    else:
        host = text
    if "%" in host:  # zone ids are local to the sender; meaningless here
        return None
    try:
        return _normalize(ipaddress.ip_address(host))
    except ValueError:
        return None


class TrustedProxies:
    """The set of upstream proxies whose X-Forwarded-For we believe.

    Built once (from ``settings.UPSTREAM_IPS``) and then only read, so it is
    safe to share between threads. Entries are addresses or CIDR ranges,
    IPv4 or IPv6 (IPv4-mapped ones are stored as IPv4); a bad entry raises
    ``UpstreamIPsError`` (``ImproperlyConfigured``, ``ValueError``) naming it,
    at startup.
    """

    __slots__ = ("_addresses", "_networks", "source", "_verdicts", "_decisions")

    def __init__(self, entries: Iterable[str] = ()):
        self.source = tuple(entries)
        addresses: set[_IPAddress] = set()
        networks: list[_Network] = []
        for entry in self.source:
            try:
                found = _entry(entry)
            except UpstreamIPsError:
                raise
            except ValueError:
                raise UpstreamIPsError(
                    f"UPSTREAM_IPS: {entry!r} is neither an IP address nor a CIDR range "
                    "(examples: '127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8')"
                ) from None
            if isinstance(found, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
                networks.append(found)
            else:
                addresses.add(found)
        self._addresses = frozenset(addresses)
        self._networks = tuple(networks)
        self._verdicts: dict[_IPAddress, bool] = {}  # network lookups, memoised (bounded)
        self._decisions: dict[tuple[str, str], str] = {}  # whole answers, memoised (bounded)

    def __repr__(self):
        return f"TrustedProxies({list(self.source)!r})"

    def is_trusted(self, addr: _IPAddress | str | None) -> bool:
        """True if ``addr`` is one of our upstream proxies."""
        if addr is None:
            return False
        if isinstance(addr, str):
            addr = parse_node(addr)
            if addr is None:
                return False
        if addr in self._addresses:
            return True
        if not self._networks:
            return False
        verdict = self._verdicts.get(addr)
        if verdict is None:
            verdict = any(addr in net for net in self._networks)
            if len(self._verdicts) >= 4096:
                self._verdicts.clear()
            self._verdicts[addr] = verdict
        return verdict

    def client_address(self, peer: str, header_lines: Sequence[bytes | str] | None) -> str:
        """The address to report as the client's (REMOTE_ADDR, access log).

        ``peer`` is the socket peer's host; ``header_lines`` the raw
        X-Forwarded-For field lines (None or empty if absent). Returns
        ``peer`` unchanged unless a trusted hop vouches for another address.
        """
        if not header_lines:
            return peer
        joined = _join(header_lines)
        key = (peer, joined)
        found = self._decisions.get(key)
        if found is None:
            found = self._decide(peer, joined)
            if len(self._decisions) >= 4096:  # bounded: header values are the client's
                self._decisions.clear()
            self._decisions[key] = found
        return found

    def _decide(self, peer: str, joined: str) -> str:
        peer_addr = parse_node(peer)
        if peer_addr is None or not self.is_trusted(peer_addr):
            return peer
        result = peer
        entries = joined.rsplit(",", MAX_HOPS)
        if len(entries) > MAX_HOPS:
            entries = entries[1:]  # the left-most piece may hold many more entries
        for raw in reversed(entries):
            addr = parse_node(raw)
            if addr is None:
                return result  # broken chain: stop at the last hop we trust
            result = str(addr)
            if not self.is_trusted(addr):
                return result
        return result  # every hop trusted: the furthest one is the client


def _join(header_lines: Sequence[bytes | str]) -> str:
    """All field lines as one string, cut to its right-most MAX_HEADER_BYTES."""
    # latin-1 maps every byte; parse_node then rejects any non-ASCII entry.
    if len(header_lines) == 1:
        line = header_lines[0]
        joined = line.decode("latin-1") if isinstance(line, bytes) else line
    else:
        joined = ",".join(
            line.decode("latin-1") if isinstance(line, bytes) else line for line in header_lines
        )
    if len(joined) > MAX_HEADER_BYTES:
        joined = joined[-MAX_HEADER_BYTES:]
        # the first piece may be a cut-off entry; drop it
        joined = joined.partition(",")[2]
    return joined
