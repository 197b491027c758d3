"""Endpoint candidates from the bytes of one file: URLs, host names, IPv4/IPv6 literals, e-mail addresses.

The inventory's one Hyperscan pass (:data:`PATTERNS`) says where candidates are in every file, binaries included
(ASCII and UTF-16LE). Only around those places are bytes read again (windows of a few hundred bytes, or the
lines of a text file), and the candidates are confirmed and normalised here with Python regular expressions.
A file where a pattern hit the inventory's per-file cap is read whole (text) or over its string ranges
(binaries: the ELF read-only data, the first MiB of other data), so no endpoint is lost to the cap.

Each candidate keeps where it was (byte offset, line of a text file) and its context: the line or printable
string around it, the strings before and after (programs keep ``key\\0value`` tables, such as nvram
defaults), the configuration key it is assigned to and the command that uses it (shell scripts), which the
noise and purpose rules read.
"""

from __future__ import annotations

import bisect
import ipaddress
import mmap
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from ..inventory import SCAN_LIMIT, Item
from ..patterns import Pattern
from ..tree import on_disk
from . import names

PATTERN_PREFIX = "VER-EGR-001/"

SCHEMES = (
    "https", "http", "mqtts", "mqtt", "wss", "ws", "coaps", "coap", "tcp", "udp", "ftps", "ftp", "tftp", "sftp",
    "ntp", "stuns", "stun", "turns", "turn", "xmpp", "cwmp", "rtsp", "rtmps", "rtmp", "smtps", "smtp", "ldaps",
    "ldap", "telnet", "ssh", "amqps", "amqp", "socks5", "socks4", "socks", "sips", "sip", "imaps", "imap",
    "pop3s", "pop3", "irc", "rsync", "git", "svn", "nntp", "redis",
)
_SCHEME_ALT = "|".join(SCHEMES)

HS_EXTRA_TLDS = (
    "cloud", "xyz", "top", "online", "site", "tech", "app", "dev", "link", "live", "club", "vip", "shop", "store",
    "space", "website", "icu", "network", "host", "services", "solutions", "systems", "global", "world",
)
"""Generic TLDs added to the Hyperscan domain pattern beside the strong ones (names in them still need three
labels when bare)."""


def _wide(text: str) -> bytes:
    return b"".join(re.escape(c.encode()) + b"\\x00" for c in text)


def patterns() -> tuple[Pattern, ...]:
    tld_alt = "|".join(sorted(names.strong_tlds() | set(HS_EXTRA_TLDS), key=lambda t: (-len(t), t)))
    wide_schemes = b"|".join(_wide(s) for s in ("https", "http", "mqtts", "mqtt", "wss", "ws", "ftp", "coap"))
    wide_tlds = b"|".join(_wide(t) for t in ("com", "net", "org", "cn", "io", "cloud"))
    # three databases of their own (see Pattern.database): names, URLs and e-mail addresses, IP addresses.
    # Hyperscan's choice of engines for a database is not additive, and these patterns are where it shows: in one
    # database with the other checks' patterns they cost 0.81 s on the benchmark image (300 MiB), alone in one
    # 0.72 s, in these three 0.30 s (0.61 s with the rest in theirs). Sharing the other checks' database looked
    # cheaper for the full set (0.54 s) but made some subsets several times slower (with the accounts or keys
    # patterns, 0.85 s); so did other groupings: domain with email 0.65 s, wide-domain with wide-url 3.5 s.
    # Measure every subset before moving one.
    # one cap group (see Pattern.cap_group): once one of them passes the cap in a file, the check reads it whole
    # (``candidates(full=True)``); "shell" is not in it: it says whether the file runs a shell, whatever the rest.
    return (
        Pattern(PATTERN_PREFIX + "url", rb"\b(?:" + _SCHEME_ALT.encode() + rb")://[A-Za-z0-9\[%$_{]", caseless=True,
                database=1, cap_group=PATTERN_PREFIX),
        Pattern(PATTERN_PREFIX + "email", rb"[A-Za-z0-9._%+-]@[A-Za-z0-9][A-Za-z0-9-]{0,62}\.[A-Za-z]", caseless=True,
                database=1, cap_group=PATTERN_PREFIX),
        Pattern(PATTERN_PREFIX + "ipv4", rb"\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\b", database=2,
                cap_group=PATTERN_PREFIX),
        # compressed forms only ("::"): the full eight-group form costs half of the whole pass and is rare in images
        Pattern(PATTERN_PREFIX + "ipv6", rb"\b[0-9A-Fa-f]{1,4}::(?:[0-9A-Fa-f]{1,4}\b|[^0-9A-Za-z_:])"
                rb"|[^0-9A-Za-z_:]::[0-9A-Fa-f]{1,4}\b", database=2, cap_group=PATTERN_PREFIX),
        Pattern(PATTERN_PREFIX + "domain", rb"[A-Za-z0-9]\.(?:" + tld_alt.encode() + rb")\b", caseless=True,
                database=3, cap_group=PATTERN_PREFIX),
        Pattern(PATTERN_PREFIX + "wide-url", rb"(?:" + wide_schemes + rb"):\x00/\x00/\x00", caseless=True, database=1,
                cap_group=PATTERN_PREFIX),
        Pattern(PATTERN_PREFIX + "wide-domain", rb"[A-Za-z0-9]\x00\.\x00(?:" + wide_tlds + rb")[^A-Za-z0-9]\x00",
                caseless=True, database=3, cap_group=PATTERN_PREFIX),
        Pattern(PATTERN_PREFIX + "shell", rb"/bin/(?:ba|a|da)?sh\b|\bsh -c\b|\bsystem\(", first_only=True,
                database=2),
    )


