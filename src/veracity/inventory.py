"""The only place that reads file contents: one read per file, facts cached by content hash.

For each regular file of every unpacked tree: sha256, kind (ELF with its arch, script with its
interpreter, text, key/certificate material, archive, data), ELF facts through lief (validated, since
lief does not raise on garbage), the text of text files, the ranges of binaries where strings live, and the
matches of every check pattern (one Hyperscan pass), ready for
the checks. Facts depend only on content, so they are cached by sha256: identical files in one image,
a second scan and a fleet of versions cost one analysis.
"""

from __future__ import annotations

import bisect
import codecs
import hashlib
import json
import mmap
import os
import re
import sqlite3
import sys
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache
from pathlib import Path
from typing import Any

from . import parallel
from .findings import Finding
from .patterns import PatternSet
from .tree import Node, Tree, by_fields, head_of, on_disk
from .unpack import native, rules

INVENTORY_VERSION = "1"
TEXT_LIMIT = 4 * 2**20
"""Text files up to this size are kept in full for the checks."""
TEXT_BUDGET = 256 * 2**20
"""Texts kept in memory for the checks, over all unique files of one scan."""
SCAN_LIMIT = 64 * 2**20
"""Strings are taken from at most this many bytes of one file."""
MIN_STRING = 5
DATA_STRINGS_LIMIT = 2**20
"""Strings of non-ELF binary data come from its first MiB; patterns still see every byte (up to SCAN_LIMIT)."""
_STRING_SECTIONS = (".rodata", ".data", ".data.rel.ro", ".dynstr", ".comment")

_STRINGS = re.compile(rf"[\x20-\x7e\t]{{{MIN_STRING},}}")
"""Over a range decoded as latin-1 (a character per byte, offsets kept): a quarter faster than over the bytes and
decoding each string."""
_STRINGS_OF_NUL = re.compile(rf"[^\x00]{{{MIN_STRING},}}")
"""The same over a range whose bytes that are not printable ASCII or a tab were made NUL (``_PRINTABLE_OR_NUL``): a
fifth faster (a negated single character is the cheapest class for re to repeat), for two copies of the range."""
_PRINTABLE_OR_NUL = bytes(b if 0x20 <= b <= 0x7E or b == 0x09 else 0 for b in range(256))
_COPIED_RANGE = 8 * 2**20
"""Ranges up to this size are copied to be translated (bounded memory); larger ones are searched as they are."""
_PRIVATE_KEY = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")
_CERT = b"-----BEGIN CERTIFICATE-----"
_DROPBEAR_KEY = (b"\x00\x00\x00\x07ssh-rsa", b"\x00\x00\x00\x07ssh-dss", b"\x00\x00\x00\x13ecdsa-sha2-", b"\x00\x00\x00\x0bssh-ed25519")

_EM = {
    3: "x86", 8: "mips", 10: "mips", 20: "powerpc", 21: "powerpc64", 40: "arm", 42: "superh", 62: "x86_64",
    183: "aarch64", 243: "riscv", 92: "openrisc", 94: "xtensa", 164: "hexagon", 258: "loongarch",
}
_ELF_TYPES = {1: "relocatable", 2: "executable", 3: "shared-object", 4: "core"}


@dataclass(frozen=True, slots=True)
class ElfFacts:
    arch: str
    bits: int
    endian: str
    type: str
    interpreter: str | None = None
    needed: tuple[str, ...] = ()
    soname: str | None = None
    stripped: bool = False
    nx: bool | None = None
    pie: bool | None = None
    relro: str | None = None
    """"full", "partial" or "none"."""
    canary: bool | None = None
    fortify: bool | None = None
    imports: tuple[str, ...] = ()

    def __reduce__(self) -> tuple[type, tuple]:
        return by_fields(self)


