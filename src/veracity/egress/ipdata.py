"""Offline IP lookups: the range tables shipped in ``veracity/data/egress`` (built by tools/build_egress_data.py).

``country(ip)`` gives the country of the registry holder of the block (NRO delegated statistics: the jurisdiction
of whoever holds the addresses, not where a server stands); ``asn(ip)`` the origin AS and its organisation
(RouteViews, DB-IP IP to ASN Lite, NRO). Each table is decompressed on first use (milliseconds) and then
answered by ``bisect`` over the sorted range starts.
"""

from __future__ import annotations

import array
import bisect
import ipaddress
import struct
import sys
from functools import cache
from importlib import resources

MAGIC = b"VERIP1"
COUNTRY_SOURCE = "ip-country-nro (NRO delegated statistics via sapics/ip-location-db, CC BY 4.0)"
ASN_SOURCE = "ip-asn-org (RouteViews, DB-IP IP to ASN Lite, NRO via sapics/ip-location-db, CC BY 4.0)"


class RangeTable:
    """Sorted range starts and one value per range; range i covers [starts[i], starts[i+1]). IPv6 starts are kept
    as their high and low 64 bits (``starts`` and ``low``): no list of 300,000 big integers to build."""

    def __init__(self, raw: bytes):
        if raw[:6] != MAGIC:
            raise ValueError("not a veracity IP range table")
        self.family = raw[6]
        self.kind = chr(raw[7])
        self.low: array.array | None = None
        (n,) = struct.unpack_from("<I", raw, 8)
        pos = 12
        if self.family == 4:
            starts = array.array("I")
            starts.frombytes(raw[pos : pos + 4 * n])
            pos += 4 * n
            if sys.byteorder == "big":
                starts.byteswap()
            self.starts = starts
        else:
            hi, lo = array.array("Q"), array.array("Q")
            hi.frombytes(raw[pos : pos + 8 * n])
            lo.frombytes(raw[pos + 8 * n : pos + 16 * n])
            pos += 16 * n
            if sys.byteorder == "big":
                hi.byteswap()
                lo.byteswap()
            self.starts = hi  # the high halves; ``get`` compares the low ones where they tie
            self.low = lo
        values = array.array("I")
        values.frombytes(raw[pos : pos + 4 * n])
        if sys.byteorder == "big":
            values.byteswap()
        if len(values) != n:
            raise ValueError("truncated IP range table")
        self.values = values

    def get(self, value: int) -> int:
        if self.low is None:
            i = bisect.bisect_right(self.starts, value) - 1
        else:  # 128-bit starts kept as two 64-bit halves: the last (high, low) at or below the value's
            high, low = value >> 64, value & (2**64 - 1)
            first = bisect.bisect_left(self.starts, high)
            last = bisect.bisect_right(self.starts, high, first)
            i = bisect.bisect_right(self.low, low, first, last) - 1
        return self.values[i] if i >= 0 else 0

    def __len__(self) -> int:
        return len(self.values)


def data(name: str) -> bytes:
    """A data file, decompressed (Zstandard: the tables take a hundredth of a second, not a tenth as with xz)."""
    import zstandard

    raw = resources.files("veracity").joinpath(f"data/egress/{name}").read_bytes()
    return zstandard.ZstdDecompressor().decompress(raw)


@cache
def table(family: int, kind: str) -> RangeTable:
    name = f"ip{family}-{'country' if kind == 'c' else 'asn'}.bin.zst"
    return RangeTable(data(name))


@cache
def _asn_lines() -> bytes:
    """``number<TAB>organisation`` lines, sorted by number (as the build writes them)."""
    return data("asn-names.tsv.zst")


def asn_name(number: int) -> str | None:
    """The organisation of AS ``number``: a binary search over the lines as they are (90,000 of them would take a
    tenth of a second to parse into a dict, for the few numbers a scan asks about)."""
    text = _asn_lines()
    lo, hi = 0, len(text)  # both at the start of a line: the answer lies in the lines between
    while lo < hi:
        start = text.rfind(b"\n", 0, (lo + hi) // 2) + 1  # the line the middle falls in (it starts at lo or after)
        end = text.find(b"\n", start)
        if end < 0:
            end = len(text)
        line = text[start:end]
        head, tab, name = line.partition(b"\t")
        if not tab or not head.isdigit():
            return None  # not a table this build wrote
        found = int(head)
        if found == number:
            return name.decode("utf-8", "replace")
        if found < number:
            lo = end + 1
        else:
            hi = start
    return None


def country(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """ISO 3166-1 alpha-2 code of the registry holder of ``ip``'s block, or None."""
    addr = ipaddress.ip_address(ip)
    code = table(addr.version, "c").get(int(addr))
    return chr(code >> 8) + chr(code & 0xFF) if code else None


def asn(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[int, str | None] | None:
    """(AS number, organisation) originating ``ip``'s prefix, or None."""
    addr = ipaddress.ip_address(ip)
    number = table(addr.version, "a").get(int(addr))
    if not number:
        return None
    return number, asn_name(number)


def load() -> None:
    """Read every table now (a few tenths of a second), so that the first look-up does not."""
    for family in (4, 6):
        table(family, "c")
        table(family, "a")
    _asn_lines()
