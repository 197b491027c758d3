"""Version signatures of embedded software: the data in ``data/signatures.json`` made into one set of
Hyperscan anchors (matched over every byte of every file in the inventory's one pass) and the Python that
confirms a candidate and takes its version from the few bytes around it.

Three kinds of signature:

- ``anchor`` + ``version``: the version is in the banner the anchor found (``BusyBox v1.01 (...)``);
- ``anchor`` + ``literal``: the anchor says which program this is (``pppd version %s``) and the version is a
  stand-alone string literal of the same file (``2.4.3``), the one nearest to the anchor;
- ``path``: the file name carries the version (``libuClibc-0.9.30.so``).

A signature with ``"version": null`` names a component without a version.
"""

from __future__ import annotations

import bisect
import fnmatch
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from ..inventory import Inventory, Item, read_region
from ..patterns import Pattern, prefilter

PREFIX = "VER-CMP-sig/"
WINDOW = 256
"""Bytes read at an anchor to confirm it and take the version."""
MAX_CONFIRM = 6
"""Matches of one signature confirmed per file (they nearly always repeat the same banner)."""
LITERAL_READ_LIMIT = 8 * 2**20
_LITERAL = re.compile(rb"(?<=\x00)[0-9][0-9A-Za-z._+~-]{2,40}(?=\x00)")
_DEFAULT_KINDS = frozenset({"elf", "data"})


@dataclass(frozen=True, slots=True)
class Signature:
    component: str
    index: int
    anchor: bytes | None = None
    version: re.Pattern[bytes] | None = None
    literal: re.Pattern[str] | None = None
    path: re.Pattern[str] | None = None
    kinds: frozenset[str] = _DEFAULT_KINDS
    confidence: str | None = None
    branch_only: bool = False

    @property
    def pattern_id(self) -> str:
        return f"{PREFIX}{self.component}/{self.index}"

    @property
    def method(self) -> str:
        if self.path is not None:
            return "filename"
        return "literal" if self.literal is not None else "banner"


@dataclass(frozen=True, slots=True)
class Info:
    """What the knowledge says about one component."""

    key: str
    title: str
    cpes: tuple[tuple[str, str, str], ...]
    """(part, vendor, product), the first one reported, all used for matching."""
    purl_type: str
    purl_name: str
    type: str
    packages: tuple[str, ...]
    source: str
    signatures: tuple[Signature, ...] = field(default=())

    def owns_package(self, name: str) -> bool:
        n = name.lower()
        return any(fnmatch.fnmatchcase(n, glob) for glob in self.packages)


@dataclass(frozen=True, slots=True)
class Hit:
    """One piece of evidence that a component is in a file."""

    component: str
    version: str | None
    item: Item
    offset: int | None
    evidence: str
    method: str
    confidence: str
    branch_only: bool = False


@cache
def knowledge() -> dict[str, Info]:
    raw = json.loads(resources.files("veracity").joinpath("data/signatures.json").read_text())
    out: dict[str, Info] = {}
    for key, c in raw["components"].items():
        sigs = []
        for i, s in enumerate(c["signatures"]):
            kinds = frozenset(s.get("kinds", _DEFAULT_KINDS))
            common = {"component": key, "index": i, "kinds": kinds, "confidence": s.get("confidence"),
                      "branch_only": bool(s.get("branch_only", False))}
            if "path" in s:
                sigs.append(Signature(path=re.compile(s["path"]), version=None if "version" in s else _ANY, **common))
                continue
            anchor = s["anchor"].encode("latin-1")
            if "literal" in s:
                sigs.append(Signature(anchor=anchor, literal=re.compile(s["literal"]), **common))
            else:
                rx = s.get("version")
                sigs.append(Signature(anchor=anchor, version=re.compile(rx.encode("latin-1")) if rx else None, **common))
        cpes = []
        for cpe in c["cpe"]:
            part, vendor, product = cpe.split(":")
            cpes.append((part, vendor, product))
        ptype, pname = c["purl"].split("/", 1)
        out[key] = Info(key, c["title"], tuple(cpes), ptype, pname, c["type"], tuple(c["packages"]), c["source"],
                        tuple(sigs))
    return out


