#!/usr/bin/env python3
"""Build ``examples/router-firmware.bin``, the example image veracity is shown on.

The image is a realistic flash dump of a small router, made on this machine
with Debian's tools (squashfs-tools, u-boot-tools, busybox-static,
dropbear-bin) by :mod:`veracity.testing.fixtures`:

    0x000000  64 KiB   fake U-Boot (banner, environment with bootcmd/mtdparts)
    0x010000  uImage   MIPS Linux kernel, LZMA (a few KiB of stand-in data)
    (64 KiB aligned)   squashfs 4.0, xz: busybox, dropbear, telnetd in rcS,
                       default credentials, a hard-coded private key, cloud URLs
    ...       0xff     padding to a 64 KiB boundary

The build is deterministic: run it twice and the bytes are the same (as long
as the host's busybox and dropbear binaries stay the same).

Usage:
    python examples/build_example.py            # (re)write examples/router-firmware.bin
    python examples/build_example.py --check    # rebuild from scratch elsewhere, compare
    python examples/build_example.py -o FILE    # write somewhere else
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "router-firmware.bin"

try:
    from veracity.testing import fixtures
except ImportError:  # not installed: use the source tree next to this file
    sys.path.insert(0, str(HERE.parent / "src"))
    from veracity.testing import fixtures


def build(out: Path, cache_dir: Path | None = None) -> dict[str, tuple[int, int]]:
    missing = fixtures.tool_missing("firmware-concat")
    if missing:
        raise SystemExit(
            f"cannot build the example: {missing} is missing (see the apt-get line in fixtures.py)"
        )
    return fixtures.write_firmware_concat(out, cache_dir)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT, help="where to write the image")
    ap.add_argument(
        "--check", action="store_true", help="rebuild with a fresh cache and compare with --output"
    )
    args = ap.parse_args(argv)

    if args.check:
        with tempfile.TemporaryDirectory(prefix="veracity-example-") as tmp:
            fresh = Path(tmp) / "router-firmware.bin"
            build(fresh, Path(tmp) / "cache")
            same = args.output.is_file() and fresh.read_bytes() == args.output.read_bytes()
            digest = hashlib.sha256(fresh.read_bytes()).hexdigest()
        print(f"rebuilt sha256 {digest}: {'identical to' if same else 'DIFFERS from'} {args.output}")
        return 0 if same else 1

    args.output.parent.mkdir(parents=True, exist_ok=True)
    layout = build(args.output)
    data = args.output.read_bytes()
    print(f"{args.output}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    for part, (offset, length) in layout.items():
        print(f"  {part:<10} at {offset:#08x}, {length} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
