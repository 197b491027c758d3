"""Every literal/regex rule of every check in one Hyperscan database, matched in one pass per file.

Checks declare ``PATTERNS`` (a tuple of :class:`Pattern`); the inventory compiles the union once per
scan and records, for each file, which pattern matched where. Adding a rule costs no extra pass over the
data. (A pattern may ask for a database of its own, ``Pattern.database``: Hyperscan picks its matching engines
for a database as a whole, and a few patterns that are cheap alone make a shared database several times slower.
One more pass over data already in memory costs less.) Matches are capped per pattern and file (``MAX_PER_PATTERN``) so a pattern that fires on every
line of a big binary cannot flood memory; the cap is recorded.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_PER_PATTERN = 32

_DATABASES: dict[str, Any] = {}
"""Compiled Hyperscan databases by pattern-set digest: compiling costs a fifth of a second, and a process that
scans many images (a batch worker, the web server's) compiles the same set once. A database is immutable and
shared; each :class:`PatternSet` has a scanner (and scratch space) of its own."""
_DATABASES_LOCK = threading.Lock()
_DATABASES_KEPT = 4


@dataclass(frozen=True, slots=True)
class Pattern:
    id: str
    """Unique across all checks, e.g. ``VER-BKD-003/user-agent``."""
    regex: bytes
    """Hyperscan syntax (a PCRE subset: no back-references, no look-around)."""
    caseless: bool = False
    multiline: bool = False
    first_only: bool = False
    """Report only the first match in a file, and no start offset (fastest: Hyperscan SINGLEMATCH)."""
    database: int = 0
    """The database of the set it is compiled into (0: the shared one). Only for a pattern measured to slow the
    others down; the matches are the same whatever the database."""
    cap_group: str = ""
    """Patterns whose matches are used together, or not at all: once one of them passes the cap in a file, its
    check reads that file whole itself (``FileFacts.capped`` says which), so the group's other matches are not
    needed. The pass then stops a database that holds only this group, and skips the group's databases still to
    come. A big file full of addresses then costs 32 matches per pattern, not a callback for each of them."""


@dataclass(slots=True)
class _Hits:
    out: list[tuple[int, int, int]] = field(default_factory=list)
    counts: dict[int, int] = field(default_factory=dict)
    capped: set[int] = field(default_factory=set)
    groups: tuple[str, ...] = ()
    """The cap group of each pattern, by tag."""
    closed: set[str] = field(default_factory=set)
    """The groups whose matches are no longer collected in this file."""
    alone: str = ""
    """The group the database being scanned holds alone ("" if none)."""
    go: Any = None
    stop: Any = None
    """Hyperscan's answers to a match: go on, stop this database."""


class PatternSet:
    def __init__(self, patterns: Iterable[Pattern]):
        self.patterns: tuple[Pattern, ...] = tuple(sorted(patterns, key=lambda p: p.id))
        ids = [p.id for p in self.patterns]
        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"duplicate pattern ids: {dupes}")
        h = hashlib.sha256()
        for p in self.patterns:
            h.update(repr(p).encode())
        self.digest = h.hexdigest()[:16]
        self._scanners: list[Any] | None = None
        self._ids = [p.id for p in self.patterns]
        self._hits = _Hits(groups=tuple(p.cap_group for p in self.patterns))
        self._alone: list[str] = []
        for n in sorted({p.database for p in self.patterns}):  # the order of the databases, see _compile
            groups = {p.cap_group for p in self.patterns if p.database == n}
            self._alone.append(next(iter(groups)) if len(groups) == 1 else "")

    def __len__(self) -> int:
        return len(self.patterns)

    def prepare(self) -> None:
        """Compile now (before a fork, so that a child scans with the same compiled database)."""
        if self.patterns and self._scanners is None:
            self._scanners = self._build()

    def _build(self) -> list[Any]:
        import pyperscan as ps

        self._hits.go, self._hits.stop = ps.Scan.Continue, ps.Scan.Terminate
        return [db.build(self._hits, _on_match) for db in self._databases()]

    def _databases(self) -> list[Any]:
        with _DATABASES_LOCK:
            dbs = _DATABASES.get(self.digest)
            if dbs is None:
                dbs = _DATABASES[self.digest] = self._compile()
                while len(_DATABASES) > _DATABASES_KEPT:
                    del _DATABASES[next(iter(_DATABASES))]
            return dbs

    def _compile(self) -> list[Any]:
        import pyperscan as ps

        compiled: dict[int, list[Any]] = {}
        for index, p in enumerate(self.patterns):
            flags = [ps.Flag.DOTALL]
            flags.append(ps.Flag.SINGLEMATCH if p.first_only else ps.Flag.SOM_LEFTMOST)
            if p.caseless:
                flags.append(ps.Flag.CASELESS)
            if p.multiline:
                flags.append(ps.Flag.MULTILINE)
            # the tag is the index in the whole set: the matches of every database land in one list
            compiled.setdefault(p.database, []).append(ps.Pattern(p.regex, *flags, tag=index))
        return [ps.BlockDatabase(*compiled[n]) for n in sorted(compiled)]

    def scan(self, data) -> tuple[tuple[tuple[str, int, int], ...], tuple[str, ...]]:
        """(pattern id, start, end) of every match, in offset order, and the ids that hit the cap."""
        if not self.patterns or not len(data):
            return (), ()
        if self._scanners is None:
            self._scanners = self._build()
        hits = self._hits
        hits.out, hits.counts, hits.capped, hits.closed = [], {}, set(), set()
        for scanner, alone in zip(self._scanners, self._alone, strict=True):
            if alone and alone in hits.closed:
                continue
            hits.alone = alone
            scanner.scan(data)
        ids = self._ids
        out = [(ids[i], s, e) for i, s, e in hits.out]
        out.sort(key=lambda m: (m[1], m[2], m[0]))
        return tuple(out), tuple(sorted(self.patterns[i].id for i in hits.capped))


def prefilter(regexes: Iterable[str], multiline: bool = False) -> Any | None:
    """Python regular expressions (ASCII, default flags) in one Hyperscan database, each tagged by its position,
    for a prefilter that tells which of them may match a text in one pass (each is then confirmed by its regex,
    over ASCII text only, where both read a pattern alike); None when one of them is not for Hyperscan."""
    import pyperscan as ps

    flags = [ps.Flag.MULTILINE] if multiline else [ps.Flag.SINGLEMATCH]
    try:
        return ps.BlockDatabase(*(ps.Pattern(rx.encode("ascii"), *flags, tag=i) for i, rx in enumerate(regexes)))
    except Exception:  # noqa: BLE001 - a pattern Hyperscan does not take: the caller tries every regex
        return None


def _on_match(hits: _Hits, tag: int, start: int, end: int):
    n = hits.counts.get(tag, 0)
    if n < MAX_PER_PATTERN:
        hits.counts[tag] = n + 1
        hits.out.append((tag, start, end))
        return hits.go
    hits.capped.add(tag)
    group = hits.groups[tag]
    if group:
        hits.closed.add(group)
        if group == hits.alone:
            return hits.stop
    return hits.go
