#!/usr/bin/env python3
"""Fleet benchmark: 20 versions of one product through `veracity batch`, against one cold `veracity scan`.

A benchmark, not a test. It builds a product root filesystem (the router rootfs of the fixture builder plus
--mib MiB of real binaries, libraries and text from this machine), then --versions versions of it in which a
small share of files change from one version to the next (a version file, a few binaries rebuilt, a new
file now and then; at least 90% of the files of every version are identical to the previous one), each
packed with mksquashfs -comp xz. It measures, each as a child process (wall, CPU, peak RSS from wait4), each
three times, interleaved, keeping the best:

  one     `veracity scan` of the first version, no cache (what one image costs)
  fleet   `veracity batch` of all versions into a fresh SQLite store with a fresh shared inventory cache

and writes the ratio fleet / one to bench/RESULTS.md (target from issue 8: under 4).
Usage: .venv/bin/python bench/fleet.py [--mib 40] [--versions 20] [--workers 2] [--work /dev/shm/veracity-fleet]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from results import child_env, measure, write_section

from veracity.testing import fixtures


def make_versions(base: Path, out: Path, versions: int) -> tuple[list[Path], float]:
    """Images of ``versions`` versions; returns them and the smallest share of files kept from the previous one."""
    rng = random.Random(20261129)
    tree = out / "tree"
    shutil.copytree(base, tree, symlinks=True)
    files = sorted(p for p in tree.rglob("*") if p.is_file() and not p.is_symlink())
    plain = [p for p in files if not p.name.endswith((".gz", ".xz", ".bz2", ".zip", ".zst"))]  # stay valid
    images: list[Path] = []
    kept_min = 1.0
    for v in range(versions):
        changed = 0
        if v:
            (tree / "etc").mkdir(exist_ok=True)
            (tree / "etc" / "fw_version").write_text(f"1.{v}.0 build {20260100 + v}\n")
            changed += 1
            for p in rng.sample(plain, max(1, len(files) // 40)):  # about 2.5% of the files rebuilt
                with open(p, "ab") as fh:
                    fh.write(f"\0build {v}\0".encode())
                changed += 1
            if v % 5 == 0:
                extra = tree / "usr" / "share" / f"release-notes-{v}.txt"
                extra.parent.mkdir(parents=True, exist_ok=True)
                extra.write_text(f"release 1.{v}.0: fixes and improvements\n")
                changed += 1
            kept_min = min(kept_min, 1 - changed / len(files))
        fixtures._fix_times(tree)
        image = out / f"product-1.{v:02d}.0.sqfs"
        subprocess.run(["mksquashfs", str(tree), str(image), "-comp", "xz", "-noappend", "-quiet", "-all-root"],
                       check=True, stdout=subprocess.DEVNULL)
        images.append(image)
    shutil.rmtree(tree)
    return images, kept_min


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=40)
    ap.add_argument("--versions", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/dev/shm/veracity-fleet"))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measurement (the best counts)")
    args = ap.parse_args()
    work: Path = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    venv = ROOT / ".venv" / "bin"
    env = child_env(XDG_DATA_HOME=str(work / "data"), XDG_CACHE_HOME=str(work / "cache"))

    base = fixtures.build_rootfs(work / "base")
    fixtures.build_large_rootfs(base / "opt" / "payload", min_bytes=args.mib * 2**20)
    images, kept = make_versions(base, work, args.versions)
    shutil.rmtree(base)
    size = sum(i.stat().st_size for i in images) / len(images) / 2**20

    runs = {
        "one": [str(venv / "veracity"), "scan", str(images[0]), "--format", "json", "-o", str(work / "one.json"),
                "-q", "--no-cache", "--workdir", str(work)],
        "single": [str(venv / "veracity"), "batch", str(images[0]), "--db", str(work / "single.sqlite"),
                   "--cache", str(work / "single-cache.sqlite"), "--workers", str(args.workers),
                   "--workdir", str(work), "--product", "Product", "--json"],
        "fleet": [str(venv / "veracity"), "batch", *map(str, images), "--db", str(work / "fleet.sqlite"),
                  "--cache", str(work / "fleet-cache.sqlite"), "--workers", str(args.workers),
                  "--workdir", str(work), "--product", "Product", "--json"],
    }
    # interleaved and repeated, each keeping its best wall time: one run of each swings by 10% on a shared machine
    best: dict[str, dict] = {}
    for _ in range(args.repeat):
        for name, argv in runs.items():
            for db in ("single.sqlite", "single-cache.sqlite", "fleet.sqlite", "fleet-cache.sqlite"):
                (work / db).unlink(missing_ok=True)  # every batch starts with a fresh store and cache
            r = measure(argv, env)
            if name not in best or r["wall"] < best[name]["wall"] or r.get("rc"):
                best[name] = r
    one, single, fleet = best["one"], best["single"], best["fleet"]
    ratio = fleet["wall"] / one["wall"]
    lines = [
        (f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores; "
        f"{args.versions} versions of one product, SquashFS xz of {size:.1f} MiB each on average, at least "
        f"{kept:.0%} of the files identical to the previous version; batch with {args.workers} workers, a fresh "
        f"store and a fresh shared inventory cache; work dir {work}; best of {args.repeat} runs, interleaved."),
        "",
        "| run | wall s | CPU s | peak RSS MiB | wall / one |",
        "|---|---:|---:|---:|---:|",
        (f"| one version, `veracity scan --no-cache` | {one['wall']:.2f} | {one['cpu']:.2f} | {one['rss_mib']:.0f} "
        f"| 1.00 |"),
        (f"| one version, `veracity batch` (fresh store and cache) | {single['wall']:.2f} | n/a | "
         f"{single['rss_mib']:.0f} | {single['wall'] / one['wall']:.2f} |"),
        (f"| {args.versions} versions, `veracity batch` | {fleet['wall']:.2f} | n/a | "
        f"{fleet['rss_mib']:.0f} | {ratio:.2f} |"),
        "",
        (f"Target (issue 8): {args.versions} versions in under 4x the time of one: "
        f"{'met' if ratio < 4 else 'not met'} against one `veracity scan` ({ratio:.2f}x); against one image "
        f"through `veracity batch` (the same start-up costs): {fleet['wall'] / single['wall']:.2f}x. "
        "The batch's CPU time is not shown: its workers "
         "are children of a fork server, which `wait4` does not account to it; its peak RSS is the batch "
         "process's own."),
    ]
    if fleet.get("rc"):
        lines.append(f"\nveracity batch exited with status {fleet['rc']}: {fleet.get('err', '')[-500:]}")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_section("fleet", "Fleet: many versions of one product",
                      "Reproduce: `.venv/bin/python bench/fleet.py` (a few minutes; needs ~1.5 GB in /dev/shm).", text)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
