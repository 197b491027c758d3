#!/usr/bin/env python3
"""Benchmark: `veracity scan` on a large realistic SquashFS image against the floor and unblob.

A benchmark, not a test. It builds a root filesystem of real binaries, libraries and text from this
machine (veracity.testing.fixtures.build_large_rootfs, >= --mib MiB), packs it with mksquashfs -comp xz,
and measures in one run, each command as a child process (wall time, CPU time, peak RSS from wait4):

  floor      unsquashfs to tmpfs, then one sequential read of every byte (what any tool must at least do)
  unblob     the unblob CLI extracting the same image (Debian has no sasquatch: it extracts nothing from
             SquashFS) and the same tree as tar.xz, for scale
  veracity   `veracity scan --no-cache --checks none` (unpacking and inventory only: the base the checks'
             budgets are measured against), `--checks egress` and `--checks components` alone (their own budgets), `veracity scan --no-cache` (cold, every check) and a second
             scan with a warm cache

Results are printed and written to bench/RESULTS.md as ratios against the floor of the same run.
Usage: .venv/bin/python bench/run.py [--mib 150] [--repeat 3] [--work /dev/shm/veracity-bench] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from results import child_env, measure, write_section

from veracity.testing import fixtures


def floor_cmd(image: Path, out: Path) -> list[str]:
    script = (
        f"unsquashfs -q -n -d {out} {image} >/dev/null && "
        f"find {out} -type f -print0 | xargs -0 cat > /dev/null"
    )
    return ["bash", "-c", script]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=150)
    ap.add_argument("--work", type=Path, default=Path("/dev/shm/veracity-bench"))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each cold veracity scan (the best counts)")
    args = ap.parse_args()
    work: Path = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    venv = ROOT / ".venv" / "bin"
    env = child_env()

    rootfs = fixtures.build_large_rootfs(work / "rootfs", min_bytes=args.mib * 2**20)
    unpacked = sum(p.stat().st_size for p in rootfs.rglob("*") if p.is_file() and not p.is_symlink())
    nfiles = sum(1 for _ in rootfs.rglob("*"))
    image = work / "large.sqfs"
    subprocess.run(["mksquashfs", str(rootfs), str(image), "-comp", "xz", "-noappend", "-quiet", "-all-root"],
                   check=True, stdout=subprocess.DEVNULL)
    tarxz = work / "large.tar.xz"
    with tarfile.open(tarxz, "w:xz", preset=1) as tf:
        tf.add(rootfs, arcname=".")
    shutil.rmtree(rootfs)

    results: dict[str, dict] = {}
    results["floor"] = measure(floor_cmd(image, work / "floor"))
    shutil.rmtree(work / "floor", ignore_errors=True)
    for name, target in (("unblob (squashfs)", image), ("unblob (tar.xz)", tarxz)):
        out = work / "unblob-out"
        results[name] = measure([str(venv / "unblob"), "-e", str(out), "-p", "2", "--log", str(work / "unblob.log"),
                                 str(target)], env)
        results[name]["files"] = sum(1 for _ in out.rglob("*")) if out.exists() else 0
        shutil.rmtree(out, ignore_errors=True)
    cache = work / "cache.sqlite"
    scan = [str(venv / "veracity"), "scan", str(image), "--format", "json", "-o", str(work / "report.json"), "-q",
            "--workdir", str(work)]
    # the veracity runs are interleaved and repeated, each keeping its best wall time: the ratios between them
    # are small (a budget of 10 to 30%), and one run of each swings by more than that on a shared machine
    cold_runs = {
        "veracity unpack + inventory only (--checks none)": [*scan, "--no-cache", "--checks", "none"],
        # issues 4 and 5 budget these two alone: 20% and 10%
        "veracity --checks egress only": [*scan, "--no-cache", "--checks", "egress"],
        "veracity --checks components only": [*scan, "--no-cache", "--checks", "components"],
        "veracity (cold)": [*scan, "--no-cache"],
    }
    for _ in range(args.repeat):
        for name, argv in cold_runs.items():
            r = measure(argv, env)
            if name not in results or r["wall"] < results[name]["wall"]:
                results[name] = r
    measure([*scan, "--cache", str(cache)], env)  # fills the cache
    results["veracity (warm cache)"] = measure([*scan, "--cache", str(cache)], env)

    floor = results["floor"]
    lines = [
        "| run | wall s | CPU s | peak RSS MiB | wall / floor | CPU / floor |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        extra = f" ({r['files']} entries out)" if "files" in r else ""
        lines.append(
            f"| {name}{extra} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rss_mib']:.0f} | "
            f"{r['wall'] / floor['wall']:.2f} | {r['cpu'] / floor['cpu']:.2f} |"
        )
    header = (
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores; "
        f"image {image.stat().st_size / 2**20:.1f} MiB SquashFS xz, {unpacked / 2**20:.1f} MiB unpacked, "
        f"{nfiles} entries; work dir {work}."
    )
    base, cold = results["veracity unpack + inventory only (--checks none)"], results["veracity (cold)"]
    warm = results["veracity (warm cache)"]
    verdict = (
        f"Checks add {cold['wall'] / base['wall'] - 1:.0%} to unpacking and inventory alone (target: at most 30%); "
        f"a cold scan takes {cold['wall'] / floor['wall']:.2f}x the floor (target: 1.5x), a re-scan with the cache "
        f"{warm['wall'] / floor['wall']:.2f}x; peak memory {max(r['rss_mib'] for k, r in results.items() if 'veracity' in k):.0f} MiB "
        "(target: under 1 GB). Alone, endpoint extraction adds "
        f"{results['veracity --checks egress only']['wall'] / base['wall'] - 1:.0%} (target: at most 20%) and "
        f"component identification {results['veracity --checks components only']['wall'] / base['wall'] - 1:.0%} "
        "(target: at most 10%)."
    )
    text = (header + f" Cold veracity scans: best of {args.repeat}, interleaved." + "\n\n" + "\n".join(lines)
            + "\n\n" + verdict + "\n")
    print(text)
    if not args.no_write:
        write_section("scan", "One large image: scan against the floor", _INTRO, text)
    shutil.rmtree(work, ignore_errors=True)
    return 0


_INTRO = """Reproduce: `scripts/bootstrap.sh && .venv/bin/python bench/run.py --mib 300` (a few minutes; needs ~2 GB in
/dev/shm). Figures are ratios against the floor measured in the same run: `unsquashfs` of the same image to tmpfs
plus one sequential read of every byte. Targets: scan wall time <= 1.5x the floor (issue 2); the checks add at most
30% to unpacking and inventory alone (issue 3), endpoint extraction alone 20% (issue 4), component identification
alone 10% (issue 5); peak memory under 1 GB whatever the image size."""


if __name__ == "__main__":
    raise SystemExit(main())
