#!/usr/bin/env python3
"""Benchmark: the Hyperscan pattern pass for each set of checks a scan may run (``--checks``).

Hyperscan picks its matching engines for a database as a whole, and a pattern that is cheap alone can make a
shared database several times slower (see ``Pattern.database`` and ``egress.extract.patterns``). Run this before
and after moving a pattern, or adding one: it times the pass over every file of a tree for the full set, each
check alone, and egress with each other check.

Usage: .venv/bin/python bench/patterns.py [--tree DIR | --mib 100] [--work /dev/shm/veracity-patterns]
A benchmark, not a test; it prints seconds (CPU of one process) and writes nothing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from veracity.checks import registry
from veracity.inventory import SCAN_LIMIT
from veracity.options import ScanOptions
from veracity.patterns import PatternSet
from veracity.testing import fixtures


def timed(patterns: PatternSet, datas: list[bytes]) -> float:
    patterns.prepare()
    start = time.process_time()
    for data in datas:
        patterns.scan(data)
    return time.process_time() - start


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", type=Path, default=None, help="a directory of files to scan (default: build one)")
    ap.add_argument("--mib", type=int, default=100, help="size of the tree built from this machine's files")
    ap.add_argument("--work", type=Path, default=Path("/dev/shm/veracity-patterns"))
    args = ap.parse_args()
    tree = args.tree
    if tree is None:
        shutil.rmtree(args.work, ignore_errors=True)
        tree = fixtures.build_large_rootfs(args.work / "rootfs", min_bytes=args.mib * 2**20)
    paths = [p for p in sorted(tree.rglob("*")) if p.is_file() and not p.is_symlink()]
    datas = [p.read_bytes()[:SCAN_LIMIT] for p in paths]
    print(f"{len(datas)} files, {sum(map(len, datas)) / 2**20:.0f} MiB")
    sets: list[tuple[str, tuple[str, ...] | None]] = [("all checks", None)]
    sets += [(c, (c,)) for c in registry.ids()]
    sets += [(f"egress + {c}", ("egress", c)) for c in registry.ids() if c != "egress"]
    for name, checks in sets:
        patterns = registry.patterns(registry.checks(ScanOptions(checks=checks) if checks is not None else None))
        if len(patterns):
            databases = len({p.database for p in patterns.patterns})
            print(f"{timed(patterns, datas):7.3f} s  {name} ({len(patterns)} patterns, {databases} databases)")
    if args.tree is None:
        shutil.rmtree(args.work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