# -- confirming regular expressions (over latin-1 text: one character per byte) -------------------------------

_URL = re.compile(
    r"(?<![A-Za-z0-9+.-])(?P<scheme>" + _SCHEME_ALT + r")://(?P<rest>[^\s\"'<>`\\{}|^\x00-\x1f\x7f-\xff]*)",
    re.IGNORECASE,
)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = rf"(?:{_LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?"
_DOMAIN = re.compile(
    rf"(?<![A-Za-z0-9_.@/%$\\:-])(?P<host>{_HOSTNAME})(?::(?P<port>[0-9]{{1,5}}))?(?![A-Za-z0-9_@-]|\.[A-Za-z0-9])"
)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(
    rf"(?<![0-9A-Za-z_.%-])(?P<ip>{_OCTET}(?:\.{_OCTET}){{3}})(?P<cidr>/[0-9]{{1,2}})?(?::(?P<port>[0-9]{{1,5}}))?"
    r"(?![0-9A-Za-z_-]|\.[0-9])"
)
_IPV6 = re.compile(
    r"(?<![0-9A-Za-z_:.%-])(?P<ip>[0-9A-Fa-f:]*::[0-9A-Fa-f:]*[0-9A-Fa-f]|[0-9A-Fa-f:]*::|"
    r"(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4})(?![0-9A-Za-z_:.-])"
)
_EMAIL = re.compile(
    rf"(?<![A-Za-z0-9._%+-])(?P<local>[A-Za-z0-9][A-Za-z0-9._%+-]{{0,63}})@(?P<host>{_HOSTNAME})"
    r"(?![A-Za-z0-9_-]|\.[A-Za-z0-9])"
)
_HOST_IN_URL = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:/?#\[\]@]*))(?::(?P<port>[0-9]{0,5}))?$")

_PRINTABLE = frozenset(range(0x20, 0x7F)) | {0x09}
WINDOW = 512
"""Bytes read on each side of a pattern hit."""
LINE_CLIP = 400
"""Characters of context kept on each side of a candidate on a long line (minified JavaScript)."""


