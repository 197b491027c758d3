"""Per-file results of checks kept by content: a second scan gives the same report from the cache."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from veracity.checks import egress, malcode, secrets
from veracity.components import identify
from veracity.scan import scan

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "router-firmware.bin"


def _stable(report: dict) -> str:
    report = dict(report)
    report.pop("started_at", None)
    report.pop("duration_s", None)
    return json.dumps(report, sort_keys=True)


def _namespaces(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT key FROM results").fetchall()
    out: dict[str, int] = {}
    for (key,) in rows:
        ns = key.split(":", 1)[0]
        out[ns] = out.get(ns, 0) + 1
    return out


def test_second_scan_from_kept_results_is_identical(tmp_path):
    cache = tmp_path / "cache.sqlite"
    cold = scan(EXAMPLE, cache_path=None)
    first = scan(EXAMPLE, cache_path=cache)
    kept = _namespaces(cache)
    assert kept.get(egress.CACHE_NAMESPACE, 0) > 5 and kept.get(malcode.CACHE_NAMESPACE, 0) > 5
    assert kept.get(secrets.CACHE_NAMESPACE, 0) > 0 and kept.get(identify.APPLETS_NAMESPACE, 0) > 0
    second = scan(EXAMPLE, cache_path=cache)
    assert _stable(first) == _stable(cold) == _stable(second)
    assert any(f["category"] == "egress.endpoint" for f in second["findings"])
    assert any(f["rule"].startswith("VER-SEC-") for f in second["findings"])


def test_secrets_are_recalled_not_searched_again(tmp_path, monkeypatch):
    cache = tmp_path / "cache.sqlite"
    first = scan(EXAMPLE, cache_path=cache)
    read: list[str] = []
    entries = secrets._Scan.entries
    monkeypatch.setattr(secrets._Scan, "entries", lambda self: read.append(self.path) or entries(self))
    second = scan(EXAMPLE, cache_path=cache)
    assert read == [] and _stable(second) == _stable(first)


def test_damaged_kept_results_are_recomputed(tmp_path):
    cache = tmp_path / "cache.sqlite"
    cold = scan(EXAMPLE, cache_path=None)
    scan(EXAMPLE, cache_path=cache)
    with sqlite3.connect(cache) as con:  # every kept result replaced by something that does not decode
        con.execute("UPDATE results SET value = ?", (b"not zlib",))
    assert _stable(scan(EXAMPLE, cache_path=cache)) == _stable(cold)
    with sqlite3.connect(cache) as con:  # valid JSON of the wrong shape
        import zlib

        con.execute("UPDATE results SET value = ?", (zlib.compress(b'[["endpoint", [1, 2], true]]'),))
    assert _stable(scan(EXAMPLE, cache_path=cache)) == _stable(cold)


def _count_lazy(monkeypatch) -> dict[str, int]:
    """Counts files recorded without unpacking, and those of them written after all."""
    from veracity.unpack import writer

    counts = {"lazy": 0, "fetched": 0}
    lazy_file, fetch = writer.TreeWriter.lazy_file, writer.LazyContent.__call__

    def counting_lazy_file(self, *args, **kwargs):
        counts["lazy"] += 1
        return lazy_file(self, *args, **kwargs)

    def counting_fetch(self):
        if not self.done:
            counts["fetched"] += 1
        return fetch(self)

    monkeypatch.setattr(writer.TreeWriter, "lazy_file", counting_lazy_file)
    monkeypatch.setattr(writer.LazyContent, "__call__", counting_fetch)
    return counts


def test_unchanged_files_are_neither_unpacked_nor_written_again(tmp_path, monkeypatch):
    cache = tmp_path / "cache.sqlite"
    cold = scan(EXAMPLE, cache_path=None)
    scan(EXAMPLE, cache_path=cache)
    counts = _count_lazy(monkeypatch)
    warm = scan(EXAMPLE, cache_path=cache)
    files = len(cold["files"])
    assert counts["lazy"] > files // 2  # known by their packed bytes
    assert counts["fetched"] < counts["lazy"] // 2  # and most never needed on disk
    assert _stable(warm) == _stable(cold)


def test_files_left_for_later_are_written_when_a_check_reads_them(tmp_path, monkeypatch):
    """Kept results gone: the checks (also those in the forked child) read files that were never written."""
    cache = tmp_path / "cache.sqlite"
    cold = scan(EXAMPLE, cache_path=None)
    scan(EXAMPLE, cache_path=cache)
    with sqlite3.connect(cache) as con:
        con.execute("DELETE FROM results")
    counts = _count_lazy(monkeypatch)
    again = scan(EXAMPLE, cache_path=cache)
    assert counts["lazy"] and counts["fetched"]
    assert _stable(again) == _stable(cold)


def test_a_packed_record_without_facts_is_not_trusted(tmp_path, monkeypatch):
    from veracity import inventory

    cache = tmp_path / "cache.sqlite"
    cold = scan(EXAMPLE, cache_path=None)
    scan(EXAMPLE, cache_path=cache)
    with sqlite3.connect(cache) as con:
        con.execute("DELETE FROM facts")
    monkeypatch.setattr(inventory, "_MEMO", inventory._Memo(0))  # as in a new process
    counts = _count_lazy(monkeypatch)
    assert _stable(scan(EXAMPLE, cache_path=cache)) == _stable(cold)
    assert counts["lazy"] == 0


def test_facts_written_to_the_cache_read_back_the_same():
    import json
    from dataclasses import asdict

    from veracity.inventory import ElfFacts, FileFacts

    elf = ElfFacts("mips", 32, "big", "executable", "/lib/ld.so.1", ("libc.so.0",), None, True, True, False,
                   "partial", None, None, ("socket", "strcmp"))
    for facts in (FileFacts("ab" * 32, 10, "elf", "ELF 32-bit", None, elf, None, ((0, 10),), False, None,
                            (("VER-MAL/shell/0", 1, 5),), ("VER-EGR-001/domain",)),
                  FileFacts("cd" * 32, 5, "script", "", "/bin/sh", None, "#!/bin/sh\necho \u00e9\udcff\n")):
        raw = facts.to_json()
        assert raw == json.dumps(asdict(facts), separators=(",", ":"))  # the format kept in users' caches
        assert FileFacts.from_json(raw) == facts


def test_a_second_scan_in_the_same_process_reads_the_cache_from_memory(tmp_path, monkeypatch):
    """A process that scans again (a batch worker) finds what it read or wrote before in memory: no row of the cache
    file is decoded again, and the report is the same. (Without a fork, as in a batch worker that has no core to
    spare: what a forked child works out, it writes to the file itself.)"""
    from veracity import inventory

    monkeypatch.setenv("VERACITY_NO_FORK", "1")
    monkeypatch.setattr(inventory, "_MEMO", inventory._Memo(inventory.MEMO_BYTES))  # as batch.scan_path does
    cache = tmp_path / "cache.sqlite"
    first = scan(EXAMPLE, cache_path=cache)
    decoded: list[int] = []
    real = inventory.zlib.decompress
    monkeypatch.setattr(inventory.zlib, "decompress", lambda data, *a: decoded.append(1) or real(data, *a))
    second = scan(EXAMPLE, cache_path=cache)
    assert _stable(second) == _stable(first) and decoded == []
    monkeypatch.setattr(inventory, "_MEMO", inventory._Memo(inventory.MEMO_BYTES))  # a new process reads the file
    third = scan(EXAMPLE, cache_path=cache)
    assert _stable(third) == _stable(first) and decoded


def test_the_memory_of_cache_reads_stays_within_its_budget():
    from veracity.inventory import _Memo

    memo = _Memo(1000)
    for n in range(5):
        memo.put(f"k{n}", n, 300)
    assert memo.size <= 1000 and memo.get("k0") is None and memo.get("k4") == 4
    memo.get("k2")  # used: the oldest is now k3
    memo.put("k5", 5, 300)
    assert memo.get("k3") is None and memo.get("k2") == 2 and memo.size <= 1000
    memo.put("k2", "again", 300)  # a key put twice counts once
    assert memo.size == sum(size for _value, size in memo.data.values()) and memo.get("k2") == "again"
    memo.put("big", "x", 2000)  # larger than the whole budget: not kept, nothing else lost
    assert memo.get("big") is None and memo.get("k2") == "again"
    off = _Memo(0)  # the default outside batch workers
    off.put("k", 1, 10)
    assert off.get("k") is None and not off.data