_ANY = re.compile(b"")  # marks a path signature whose first group is the version


@cache
def patterns() -> tuple[Pattern, ...]:
    return tuple(
        Pattern(sig.pattern_id, sig.anchor)
        for info in knowledge().values()
        for sig in info.signatures
        if sig.anchor is not None
    )


@cache
def _by_pattern() -> dict[str, Signature]:
    return {s.pattern_id: s for info in knowledge().values() for s in info.signatures if s.anchor is not None}


@cache
def _path_signatures() -> tuple[Signature, ...]:
    return tuple(s for info in knowledge().values() for s in info.signatures if s.path is not None)


@cache
def _path_database() -> Any:
    """The path signatures in one Hyperscan database (None when one of them is not for it: flags other than the
    default, or a pattern it cannot compile)."""
    sigs = _path_signatures()
    if not sigs or any(s.path.flags != re.UNICODE for s in sigs):  # type: ignore[union-attr]
        return None
    return prefilter((s.path.pattern for s in sigs), multiline=True)  # type: ignore[union-attr]


def path_signatures_ready() -> None:
    """Compile the path signatures' database now (see ComponentsCheck.warm)."""
    _path_database()


def _named(items: list[Item], sigs: tuple[Signature, ...]) -> dict[int, list[Signature]] | None:
    """For each file, the path signatures that may match its path, found in one Hyperscan pass over every path
    (one per line) instead of one regex search per signature per file; each is then confirmed by its regex. A path
    that is not plain ASCII, or holds a newline, is given every signature. None: try them all everywhere."""
    database = _path_database()
    if database is None:
        return None
    import pyperscan as ps

    out: dict[int, list[Signature]] = {}
    lines: list[str] = []
    starts: list[int] = []
    index: list[int] = []
    pos = 0
    for n, item in enumerate(items):
        path = item.node.path
        if not path.isascii() or "\n" in path:
            out[n] = list(sigs)
            continue
        lines.append(path)
        starts.append(pos)
        index.append(n)
        pos += len(path) + 1
    found: set[tuple[int, int]] = set()

    def hit(_ctx: None, tag: int, _start: int, end: int) -> Any:
        found.add((index[bisect.bisect_right(starts, max(end - 1, 0)) - 1], tag))
        return ps.Scan.Continue

    if lines:
        database.build(None, hit).scan("\n".join(lines).encode("ascii"))
    for n, tag in sorted(found):
        out.setdefault(n, []).append(sigs[tag])
    return out