@dataclass(slots=True)
class Candidate:
    kind: str
    """url, domain, ipv4, ipv6, email."""
    value: str
    """Normalised: lower-case host, no credentials, no query string."""
    host: str | None
    port: int | None
    scheme: str | None
    path: str
    offset: int
    line: int | None
    text: str
    """The line (text file) or printable string (binary) holding the candidate, clipped."""
    start: int
    end: int
    """Position of the candidate in ``text``."""
    before: tuple[str, ...] = ()
    """Up to three strings or lines before ``text``, nearest first."""
    after: tuple[str, ...] = ()
    section: str | None = None
    """The UCI section (``config timeserver 'ntp'``) of an OpenWrt configuration line."""
    wide: bool = False
    raw: str = ""
    userinfo: bool = False
    """The URL carried credentials (dropped from ``value``)."""
    cidr: int | None = None

    @property
    def prefix(self) -> str:
        return self.text[: self.start]

    @property
    def suffix(self) -> str:
        return self.text[self.end :]


@dataclass(slots=True)
class _Buffer:
    text: str
    """latin-1 decoded bytes (one character per byte) or decoded UTF-16LE (one character per two bytes)."""
    base: int
    scale: int = 1
    binary: bool = True


class FileReader:
    """Reads the bytes of one inventory item: the decoded text for text files, windows for binaries."""

    def __init__(self, item: Item):
        self.item = item
        self.text_bytes: bytes | None = None
        if item.facts.text is not None:
            self.text_bytes = item.facts.text.encode("utf-8", "surrogateescape")
        self._last_line = (0, 1)

    @property
    def binary(self) -> bool:
        return self.text_bytes is None

    def read(self, start: int, length: int) -> bytes:
        if self.text_bytes is not None:
            return self.text_bytes[start : start + length]
        if not self.item.node.disk_path or length <= 0:
            return b""
        fd = os.open(on_disk(self.item.node), os.O_RDONLY | os.O_NOFOLLOW)  # type: ignore[arg-type]
        try:
            return os.pread(fd, length, start)
        finally:
            os.close(fd)

    def rescan(self) -> list[tuple[str, int]]:
        """(pattern id, start) of every hit of the extraction patterns in the whole file, without a cap."""
        if self.text_bytes is not None:
            return _uncapped().scan(self.text_bytes)
        if not self.item.node.disk_path:
            return []
        fd = os.open(on_disk(self.item.node), os.O_RDONLY | os.O_NOFOLLOW)  # type: ignore[arg-type]
        try:
            if not os.fstat(fd).st_size:
                return []
            with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as data:
                view = memoryview(data)[:SCAN_LIMIT]
                try:
                    return _uncapped().scan(view)
                finally:
                    view.release()
        finally:
            os.close(fd)

    def line_of(self, offset: int) -> int | None:
        data = self.text_bytes
        if data is None:
            return None
        last_offset, last_line = self._last_line
        if offset < last_offset:
            last_offset, last_line = 0, 1
        line = last_line + data.count(b"\n", last_offset, offset)
        self._last_line = (offset, line)
        return line

    def uci_section(self, offset: int) -> str | None:
        data = self.text_bytes
        if data is None:
            return None
        at = data.rfind(b"\nconfig", 0, offset)
        if at < 0:
            if not data.startswith(b"config"):
                return None
            at = -1
        end = data.find(b"\n", at + 1)
        return data[at + 1 : end if end >= 0 else len(data)].decode("utf-8", "replace").strip()


def candidates(item: Item, full: bool = False) -> Iterator[Candidate]:
    """Every candidate of ``item`` around its pattern hits (or in all of it when ``full``)."""
    reader = FileReader(item)
    hits = [(pid[len(PATTERN_PREFIX):], start) for pid, start, _ in item.facts.matched(PATTERN_PREFIX)]
    if full:  # a pattern hit the inventory's cap in this file: find every place again, without a cap
        hits = [(pid[len(PATTERN_PREFIX):], start) for pid, start in reader.rescan()]
    narrow = [(p, kind) for kind, p in hits if not kind.startswith("wide") and kind != "shell"]
    wide = [(p, kind[5:]) for kind, p in hits if kind.startswith("wide")]
    uci = item.node.path.startswith("/etc/config/")
    seen: set[tuple[int, str]] = set()
    if reader.text_bytes is not None:
        data = reader.text_bytes
        spans = [(*_text_span(data, p), kind) for p, kind in narrow]
    else:
        spans = [(max(0, p - WINDOW), p + WINDOW, kind) for p, kind in narrow]
    for lo, hi, kinds in _merge(spans):
        raw = reader.read(lo, hi - lo)
        buf = _Buffer(raw.decode("latin-1"), lo, 1, reader.binary)
        for cand in _scan(buf, reader, uci, kinds):
            key = (cand.offset, cand.kind)
            if key not in seen:
                seen.add(key)
                yield cand
    for lo, hi, kinds in _merge([(max(0, p - 2 * WINDOW), p + 2 * WINDOW, kind) for p, kind in wide]):
        raw = reader.read(lo, hi - lo)
        for start, text in _wide_runs(raw, lo):
            buf = _Buffer(text, start, 2, True)
            for cand in _scan(buf, reader, False, frozenset({"url", "domain", "email"})):
                cand.wide = True
                key = (cand.offset, cand.kind)
                if key not in seen:
                    seen.add(key)
                    yield cand