@dataclass(frozen=True, slots=True)
class FileFacts:
    sha256: str
    size: int
    kind: str
    """elf, script, text, private-key, certificate, archive, data, empty."""
    detail: str = ""
    interpreter: str | None = None
    elf: ElfFacts | None = None
    text: str | None = None
    string_ranges: tuple[tuple[int, int], ...] = ()
    """(offset, length) of the parts of a binary whose printable strings checks may want: read-only data
    sections of an ELF, the first MiB of other binary data. Strings are extracted on demand
    (``Inventory.strings``): patterns already saw every byte, and extracting strings eagerly from every
    binary costs more than the rest of the inventory together."""
    truncated: bool = False
    error: str | None = None
    matches: tuple[tuple[str, int, int], ...] = ()
    """(pattern id, start, end) of every check pattern that matched, from the one Hyperscan pass."""
    capped: tuple[str, ...] = ()
    """Pattern ids that matched more often than the per-file cap."""

    def __reduce__(self) -> tuple[type, tuple]:
        return by_fields(self)

    def matched(self, prefix: str) -> list[tuple[str, int, int]]:
        """Matches of the patterns whose id starts with ``prefix``."""
        return [m for m in self.matches if m[0].startswith(prefix)]

    def to_json(self) -> str:
        # field by field (json writes tuples as lists, as asdict would give them): asdict copies every tuple
        # deeply, and a cold scan writes thousands of these to the cache (0.85 s for 9,000 files)
        d = {name: getattr(self, name) for name in _FACTS_FIELDS}
        if self.elf is not None:
            d["elf"] = {name: getattr(self.elf, name) for name in _ELF_FIELDS}
        return json.dumps(d, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> FileFacts:
        d = json.loads(raw)
        elf = d.pop("elf")
        if elf is not None:
            elf = ElfFacts(**{k: tuple(v) if isinstance(v, list) else v for k, v in elf.items()})
        d["string_ranges"] = tuple((o, n) for o, n in d["string_ranges"])
        d["matches"] = tuple((i, a, b) for i, a, b in d.get("matches", ()))
        d["capped"] = tuple(d.get("capped", ()))
        return cls(elf=elf, **d)


_FACTS_FIELDS = tuple(f.name for f in fields(FileFacts))
_ELF_FIELDS = tuple(f.name for f in fields(ElfFacts))


@dataclass(frozen=True, slots=True)
class Item:
    tree: Tree
    node: Node
    facts: FileFacts


@dataclass(slots=True)
class Inventory:
    """What the checks read: every tree, and every regular file with its facts. Checks never read files."""

    trees: list[Tree]
    items: list[Item] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    cache_hits: int = 0
    analysed: int = 0
    _index: dict[tuple[int, str], Item] = field(default_factory=dict)
    _strings: dict[str, tuple[tuple[int, str], ...]] = field(default_factory=dict)
    _sorted: list[tuple[str, int]] | None = None
    cache: Cache | None = None
    """Where checks keep per-file results (:meth:`recall`, :meth:`keep`); None: nothing is kept."""
    prefetched: dict[tuple[str, str], Any] = field(default_factory=dict)
    """Per-file results of this scan worked out ahead by another process (see checks.runner), by
    (namespace, key): recalled like the kept ones."""

    def recall(self, namespace: str, key: str) -> Any:
        """A per-file result worked out ahead in this scan, or kept in an earlier one (see :meth:`Cache.result`);
        None when there is none."""
        hit = self.prefetched.get((namespace, key))
        if hit is not None:
            return hit
        return self.cache.result(namespace, key) if self.cache is not None else None

    def keep(self, namespace: str, key: str, value: Any) -> None:
        if self.cache is not None:
            self.cache.keep(namespace, key, value)

    def flush(self) -> None:
        if self.cache is not None:
            self.cache.flush()

    def add(self, item: Item) -> None:
        self.items.append(item)
        self._index[(id(item.tree), item.node.path)] = item

    def by_path(self, path: str) -> list[Item]:
        """Every file at ``path`` in any tree, symbolic links resolved inside each tree."""
        out = []
        for tree in self.trees:
            item = self.item(tree, path)
            if item is not None:
                out.append(item)
        return out

    def item(self, tree: Tree, path: str) -> Item | None:
        """The file at ``path`` of ``tree`` (links followed inside the tree only), or None."""
        hit = self._index.get((id(tree), path))
        if hit is not None:
            return hit
        node = tree.resolve(path)
        if node is None or node.kind != "file":
            return None
        return self._index.get((id(tree), node.path))

    def strings(self, item: Item) -> tuple[tuple[int, str], ...]:
        """Printable strings (offset, text) of a binary's ``string_ranges``, extracted on first request and
        kept by content hash. Text files have ``facts.text`` instead."""
        facts = item.facts
        hit = self._strings.get(facts.sha256)
        if hit is not None:
            return hit
        out: tuple[tuple[int, str], ...] = ()
        if facts.string_ranges and item.node.disk_path:
            try:
                fd = os.open(on_disk(item.node), os.O_RDONLY | os.O_NOFOLLOW)  # type: ignore[arg-type]
            except OSError:
                return ()
            try:
                if os.fstat(fd).st_size:
                    with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as data:
                        out = strings_in(data, facts.string_ranges)
            finally:
                os.close(fd)
        self._strings[facts.sha256] = out
        return out

    def glob(self, pattern: str, tree: Tree | None = None) -> Iterator[Item]:
        """Files whose path matches a shell pattern (``*`` does not cross ``/``, ``**/`` does), in report
        order; only those of ``tree`` when given. Only paths sharing the pattern's literal prefix are
        tested (a bisection in a sorted index), so checks may glob per tree over large images."""
        if self._sorted is None or len(self._sorted) != len(self.items):
            self._sorted = sorted((item.node.path, n) for n, item in enumerate(self.items))
        rx = _glob_regex(pattern)
        cut = min((pattern.find(c) for c in "*?[" if c in pattern), default=len(pattern))
        prefix = pattern[:cut]
        start = bisect.bisect_left(self._sorted, (prefix, -1))
        hits = []
        for path, n in self._sorted[start:]:
            if not path.startswith(prefix):
                break
            item = self.items[n]
            if (tree is None or item.tree is tree) and rx.match(path):
                hits.append(n)
        return (self.items[n] for n in sorted(hits))


@cache
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        out.append("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


class _Memo:
    """What this process read from or wrote to a cache file, by key, most recent last, within a byte budget. A
    process that scans many images (a batch worker, the web server) meets most files again in the next version of
    a product: a look-up in memory instead of a query, a decompression and a decoding (0.15 s of a warm scan of a
    15 MB image). Every value is a function of its key (content hash, code digest, patterns), so a value kept here
    is the one the file holds; values are immutable facts, or the encoded JSON of a result (each recall decodes a
    copy of its own)."""

    def __init__(self, budget: int):
        self.budget = budget
        self.size = 0
        self.data: dict[str, tuple[Any, int]] = {}
        self.lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self.lock:
            hit = self.data.pop(key, None)
            if hit is None:
                return None
            self.data[key] = hit  # the most recent last (dicts keep their order)
            return hit[0]

    def put(self, key: str, value: Any, size: int) -> None:
        if size > self.budget:
            return
        with self.lock:
            old = self.data.pop(key, None)
            if old is not None:
                self.size -= old[1]
            self.data[key] = (value, size)
            self.size += size
            while self.size > self.budget and self.data:
                self.size -= self.data.pop(next(iter(self.data)))[1]


MEMO_BYTES = 64 * 2**20
"""What the memory of cache reads may hold in a process that scans many images (see :func:`remember`)."""
_MEMO = _Memo(0)
"""Off (a budget of 0) unless the process scans many images: one scan gains nothing from it."""


def remember(budget: int = MEMO_BYTES) -> None:
    """Keep what the cache gives and takes in memory, for the next scans of this process (see _Memo)."""
    global _MEMO
    if _MEMO.budget != budget:
        _MEMO = _Memo(budget)


class Cache:
    """Facts by (sha256, inventory version, pattern set) in one SQLite file; None path = no cache. In a process that
    scans many images (:func:`remember`), reads and writes are kept in memory as well, for its next scans."""

    def __init__(self, path: Path | None):
        self.db: sqlite3.Connection | None = None
        self.salt = INVENTORY_VERSION
        self.path = path
        self.pid = os.getpid()
        self.pending: list[tuple[str, bytes]] = []
        self.pending_facts: list[tuple[str, bytes]] = []
        self.pending_packed: list[tuple[str, str, int, int]] = []
        self.pending_streams: list[tuple[str, str, str, int, int]] = []
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=10)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS facts (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
            self.db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
            self.db.execute("CREATE TABLE IF NOT EXISTS packed (key TEXT PRIMARY KEY, sha256 TEXT NOT NULL, "
                            "size INTEGER NOT NULL, head INTEGER NOT NULL)")
            self.db.execute("CREATE TABLE IF NOT EXISTS streams (key TEXT PRIMARY KEY, format TEXT NOT NULL, "
                            "sha256 TEXT NOT NULL, size INTEGER NOT NULL, head INTEGER NOT NULL)")
        except sqlite3.Error:
            self.db = None

    # -- per-file results of checks ----------------------------------------------------------------------
    # A check that spends time on each file keeps what it found there by content (and whatever else its answer
    # depends on) so that identical files in the next scan or the next version cost a look-up. The key carries
    # a digest of veracity's own code and data: any change to them starts afresh. A forked child (see
    # checks.runner) never touches the connection it inherited: it opens its own for reading and writing.

    def _conn(self) -> sqlite3.Connection | None:
        if self.db is None or self.pid == os.getpid():
            return self.db
        # the inherited connection must be neither used nor closed here (closing it would checkpoint the
        # parent's WAL under its feet): it is kept referenced until this process ends with os._exit
        _INHERITED.append(self.db)
        try:
            self.db = sqlite3.connect(self.path, timeout=10)  # type: ignore[arg-type]
        except sqlite3.Error:
            self.db = None
        self.pid = os.getpid()
        return self.db

    def _memo_key(self, table: str, key: str) -> str:
        return f"{self.path}\0{table}\0{key}"

    def result(self, namespace: str, key: str) -> Any:
        """What a check kept for ``key`` (JSON-decoded), or None."""
        db = self._conn()
        if db is None:
            return None
        full = _result_key(namespace, key)
        data = _MEMO.get(self._memo_key("results", full))
        try:
            if data is None:
                row = db.execute("SELECT value FROM results WHERE key = ?", (full,)).fetchone()
                if row is None:
                    return None
                data = zlib.decompress(row[0])
                _MEMO.put(self._memo_key("results", full), data, len(data) + 200)
            return json.loads(data)
        except (sqlite3.Error, zlib.error, ValueError):
            return None

    def keep(self, namespace: str, key: str, value: Any) -> None:
        """Keep a JSON-serialisable ``value`` for ``key``; written by :meth:`flush`."""
        if self.db is not None:
            data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
            full = _result_key(namespace, key)
            self.pending.append((full, zlib.compress(data, 1)))
            _MEMO.put(self._memo_key("results", full), data, len(data) + 200)

    def commit(self) -> None:
        self._write_facts()

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        self._write(("INSERT OR REPLACE INTO results VALUES (?, ?)", pending))

    def _write(self, *batches: tuple[str, list[tuple]]) -> None:
        """Rows for several tables in one short write transaction: scans sharing the cache (a batch, the checks'
        child) never wait long for each other; a failed write loses only what the cache would have saved."""
        db = self._conn()
        if db is None or not any(rows for _sql, rows in batches):
            return
        try:
            for sql, rows in batches:
                db.executemany(sql, rows)
            db.commit()
        except sqlite3.Error:
            try:
                db.rollback()
            except sqlite3.Error:
                pass

    def get(self, sha256: str) -> FileFacts | None:
        if self.db is None:
            return None
        key = f"{self.salt}:{sha256}"
        hit = _MEMO.get(self._memo_key("facts", key))
        if hit is not None:
            return hit
        row = self.db.execute("SELECT value FROM facts WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            text = zlib.decompress(row[0]).decode()
            facts = FileFacts.from_json(text)
        except (zlib.error, ValueError, TypeError, KeyError):
            return None
        _MEMO.put(self._memo_key("facts", key), facts, 2 * len(text) + 400)
        return facts

    def put(self, facts: FileFacts) -> None:
        if self.db is None:
            return
        text = facts.to_json()
        key = f"{self.salt}:{facts.sha256}"
        self.pending_facts.append((key, zlib.compress(text.encode(), 1)))
        _MEMO.put(self._memo_key("facts", key), facts, 2 * len(text) + 400)
        if len(self.pending_facts) >= 128:
            self._write_facts()

    # -- files by their packed bytes (see unpack.engine.Packed) -----------------------------------------

    def packed_get(self, key: str) -> tuple[str, int, bool] | None:
        """(sha256, size, head says container) of the file an image stores as ``key``, if a scan saw it and
        its facts are still here (without them the file must be read anyway)."""
        row = self._known("SELECT sha256, size, head FROM packed WHERE key = ?", key, 0)
        return None if row is None else (row[0], row[1], bool(row[2]))

    def stream_get(self, sha256: str) -> tuple[str, str, int, bool] | None:
        """(format, sha256, size, head says container) of what the compressed stream ``sha256`` holds, as an
        earlier scan unpacked it cleanly, if its facts are still here."""
        row = self._known("SELECT format, sha256, size, head FROM streams WHERE key = ?", sha256, 1)
        return None if row is None else (row[0], row[1], row[2], bool(row[3]))

    def _known(self, query: str, key: str, sha_column: int) -> tuple | None:
        """The row of ``query`` for ``key`` (under this build's code digest) whose content's facts are cached."""
        db = self._conn()
        if db is None:
            return None
        memo_key = self._memo_key(query, f"{code_digest()}:{key}")
        row = _MEMO.get(memo_key)
        if row is not None:
            return row
        try:
            row = db.execute(query, (f"{code_digest()}:{key}",)).fetchone()
            if row is None or not isinstance(row[sha_column], str) or not isinstance(row[sha_column + 1], int):
                return None
            facts_key = f"{self.salt}:{row[sha_column]}"
            if _MEMO.get(self._memo_key("facts", facts_key)) is None and db.execute(
                    "SELECT 1 FROM facts WHERE key = ?", (facts_key,)).fetchone() is None:
                return None
        except sqlite3.Error:
            return None
        _MEMO.put(memo_key, tuple(row), 300)
        return row

    def stream_put(self, outer: str, fmt: str, sha256: str, size: int, head: bool) -> None:
        if self.db is not None:
            self.pending_streams.append((f"{code_digest()}:{outer}", fmt, sha256, size, int(head)))

    def packed_put(self, key: str, sha256: str | None, size: int, head: bool) -> None:
        if self.db is not None and sha256:
            self.pending_packed.append((f"{code_digest()}:{key}", sha256, size, int(head)))

    def _write_facts(self) -> None:
        facts, self.pending_facts = self.pending_facts, []
        packed, self.pending_packed = self.pending_packed, []
        streams, self.pending_streams = self.pending_streams, []
        self._write(("INSERT OR REPLACE INTO facts VALUES (?, ?)", facts),
                    ("INSERT OR REPLACE INTO packed VALUES (?, ?, ?, ?)", packed),
                    ("INSERT OR REPLACE INTO streams VALUES (?, ?, ?, ?, ?)", streams))

    def close(self) -> None:
        if self.db is not None:
            self._write_facts()
            self.flush()
            try:
                self.db.commit()
            finally:
                self.db.close()
                self.db = None


_INHERITED: list[sqlite3.Connection] = []


def facts_salt(patterns: PatternSet) -> str:
    """What cached facts depend on beside the content: the inventory's version and the pattern set."""
    return f"{INVENTORY_VERSION}:{patterns.digest}"


@cache
def code_digest() -> str:
    """Digest of veracity's code and data as installed: results kept by an older build are never used."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
            h.update(str(p.relative_to(root)).encode() + b"\0")
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _result_key(namespace: str, key: str) -> str:
    return f"{namespace}:{code_digest()}:{key}"


def default_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "veracity" / "inventory.sqlite"


def build(
    trees: list[Tree],
    cache: Cache,
    progress: Callable[[int, int], None] | None = None,
    patterns: PatternSet | None = None,
    known: Mapping[str, FileFacts] | None = None,
) -> Inventory:
    """The inventory of ``trees``. ``known``: facts of files already analysed in this scan (by their place on disk,
    see veracity.ahead), with their text left in the file (:data:`TEXT_LEFT`)."""
    patterns = patterns or PatternSet(())
    known = known or {}
    cache.salt = facts_salt(patterns)
    inv = Inventory(trees, cache=cache)
    memo: dict[str, FileFacts] = {}
    kept = dropped = dropped_bytes = 0
    seen_text: set[str] = set()
    todo = [(tree, node) for tree in trees for node in tree.nodes.values() if node.kind == "file" and node.disk_path]
    todo.sort(key=lambda tn: (tn[0].container, tn[1].path))
    ahead = _analyse_ahead([node for _, node in todo], cache, memo, patterns, known)
    for n, (tree, node) in enumerate(todo):
        if progress and n % 64 == 0:
            progress(n, len(todo))
        facts = _facts_for(node, cache, memo, inv, patterns, ahead.get(n) or known.get(node.disk_path or ""))
        if facts.text is not None and facts.sha256 not in seen_text:
            # memory stays bounded whatever the image: past the budget, a text is not kept (checks get its
            # strings on demand instead), and the report says how much
            seen_text.add(facts.sha256)
            if kept + facts.size > TEXT_BUDGET:
                facts = replace(facts, text=None, string_ranges=((0, min(facts.size, DATA_STRINGS_LIMIT)),))
                memo[facts.sha256] = facts
                dropped += 1
                dropped_bytes += facts.size
            else:
                kept += facts.size
        if facts.error:
            inv.findings.append(
                rules.UNREADABLE.finding(path=node.path, container=tree.container, evidence=facts.error)
            )
        if facts.truncated:
            inv.findings.append(
                rules.UNREADABLE.finding(
                    path=node.path, container=tree.container,
                    evidence=f"{facts.size} bytes; patterns matched over the first {SCAN_LIMIT} bytes only",
                    key="truncated",
                )
            )
        if node.sha256 != facts.sha256:
            node = replace(node, sha256=facts.sha256)
            tree.nodes[node.path] = node
        inv.add(Item(tree, node, facts))
    if dropped:
        inv.findings.append(
            rules.LIMIT_HIT.finding(
                path=None, container=trees[0].container[:1] if trees else (),
                evidence=f"text of {dropped} files ({dropped_bytes} bytes) not kept past the {TEXT_BUDGET} byte "
                "memory budget; checks saw only their strings", key="text-budget",
            )
        )
    cache.commit()  # no write transaction stays open while the checks (and their child) keep results
    return inv


PARALLEL_BYTES = 8 * 2**20
"""Below this much content to analyse, a second process costs more than it saves."""
SHARES = 32
"""Shares of the files to analyse, taken by this process and its child in turn (see veracity.parallel)."""


def unknown(nodes: list[Node], cache: Cache, memo: dict[str, FileFacts],
            known: Mapping[str, FileFacts] | None = None) -> tuple[list[int], int]:
    """The indexes in ``nodes`` of the files whose content neither ``known`` (by place on disk), ``memo``, nor the
    cache knows, the first of each content only; and their bytes. Facts found in the cache go to ``memo``."""
    work: list[int] = []
    seen: set[str] = set()
    total = 0
    for n, node in enumerate(nodes):
        if known and node.disk_path in known:
            continue
        if node.sha256:
            if node.sha256 in seen or node.sha256 in memo:
                continue
            hit = cache.get(node.sha256)
            if hit is not None:
                memo[node.sha256] = hit
                continue
            seen.add(node.sha256)
        work.append(n)
        total += node.size
    return work, total


def written(nodes: list[Node], work: list[int]) -> list[int]:
    """Those of ``work`` whose file is on disk, a file recorded for later written now (by this process, once)."""
    ready = []
    for n in work:
        try:
            on_disk(nodes[n])
        except OSError:
            continue  # said by the inventory, which cannot write it either
        ready.append(n)
    return ready


def prepare(nodes: Iterable[Node], patterns: PatternSet) -> None:
    """Compile the patterns and import lief (when an ELF file is among ``nodes``) now, before a fork: once here
    rather than in both processes (lief takes 0.4 s to import)."""
    patterns.prepare()
    if "lief" in sys.modules or any(head_of(node, 4) == b"\x7fELF" for node in nodes):
        import lief  # noqa: F401  (already loaded: nothing read, nothing done)


def _analyse_ahead(nodes: list[Node], cache: Cache, memo: dict[str, FileFacts], patterns: PatternSet,
                   known: Mapping[str, FileFacts] | None = None) -> dict[int, FileFacts]:
    """Facts of the files no earlier scan knows, by their index in ``nodes``, worked out by this process and a
    forked child together (the files are written here first). Empty when there is too little to share, or no
    child; a file that fails here is analysed again, and its problem reported, by the caller."""
    work, total = unknown(nodes, cache, memo, known)
    if total < PARALLEL_BYTES or len(work) < 2 or not parallel.may_fork():
        return {}
    ready = written(nodes, work)
    parts = parallel.shares(ready, [float(nodes[n].size) + 4096 for n in ready], SHARES)
    prepare((nodes[n] for n in ready), patterns)

    def task(part: int) -> dict[int, FileFacts]:
        out = {}
        for n in parts[part]:
            facts = analyse_file(nodes[n], patterns)
            if facts is not None:
                # a text travels back as the file it is in, read again when its facts are taken (a copy
                # through the pipe costs more than reading it)
                out[n] = text_left(facts)
        return out

    ahead: dict[int, FileFacts] = {}
    for part in parallel.shared(SHARES, task):
        ahead.update(part)
    return ahead


TEXT_LEFT = "\x00text left in the file\x00"
"""Stands for the text of a file analysed ahead: never a real text (which holds no NUL in its first KiBs)."""


def text_left(facts: FileFacts) -> FileFacts:
    """``facts`` to send to another process: the text stays in the file (see :data:`TEXT_LEFT`)."""
    return facts if facts.text is None else replace(facts, text=TEXT_LEFT)


def text_of(facts: FileFacts, node: Node) -> FileFacts:
    """``facts`` with the text of the file put back (see _analyse_ahead); without it if it cannot be read."""
    try:
        fd = os.open(node.disk_path, os.O_RDONLY | os.O_NOFOLLOW)  # type: ignore[arg-type]
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(facts.size + 1)
    except OSError as exc:
        return replace(facts, text=None, error=f"cannot read: {exc.strerror}")
    if len(data) != facts.size:  # the work directory is this scan's own: nothing else writes there
        return replace(facts, text=None, error="changed while it was read")
    return replace(facts, text=data.decode("utf-8", "surrogateescape"))


def analyse_file(node: Node, patterns: PatternSet) -> FileFacts | None:
    """Facts of one written file's content, or None when it cannot be read."""
    try:
        fd = os.open(node.disk_path, os.O_RDONLY | os.O_NOFOLLOW)  # type: ignore[arg-type]
    except OSError:
        return None
    try:
        if os.fstat(fd).st_size == 0:
            return FileFacts(hashlib.sha256(b"").hexdigest(), 0, "empty")
        with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as data:
            return analyse(data, node.sha256 or hashlib.sha256(data).hexdigest(), patterns)
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def _facts_for(node: Node, cache: Cache, memo: dict[str, FileFacts], inv: Inventory, patterns: PatternSet,
               ahead: FileFacts | None = None) -> FileFacts:
    # Files written by our own extractors already carry their hash: no need to read them to find a hit.
    if node.sha256 and node.sha256 in memo:
        inv.cache_hits += 1
        return memo[node.sha256]
    if node.sha256:
        hit = cache.get(node.sha256)
        if hit is not None:
            inv.cache_hits += 1
            memo[node.sha256] = hit
            return hit
    if ahead is not None:  # analysed by _analyse_ahead or veracity.ahead
        known = memo.get(ahead.sha256) or (cache.get(ahead.sha256) if not node.sha256 else None)
        if known is not None:  # its hash was learnt there: the same content seen before, here or in the cache
            inv.cache_hits += 1
            memo[ahead.sha256] = known
            return known
        if ahead.text == TEXT_LEFT:
            ahead = text_of(ahead, node)
            if ahead.error:
                return ahead
        inv.analysed += 1
        memo[ahead.sha256] = ahead
        cache.put(ahead)
        return ahead
    try:
        fd = os.open(on_disk(node), os.O_RDONLY | os.O_NOFOLLOW)  # type: ignore[arg-type]
    except OSError as exc:
        return FileFacts(node.sha256 or "", node.size, "data", error=f"cannot open: {exc.strerror}")
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            facts = FileFacts(hashlib.sha256(b"").hexdigest(), 0, "empty")
        else:
            with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as data:
                if node.sha256:  # hashed while it was written, and already looked up above
                    sha = node.sha256
                else:
                    sha = hashlib.sha256(data).hexdigest()
                    cached = memo.get(sha) or cache.get(sha)
                    if cached is not None:
                        inv.cache_hits += 1
                        memo[sha] = cached
                        return cached
                facts = analyse(data, sha, patterns)
    except (OSError, ValueError) as exc:
        return FileFacts(node.sha256 or "", node.size, "data", error=f"cannot read: {exc}")
    finally:
        os.close(fd)
    inv.analysed += 1
    memo[facts.sha256] = facts
    cache.put(facts)
    return facts


def analyse(data: bytes | mmap.mmap, sha: str, patterns: PatternSet | None = None) -> FileFacts:
    """Facts of one file's content. Pure: same bytes (and pattern set), same facts."""
    size = len(data)
    head = data[:4096]
    scan = memoryview(data)[:SCAN_LIMIT] if size > SCAN_LIMIT else data
    truncated = size > SCAN_LIMIT
    matches, capped = patterns.scan(scan) if patterns is not None else ((), ())
    if head.startswith(b"\x7fELF"):
        elf, detail, error, ranges = _elf(data)
        return FileFacts(
            sha, size, "elf", detail, None, elf, None, tuple(ranges), truncated, error, matches, capped
        )
    if _PRIVATE_KEY.search(head) or (size < 65536 and _PRIVATE_KEY.search(data)) or head.startswith(_DROPBEAR_KEY):
        kind = "private-key"
    elif _CERT in head:
        kind = "certificate"
    elif native.sniff_bytes(head) is not None:
        kind = "archive"
    elif head.startswith(b"#!"):
        kind = "script"
    elif _is_text(head):
        kind = "text"
    else:
        kind = "data"
    interpreter = _shebang(head) if head.startswith(b"#!") else None
    text = None
    ranges: tuple[tuple[int, int], ...] = ()
    if kind in ("script", "text", "private-key", "certificate") and size <= TEXT_LIMIT and b"\x00" not in head:
        text = bytes(data).decode("utf-8", "surrogateescape")
    else:
        ranges = ((0, min(size, DATA_STRINGS_LIMIT)),)
    detail = f"script ({interpreter})" if interpreter else kind
    return FileFacts(sha, size, kind, detail, interpreter, None, text, ranges, truncated, None, matches, capped)


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    printable = len(head) - len(head.translate(None, bytes(range(32, 127)) + b"\t\n\r\x1b\x0c"))
    return printable / len(head) > 0.95 or _utf8(head)


def _utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 4  # cut in the middle of a character
    return True


def _shebang(head: bytes) -> str | None:
    line = head[2:].split(b"\n", 1)[0].strip().decode("utf-8", "replace")
    parts = line.split()
    if not parts:
        return None
    prog = parts[0]
    if prog.endswith("/env") and len(parts) > 1:
        return parts[1]
    return prog


READ_LIMIT = 2**20


def read_region(item: Item, start: int, length: int) -> bytes:
    """Up to ``length`` bytes (at most READ_LIMIT) of a file at ``start``, for a check that needs a window
    around a pattern match: the only read of file contents outside the inventory's pass, bounded, never
    through a link. Text files are served from ``facts.text``."""
    length = max(0, min(length, READ_LIMIT))
    start = max(0, start)
    if item.facts.text is not None:
        return item.facts.text.encode("utf-8", "surrogateescape")[start : start + length]
    if not item.node.disk_path or not length:
        return b""
    try:
        fd = os.open(on_disk(item.node), os.O_RDONLY | os.O_NOFOLLOW)  # type: ignore[arg-type]
    except OSError:
        return b""
    try:
        return os.pread(fd, length, start)
    except OSError:
        return b""
    finally:
        os.close(fd)


def strings_in(data, ranges) -> tuple[tuple[int, str], ...]:
    """(offset, text) of printable ASCII runs of at least MIN_STRING bytes within ``ranges`` of ``data``."""
    out: list[tuple[int, str]] = []
    for start, length in ranges:
        view = memoryview(data)[start : start + length]
        if len(view) <= _COPIED_RANGE:
            text = codecs.latin_1_decode(view.tobytes().translate(_PRINTABLE_OR_NUL))[0]
            out.extend((start + m.start(), m.group()) for m in _STRINGS_OF_NUL.finditer(text))
        else:
            text = codecs.latin_1_decode(view)[0]
            out.extend((start + m.start(), m.group()) for m in _STRINGS.finditer(text))
    return tuple(out)


# -- ELF ----------------------------------------------------------------------------------------------------


def _elf(data) -> tuple[ElfFacts | None, str, str | None, list[tuple[int, int]]]:
    """ELF facts, and the file ranges strings are taken from (read-only data sections; the whole file
    when the sections cannot be trusted). The identification bytes are checked first, lief's answers are
    sanity-checked after."""
    size = len(data)
    whole = [(0, min(size, SCAN_LIMIT))]
    head = bytes(data[:64])
    if len(head) < 52 or head[4] not in (1, 2) or head[5] not in (1, 2):
        return None, "ELF (malformed header)", "ELF header malformed", whole
    bits = 32 if head[4] == 1 else 64
    endian = "little" if head[5] == 1 else "big"
    order = "little" if endian == "little" else "big"
    e_type = int.from_bytes(head[16:18], order)
    e_machine = int.from_bytes(head[18:20], order)
    arch = _EM.get(e_machine, f"em-{e_machine}")
    basic = ElfFacts(arch, bits, endian, _ELF_TYPES.get(e_type, f"type-{e_type}"))
    detail = f"ELF {bits}-bit {'LSB' if endian == 'little' else 'MSB'} {arch} {basic.type}"
    try:
        import lief

        lief.logging.disable()
        binary = lief.ELF.parse(bytes(data) if not isinstance(data, bytes) else data)
    except Exception as exc:  # noqa: BLE001 - lief raises arbitrary errors on hostile input
        return basic, detail, f"ELF could not be parsed: {exc}", whole
    if binary is None or int(binary.header.machine_type.value) != e_machine:
        return basic, detail, "ELF could not be parsed", whole
    ranges = []
    for section in binary.sections:
        if section.name.startswith(_STRING_SECTIONS) and section.type != lief.ELF.Section.TYPE.NOBITS:
            off, length = int(section.file_offset), int(section.size)
            if 0 <= off < size and length > 0:
                ranges.append((off, min(length, size - off)))
    if not ranges:  # stripped of section headers (common in firmware): take every byte
        ranges = whole
    try:
        dyn_names = [s.name for s in binary.dynamic_symbols if s.name]
        imports = tuple(sorted({s.name for s in binary.imported_symbols if s.name}))
        needed = tuple(str(x) for x in binary.libraries)
        soname = None
        tag = binary.get(lief.ELF.DynamicEntry.TAG.SONAME)
        if tag is not None:
            soname = tag.name
        has_relro = any(seg.type == lief.ELF.Segment.TYPE.GNU_RELRO for seg in binary.segments)
        bind_now = _bind_now(binary, lief)
        relro = "full" if has_relro and bind_now else "partial" if has_relro else "none"
        has_stack = any(seg.type == lief.ELF.Segment.TYPE.GNU_STACK for seg in binary.segments)
        facts = ElfFacts(
            arch=arch,
            bits=bits,
            endian=endian,
            type=basic.type,
            interpreter=binary.interpreter if binary.has_interpreter else None,
            needed=needed,
            soname=soname,
            stripped=not any(True for _ in binary.symtab_symbols),
            nx=binary.has_nx if has_stack else False,
            pie=bool(binary.is_pie),
            relro=relro,
            canary=any(n in ("__stack_chk_fail", "__stack_chk_guard", "__stack_chk_fail_local") for n in dyn_names),
            fortify=any(n.startswith("__") and n.endswith("_chk") and n != "__stack_chk_fail" for n in dyn_names),
            imports=imports[:2000],
        )
    except Exception as exc:  # noqa: BLE001
        return basic, detail, f"ELF facts incomplete: {exc}", ranges
    if facts.interpreter and ("\x00" in facts.interpreter or len(facts.interpreter) > 256):
        facts = replace(facts, interpreter=None)
    if facts.type == "shared-object" and facts.pie and facts.interpreter:
        detail = f"ELF {bits}-bit {'LSB' if endian == 'little' else 'MSB'} {arch} pie-executable"
    return facts, detail, None, sorted(ranges)


def _bind_now(binary, lief) -> bool:
    for entry in binary.dynamic_entries:
        if entry.tag == lief.ELF.DynamicEntry.TAG.BIND_NOW:
            return True
        if entry.tag == lief.ELF.DynamicEntry.TAG.FLAGS and int(entry.value) & 0x8:
            return True
        if entry.tag == lief.ELF.DynamicEntry.TAG.FLAGS_1 and int(entry.value) & 0x1:
            return True
    return False
