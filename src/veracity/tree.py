"""The read-only tree model the checks work on.

Every unpacked filesystem becomes a :class:`Tree`: a mapping from POSIX path (leading ``/``, relative to
that filesystem's root) to a frozen :class:`Node`. Nodes keep what the image said, not what the work
directory holds: the *original* symlink target, the owner and mode from the image, device numbers of
device nodes (which are never created on disk).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

KINDS = ("file", "dir", "symlink", "chardev", "blockdev", "fifo", "socket", "whiteout")
"""A hard link is a ``file`` whose ``link_target`` names the first path of the inode. ``whiteout`` is an
overlay deletion marker (OpenWrt JFFS2 overlays, OCI layers)."""


@dataclass(frozen=True, slots=True)
class Node:
    path: str
    kind: str
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    size: int = 0
    link_target: str | None = None
    """Original symlink target as stored in the image; for a hard link, the first path of its inode."""
    rdev: tuple[int, int] | None = None
    sha256: str | None = None
    disk_path: str | None = field(default=None, compare=False)
    """Where the content lives in the work directory (regular files only); internal, never reported."""
    fetch: Callable[[], None] | None = field(default=None, compare=False, repr=False)
    """For a file not yet written to ``disk_path`` (its content is known from the cache by the image's own
    packed bytes, see unpack.native): writes it; idempotent; OSError when it cannot. Use :func:`on_disk`."""

    def __reduce__(self) -> tuple[type, tuple]:
        return by_fields(self)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def is_file(self) -> bool:
        return self.kind == "file"


def by_fields(obj: Any) -> tuple[type, tuple]:
    """How a frozen slotted dataclass is pickled here (``__reduce__``): its class called with its fields in order.
    Pickle's own way for such a class sets each field in a Python loop, and a scan sends many thousands of nodes and
    facts to another process and back."""
    return type(obj), tuple(getattr(obj, name) for name in obj.__dataclass_fields__)


def on_disk(node: Node) -> str | None:
    """The work-directory path of a file's content, written first if it was left for later; None if there is
    none. Every reader of file contents goes through here."""
    if node.fetch is not None:
        node.fetch()
    return node.disk_path


def head_of(node: Node, size: int) -> bytes | None:
    """The first ``size`` bytes of a file already in the work directory (never through a link); None if it cannot
    be read."""
    try:
        fd = os.open(node.disk_path, os.O_RDONLY | os.O_NOFOLLOW)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return None
    try:
        return os.pread(fd, size, 0)
    except OSError:
        return None
    finally:
        os.close(fd)


@dataclass(slots=True)
class Tree:
    """One unpacked filesystem or archive, with the chain of containers above it."""

    container: tuple[str, ...]
    format: str
    nodes: dict[str, Node] = field(default_factory=dict)

    def add(self, node: Node) -> None:
        self.nodes[node.path] = node

    def __iter__(self) -> Iterator[Node]:
        return iter(sorted(self.nodes.values(), key=lambda n: n.path))

    def __len__(self) -> int:
        return len(self.nodes)

    def get(self, path: str) -> Node | None:
        return self.nodes.get(path)

    def resolve(self, path: str, max_hops: int = 40) -> Node | None:
        """Resolve ``path`` inside this tree the way the device would, never leaving the tree.

        Absolute link targets are taken relative to the tree's root, ``..`` at the root stays at the root.
        Returns None for dangling links and loops.
        """
        hops = 0
        parts = [p for p in path.split("/") if p]
        resolved: list[str] = []
        while parts:
            part = parts.pop(0)
            if part == ".":
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = "/" + "/".join([*resolved, part])
            node = self.nodes.get(candidate)
            if node is None:
                return None
            if node.kind == "symlink" and node.link_target is not None:
                hops += 1
                if hops > max_hops:
                    return None
                target = node.link_target
                if target.startswith("/"):
                    resolved = []
                parts = [p for p in target.split("/") if p] + parts
                continue
            resolved.append(part)
        return self.nodes.get("/" + "/".join(resolved)) if resolved else self.nodes.get("/")


def climbs_out(link_path: str, target: str) -> bool:
    """True when a relative link target climbs above the root of its tree with ``..``."""
    if target.startswith("/"):
        return False
    depth = len([p for p in posixpath.dirname(link_path).split("/") if p])
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        else:
            depth += 1
    return False