def _text_span(data: bytes, pos: int) -> tuple[int, int]:
    """The lines around ``pos`` in a text file: three before and three after, at most 4 KiB each way."""
    lo = pos
    for _ in range(4):
        lo = data.rfind(b"\n", max(0, pos - 4096), lo)
        if lo < 0:
            lo = max(0, pos - 4096) if pos > 4096 else 0
            break
    hi = pos
    for _ in range(4):
        nxt = data.find(b"\n", hi + 1, pos + 4096)
        if nxt < 0:
            hi = min(len(data), pos + 4096)
            break
        hi = nxt
    return (lo + 1 if lo > 0 and data[lo:lo + 1] == b"\n" else lo), hi


class _Uncapped:
    """The extraction patterns in a Hyperscan database of their own, with a generous cap, for the few files where
    the inventory's shared pass stopped counting."""

    LIMIT = 20_000

    def __init__(self) -> None:
        import pyperscan as ps

        self.ids = [p.id for p in patterns() if not p.first_only]
        compiled = []
        for tag, p in enumerate(x for x in patterns() if not x.first_only):
            flags = [ps.Flag.DOTALL, ps.Flag.SOM_LEFTMOST]
            if p.caseless:
                flags.append(ps.Flag.CASELESS)
            compiled.append(ps.Pattern(p.regex, *flags, tag=tag))
        self.out: list[tuple[str, int]] = []
        self.scanner = ps.BlockDatabase(*compiled).build(self, _uncapped_hit)

    def scan(self, data) -> list[tuple[str, int]]:
        self.out = []
        self.scanner.scan(data)
        return self.out


def _uncapped_hit(ctx: _Uncapped, tag: int, start: int, end: int):
    import pyperscan as ps

    ctx.out.append((ctx.ids[tag], start))
    return ps.Scan.Continue if len(ctx.out) < ctx.LIMIT else ps.Scan.Terminate


@cache
def _uncapped() -> _Uncapped:
    return _Uncapped()


def uncapped_ready() -> None:
    """Compile the database for files past the inventory's cap now (see checks.egress.warm)."""
    _uncapped()


def _merge(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, frozenset[str]]]:
    """Overlapping spans merged, each with the kinds of the hits that asked for it."""
    out: list[tuple[int, int, set[str]]] = []
    for lo, hi, kind in sorted(spans):
        if out and lo <= out[-1][1]:
            last = out[-1]
            out[-1] = (last[0], max(hi, last[1]), last[2])
            last[2].add(kind)
        else:
            out.append((lo, hi, {kind}))
    return [(lo, hi, frozenset(k)) for lo, hi, k in out]


def _wide_runs(raw: bytes, base: int) -> Iterator[tuple[int, str]]:
    """UTF-16LE runs of printable ASCII (at least 5 characters) in ``raw``."""
    for parity in (0, 1):
        for m in re.finditer(rb"(?:[\x20-\x7e]\x00){5,}", raw[parity:]):
            yield base + parity + m.start(), m.group()[::2].decode("ascii")


# -- one buffer ----------------------------------------------------------------------------------------------


