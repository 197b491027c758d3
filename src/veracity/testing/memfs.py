"""Build a small inventory in a test, without any image: ``inventory_from({"/etc/passwd": "root:..."})``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..inventory import Cache, Inventory, build
from ..limits import Budget, Limits, RatioGuard
from ..patterns import PatternSet
from ..tree import Tree
from ..unpack.writer import TreeWriter


def inventory_from(
    files: Mapping[str, bytes | str],
    tmp: Path,
    *,
    links: Mapping[str, str] | None = None,
    modes: Mapping[str, int] | None = None,
    dirs: tuple[str, ...] = (),
    container: tuple[str, ...] = ("test.img", "squashfs@0x0"),
    fmt: str = "squashfs",
    patterns: PatternSet | None = None,
) -> Inventory:
    """An inventory of one tree holding ``files`` (path -> content), ``links`` (path -> target) and
    ``dirs``; ``modes`` sets permission bits (default 0644, 0755 for content starting with ``#!`` or ELF)."""
    tree = Tree(container, fmt)
    lim = Limits()
    w = TreeWriter(tmp / f"memfs{len(list(tmp.glob('memfs*')))}", tree, Budget(lim), RatioGuard(lim, 1 << 30), [])
    for d in dirs:
        w.dir(d)
    for path, content in sorted(files.items()):
        data = content.encode() if isinstance(content, str) else content
        default = 0o755 if data.startswith((b"#!", b"\x7fELF")) else 0o644
        w.file(path, [data], (modes or {}).get(path, default))
    for path, target in sorted((links or {}).items()):
        w.symlink(path, target)
    return build([tree], Cache(None), patterns=patterns)