class Identifier:
    """Turns the inventory's pattern matches and file names into :class:`Hit` values."""

    def __init__(self, inv: Inventory):
        self.inv = inv
        self._literals: dict[str, list[tuple[int, str]]] = {}

    def hits(self) -> Iterator[Hit]:
        sigs = _by_pattern()
        paths = _path_signatures()
        named = _named(self.inv.items, paths)
        for n, item in enumerate(self.inv.items):
            matches = item.facts.matched(PREFIX)
            if matches:
                yield from self._confirmed(item, matches, sigs)
            for sig in paths if named is None else named.get(n, ()):
                m = sig.path.search(item.node.path)  # type: ignore[union-attr]
                if m is None:
                    continue
                version = m.group(1) if sig.version is not None and m.groups() else None
                yield Hit(sig.component, version, item, None, item.node.path, "filename",
                          sig.confidence or ("medium" if version else "low"), sig.branch_only)

    def _confirmed(self, item: Item, matches, sigs: dict[str, Signature]) -> Iterator[Hit]:
        """:meth:`_confirm`, kept by content in the inventory cache (a file's hits depend on its bytes only)."""
        key = f"{item.facts.sha256}|{item.facts.kind}"
        kept = self.inv.recall(CACHE_NAMESPACE, key)
        if not _valid_kept(kept):
            kept = [[h.component, h.version, h.offset, h.evidence, h.method, h.confidence, h.branch_only]
                    for h in self._confirm(item, matches, sigs)]
            self.inv.keep(CACHE_NAMESPACE, key, kept)
        for component, version, offset, evidence, method, confidence, branch_only in kept:
            yield Hit(component, version, item, offset, evidence, method, confidence, branch_only)

    def _confirm(self, item: Item, matches, sigs: dict[str, Signature]) -> Iterator[Hit]:
        seen: dict[str, int] = {}
        for pid, start, _end in matches:
            sig = sigs.get(pid)
            if sig is None or item.facts.kind not in sig.kinds:
                continue
            n = seen.get(pid, 0)
            if n >= MAX_CONFIRM:
                continue
            seen[pid] = n + 1
            window = read_region(item, start, WINDOW)
            evidence = _printable(window)
            if sig.literal is not None:
                version = self._literal(item, sig.literal, start)
                yield Hit(sig.component, version, item, start, evidence, "literal",
                          sig.confidence or "low", sig.branch_only)
                seen[pid] = MAX_CONFIRM  # one literal answer per file
                continue
            if sig.version is None:
                yield Hit(sig.component, None, item, start, evidence, "banner", sig.confidence or "low")
                seen[pid] = MAX_CONFIRM
                continue
            m = sig.version.match(window)
            if m is None:
                continue
            yield Hit(sig.component, m.group(1).decode("latin-1"), item, start, evidence, "banner",
                      sig.confidence or "medium", sig.branch_only)

    def _literal(self, item: Item, rx: re.Pattern[str], anchor: int) -> str | None:
        best: tuple[int, str] | None = None
        for offset, text in self.literals(item):
            m = rx.fullmatch(text)
            if m is None:
                continue
            distance = abs(offset - anchor)
            if best is None or distance < best[0]:
                best = (distance, m.group(1))
        return best[1] if best else None

    def literals(self, item: Item) -> list[tuple[int, str]]:
        """Stand-alone, NUL-delimited strings of a file that start with a digit (version literals)."""
        sha = item.facts.sha256
        hit = self._literals.get(sha)
        if hit is not None:
            return hit
        out: list[tuple[int, str]] = []
        budget = LITERAL_READ_LIMIT
        if item.facts.text is not None:
            ranges: tuple[tuple[int, int], ...] = ((0, min(item.facts.size, budget)),)
        else:
            ranges = item.facts.string_ranges
        for start, length in ranges:
            pos = start
            end = start + min(length, budget)
            while pos < end and budget > 0:
                chunk = read_region(item, max(0, pos - 1), min(end - pos + 1, 2**20))
                if not chunk:
                    break
                base = max(0, pos - 1)
                out.extend((base + m.start(), m.group().decode("ascii")) for m in _LITERAL.finditer(chunk))
                budget -= len(chunk)
                pos = base + len(chunk)
                if len(chunk) < 2:
                    break
        self._literals[sha] = out
        return out


CACHE_NAMESPACE = "component-signatures"


def _valid_kept(kept: object) -> bool:
    known = knowledge()
    return isinstance(kept, list) and all(
        isinstance(h, list) and len(h) == 7 and h[0] in known and (h[1] is None or isinstance(h[1], str))
        and (h[2] is None or isinstance(h[2], int)) and isinstance(h[3], str) and isinstance(h[4], str)
        and h[5] in ("low", "medium", "high") and isinstance(h[6], bool)
        for h in kept)


def _printable(window: bytes) -> str:
    """The banner text at the start of a window: up to the first NUL or line break, at most 120 chars."""
    text = re.split(rb"[\x00\n\r]", window, maxsplit=1)[0][:120]
    return text.decode("latin-1").strip()