class _Taken:
    """Non-overlapping spans already claimed by a candidate, for ``bisect`` look-ups."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, start: int, end: int) -> None:
        i = bisect.bisect_right(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)

    def covers(self, pos: int) -> bool:
        i = bisect.bisect_right(self.starts, pos) - 1
        return i >= 0 and self.ends[i] > pos


def _scan(buf: _Buffer, reader: FileReader, uci: bool, kinds: frozenset[str]) -> Iterator[Candidate]:
    """Candidates of the ``kinds`` whose patterns hit in this buffer."""
    text = buf.text
    taken = _Taken()
    for m in _url_finditer(text) if "url" in kinds else ():
        cand = _url(m, buf, reader, uci)
        if cand is not None:
            taken.add(m.start(), m.end())
            yield cand
    for m in _EMAIL.finditer(text) if "email" in kinds else ():
        if taken.covers(m.start()):
            continue
        taken.add(m.start(), m.end())
        host = m.group("host").lower().rstrip(".")
        value = f"{m.group('local').lower()}@{host}"
        yield _make(buf, reader, uci, m.start(), m.end(), "email", value, host, None, None, "", m.group())
    for m in _IPV4.finditer(text) if "ipv4" in kinds or "url" in kinds else ():
        if taken.covers(m.start()):
            continue
        ip = m.group("ip")
        port = _port(m.group("port"))
        cidr = int(m.group("cidr")[1:]) if m.group("cidr") else None
        value = ip + (f"/{cidr}" if cidr is not None else "") + (f":{port}" if port else "")
        cand = _make(buf, reader, uci, m.start(), m.end(), "ipv4", value, ip, port, None, "", m.group())
        cand.cidr = cidr
        yield cand
    for m in _IPV6.finditer(text) if "ipv6" in kinds and ("::" in text or text.count(":") >= 7) else ():
        if taken.covers(m.start()):
            continue
        raw = m.group("ip")
        if raw.count(":") < 2 or raw in ("::",):
            continue
        try:
            addr = ipaddress.IPv6Address(raw)
        except ValueError:
            continue
        value = str(addr)
        yield _make(buf, reader, uci, m.start(), m.end(), "ipv6", value, value, None, None, "", raw)
    for m in _DOMAIN.finditer(text) if "domain" in kinds else ():
        if taken.covers(m.start()):
            continue
        host = m.group("host")
        if not names.public_suffix(host.lower()):
            continue
        port = _port(m.group("port"))
        lower = host.lower()
        value = lower + (f":{port}" if port else "")
        yield _make(buf, reader, uci, m.start(), m.end(), "domain", value, lower, port, None, "", m.group())


_SCHEME_MAX = max(map(len, SCHEMES))


def _url_finditer(text: str) -> Iterator[re.Match[str]]:
    """``_URL.finditer(text)``, trying only the few places just before a '://' (every match starts with a scheme
    of at most _SCHEME_MAX characters followed by '://'): the look-behind first makes a scan of every place slow."""
    pos = 0
    q = text.find("://")
    while q >= 0:
        for p in range(max(pos, q - _SCHEME_MAX), q):
            m = _URL.match(text, p)
            if m is not None:
                yield m
                pos = m.end()
                break
        q = text.find("://", max(q + 1, pos))


def _port(text: str | None) -> int | None:
    if not text:
        return None
    n = int(text)
    return n if 0 < n < 65536 else None


_TRAIL = ".,;:!?'\")]}>*"


def _url(m: re.Match[str], buf: _Buffer, reader: FileReader, uci: bool) -> Candidate | None:
    scheme = m.group("scheme").lower()
    rest = m.group("rest")
    while rest and rest[-1] in _TRAIL:
        if rest[-1] == ")" and rest.count("(") >= rest.count(")"):
            break
        rest = rest[:-1]
    cut = len(rest)
    for sep in "/?#":
        i = rest.find(sep)
        if 0 <= i < cut:
            cut = i
    authority, tail = rest[:cut], rest[cut:]
    userinfo = False
    if "@" in authority:
        userinfo = True
        authority = authority.rsplit("@", 1)[1]
    hm = _HOST_IN_URL.match(authority)
    if hm is None:
        host, port = authority.lower(), None
    else:
        host = (hm.group("v6") or hm.group("host") or "").lower().rstrip(".")
        port = _port(hm.group("port"))
    path = tail.split("?", 1)[0].split("#", 1)[0]
    shown_host = f"[{host}]" if ":" in host else host
    value = f"{scheme}://{shown_host}" + (f":{port}" if port else "") + path
    end = m.start() + len(m.group(0)) - (len(m.group("rest")) - len(rest))
    cand = _make(buf, reader, uci, m.start(), end, "url", value, host or None, port, scheme, path, m.group(0)[: end - m.start()])
    cand.userinfo = userinfo
    return cand


def _make(buf: _Buffer, reader: FileReader, uci: bool, start: int, end: int, kind: str, value: str,
          host: str | None, port: int | None, scheme: str | None, path: str, raw: str) -> Candidate:
    text = buf.text
    a, b = _line_bounds(text, start, end, buf.binary)
    line_text = text[a:b]
    rel_s, rel_e = start - a, end - a
    if len(line_text) > 2 * LINE_CLIP:
        lo = max(0, rel_s - LINE_CLIP)
        hi = min(len(line_text), rel_e + LINE_CLIP)
        line_text = line_text[lo:hi]
        rel_s -= lo
        rel_e -= lo
    before = tuple(_neighbours(text, a, buf.binary, -1))
    after = tuple(_neighbours(text, b, buf.binary, 1))
    offset = buf.base + buf.scale * start
    line = reader.line_of(offset) if buf.scale == 1 else None
    section = reader.uci_section(offset) if uci else None
    return Candidate(kind, value, host, port, scheme, path, offset, line, line_text, rel_s, rel_e, before, after,
                     section, False, raw)


def _line_bounds(text: str, start: int, end: int, binary: bool) -> tuple[int, int]:
    if binary:
        a = start
        while a > 0 and (" " <= text[a - 1] <= "~" or text[a - 1] == "\t"):
            a -= 1
        b = end
        while b < len(text) and (" " <= text[b] <= "~" or text[b] == "\t"):
            b += 1
        return a, b
    a = text.rfind("\n", 0, start) + 1
    b = text.find("\n", end)
    return a, (len(text) if b < 0 else b)


def _neighbours(text: str, pos: int, binary: bool, step: int) -> list[str]:
    """Up to three printable strings (binary) or lines (text) next to the line at ``pos`` (its start when
    ``step`` < 0, its end otherwise), nearest first."""
    out: list[str] = []
    if not binary:
        if step < 0:
            end = pos - 1
            while len(out) < 3 and end > 0:
                start = text.rfind("\n", 0, end) + 1
                out.append(text[start:end][-LINE_CLIP:])
                end = start - 1
        else:
            start = pos + 1
            while len(out) < 3 and start < len(text):
                end = text.find("\n", start)
                end = len(text) if end < 0 else end
                out.append(text[start:end][:LINE_CLIP])
                start = end + 1
        return out
    # printable strings separated by at most 32 other bytes
    if step < 0:
        starts, ends = _runs(text)
        i = pos
        while len(out) < 3:
            r = bisect.bisect_left(starts, i) - 1  # the last run that starts before i
            if r < 0:
                break
            s, e = starts[r], ends[r]
            if e < i and i - e > 32:
                break
            out.append(text[s:min(e, i)][-LINE_CLIP:])
            i = s
    else:
        i = pos
        while len(out) < 3:
            m = _NEXT_RUN.match(text, i)
            if m is None:
                break
            out.append(m.group(1)[:LINE_CLIP])
            i = m.end()
    return out


_NEXT_RUN = re.compile(r"[^\t -~]{0,32}([\t -~]+)")
_RUN = re.compile(r"[\t -~]+")
_last_runs: tuple[str, list[int], list[int]] = ("", [], [])


def _runs(text: str) -> tuple[list[int], list[int]]:
    """Starts and ends of the printable runs of ``text`` (kept for the last text: candidates of one buffer come
    one after the other)."""
    global _last_runs
    last = _last_runs
    if last[0] is not text:
        spans = [m.span() for m in _RUN.finditer(text)]
        last = _last_runs = (text, [a for a, _ in spans], [b for _, b in spans])
    return last[1], last[2]


def _printable(c: str) -> bool:
    return " " <= c <= "~" or c == "\t"
