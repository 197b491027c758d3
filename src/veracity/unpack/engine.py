"""Open every layer of a target, recursively, within limits; yield trees for the inventory.

A *blob* is a file (the target, or a file found in a tree). Opening it gives one or more *trees*:
project-owned extractors first (archives, compressed streams, SquashFS, container images), then
unblob's carving and handlers for everything else. Files of a tree that look like containers are
opened in turn, up to the depth limit. Every problem becomes a finding; nothing raises out of here
except a bug.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from ..findings import Finding
from ..limits import Budget, LimitExceeded, Limits, RatioGuard
from ..tree import Node, Tree, climbs_out, head_of, on_disk
from . import native, rules, unblobber
from .writer import LazyContent, TreeWriter

HEAD = 4096

# Formats found at the start of a file that make it worth opening (beyond native.sniff()).
_MAGICS: tuple[tuple[int, bytes], ...] = (
    (0, b"\x85\x19"),  # JFFS2 little endian
    (0, b"\x19\x85"),  # JFFS2 big endian
    (0, b"UBI#"),
    (0, b"\x27\x05\x19\x56"),  # uImage
    (0, b"HDR0"),  # Broadcom TRX
    (0, b"\x45\x3d\xcd\x28"),  # cramfs
    (0, b"\x28\xcd\x3d\x45"),
    (0, b"-rom1fs-"),
    (0, b"7z\xbc\xaf\x27\x1c"),
    (0, b"\x3a\xff\x26\xed"),  # Android sparse
    (1080, b"\x53\xef"),  # ext2/3/4
)
_FIRMWARE_SUFFIXES = (".bin", ".img", ".trx", ".chk", ".fw", ".ubi", ".ubifs", ".squashfs", ".jffs2", ".rom")
_FILESYSTEMS = ("squashfs", "jffs2", "ubi", "ubifs", "extfs", "cramfs", "romfs", "yaffs", "fat", "iso9660", "erofs")
_JEFFERSON_WHITEOUT = "(overlay-whiteout)"  # how jefferson writes an OpenWrt overlay deletion marker
_PACKAGE_MARKERS = ("/package/package.json",)


def _read_jffs2(path, offset, w, size):
    from .jffs2 import extract_jffs2

    return extract_jffs2(path, offset, w, size)


def _read_cramfs(path, offset, w, size):
    from .cramfs import extract_cramfs

    return extract_cramfs(path, offset, w)


def _read_extfs(path, offset, w, size):
    from .extfs import extract_extfs

    return extract_extfs(path, offset, w)


_FILESYSTEM_READERS = {
    "squashfs": lambda path, offset, w, size: native.extract_squashfs(path, offset, w),
    "jffs2": _read_jffs2,
    "cramfs": _read_cramfs,
    "extfs": _read_extfs,
}
"""Filesystems veracity reads itself: unblob finds them, these read them without losing links, modes,
devices or hard links (as sasquatch-less unsquashfs, jefferson, 7z and debugfs do)."""


def _own_reader(handler: str | None) -> str | None:
    if not handler:
        return None
    for prefix in _FILESYSTEM_READERS:
        if handler.startswith(prefix):
            return prefix
    return None


@dataclass(slots=True)
class Unpacked:
    target_kind: str
    trees: list[Tree] = field(default_factory=list)
    containers: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    depth: int = 0


def render_chain(chain: tuple[str, ...]) -> str:
    return "!".join(chain)


class Packed:
    """What earlier scans learnt about files by their packed bytes (see ``SquashFS.packed_key``): their sha256,
    size and whether their head says they hold something to open, kept in the inventory cache. A file found
    there is recorded without being decompressed (``TreeWriter.lazy_file``); its facts and the checks' results
    come from the cache too, so a new version of a product costs what changed in it."""

    def __init__(self, cache: Any):
        self.cache = cache
        self.open: list[Any] = []
        """Images that lazily recorded files still read from: closed by :meth:`close`."""

    def get(self, key: str) -> tuple[str, int, bool] | None:
        return self.cache.packed_get(key)

    def put(self, key: str, node: Node) -> None:
        head = head_of(node, HEAD)
        if head is not None:
            self.cache.packed_put(key, node.sha256, node.size, head_is_container(head))

    def close(self) -> None:
        for obj in reversed(self.open):
            try:
                obj.close()
            except (OSError, ValueError, BufferError):
                pass
        self.open.clear()


class AheadHook(Protocol):
    """What the engine tells of its trees (veracity.ahead.Ahead)."""

    def watch(self, tree: Tree, trees: list[Tree], packed: int) -> Callable[[Node], None] | None:
        """``tree`` is started (``trees``: every tree so far; ``packed``: its bytes in the image): the function to
        tell of each file written, or None."""

    def __call__(self, tree: Tree, trees: list[Tree], rest: Callable[[], None]) -> None:
        """``tree`` is read: run ``rest``, the opening of what it holds."""


class Engine:
    def __init__(self, workdir: Path, limits: Limits, progress: Callable[[str], None] | None = None,
                 cache: Any = None, ahead: AheadHook | None = None):
        self.workdir = workdir
        self.limits = limits
        self.budget = Budget(limits)
        self.progress = progress or (lambda _msg: None)
        self._n = 0
        self._stopped: LimitExceeded | None = None
        self.out: Unpacked = Unpacked("firmware")
        self.packed = Packed(cache) if cache is not None and getattr(cache, "db", None) is not None else None
        self._writers: dict[int, TreeWriter] = {}
        self.ahead = ahead
        """Told of each tree as it is started and once it is read (see veracity.ahead: its files are worked on
        meanwhile)."""

    def close(self) -> None:
        """Release what lazily recorded files still need (call when the scan is done with the trees)."""
        for w in self._writers.values():
            w.close()
        self._writers.clear()
        if self.packed is not None:
            self.packed.close()

    # -- entry point ----------------------------------------------------------------------------------

    def run(self, target: Path) -> Unpacked:
        name = target.name or str(target)
        chain = (name,)
        if target.is_dir() and not target.is_symlink():
            self.out.target_kind = "directory"
            tree = Tree(chain, "directory")
            self._walk(target, tree, remove_specials=False)
            self.out.trees.append(tree)
            self._descend(tree, 0)
        else:
            kind = self._blob(target, chain, 0, top=True)
            self.out.target_kind = kind
        return self.out

    # -- helpers ------------------------------------------------------------------------------------------

    def _new_dir(self) -> Path:
        self._n += 1
        path = self.workdir / f"u{self._n}"
        path.mkdir(parents=True, exist_ok=False)
        return path

    def _finding(self, rule, *, path: str | None, chain: tuple[str, ...], evidence: str, offset=None, key=None):
        self.out.findings.append(
            rule.finding(path=path, container=chain, evidence=evidence, offset=offset, key=key)
        )

    def _error(self, where: str, message: str) -> None:
        self.out.errors.append({"path": where, "message": message})

    def _limit(self, exc: LimitExceeded, *, path: str | None, chain: tuple[str, ...]) -> None:
        self._error(render_chain(chain) + (f"!{path}" if path else ""), str(exc))
        self._finding(rules.LIMIT_HIT, path=path, chain=chain, evidence=str(exc), key=exc.limit)
        if exc.limit in ("timeout", "max_bytes", "max_files"):
            self._stopped = exc  # scan-wide budgets: stop opening anything else

    def _container(self, chain: tuple[str, ...], fmt: str, offset: int, size: int) -> tuple[str, ...]:
        self.out.containers.append(
            {"path": render_chain(chain), "format": fmt, "offset": offset, "size": size}
        )
        return (*chain, f"{fmt}@{offset:#x}")

    # -- blobs --------------------------------------------------------------------------------------------

    def _blob(self, path: Path, chain: tuple[str, ...], depth: int, *, top: bool = False, inner: str | None = None) -> str:
        """Open the file at ``path``; returns the target kind it amounts to."""
        where = None if top else inner
        outer = chain if top else chain[:-1]
        if self._stopped:
            return "firmware"
        if depth >= self.limits.max_depth:
            self._limit(
                LimitExceeded("max_depth", f"nesting depth limit of {self.limits.max_depth} reached; not opened"),
                path=where,
                chain=outer,
            )
            return "firmware"
        self.out.depth = max(self.out.depth, depth + 1)
        size = path.stat().st_size
        fmt = native.sniff(path)
        self.progress(f"opening {render_chain(chain)} ({fmt or 'carving'})")
        try:
            if fmt is not None:
                return self._native(path, fmt, chain, depth, size, where=where, outer=outer)
            return self._carve(path, chain, depth, size, top=top, where=where, outer=outer)
        except LimitExceeded as exc:
            self._limit(exc, path=where, chain=outer)
            return "firmware"
        except Exception as exc:  # noqa: BLE001 - a bug met on one container must not end the scan
            self._error(render_chain(chain), f"internal error: {exc!r}")
            self._finding(
                rules.EXTRACT_FAILED, path=where, chain=outer, evidence=f"internal error: {exc!r}", key="internal"
            )
            return "firmware"

    def _native(self, path, fmt, chain, depth, size, *, where, outer) -> str:
        if fmt == "squashfs":
            return self._filesystem("squashfs", path, 0, size, chain, depth, where=where, outer=outer)
        if fmt == "tar":
            layers = self._try(lambda: native.image_layers(path), where, outer)
            if layers:
                sub = self._container(chain, "container-image", 0, size)
                tree, w = self._tree(sub, "container-image", size)
                self._run(lambda: native.extract_image(path, layers, w), tree, where, outer)
                self._done(tree, depth)
                return "container-image"
        sub = self._container(chain, fmt, 0, size)
        tree, w = self._tree(sub, fmt, size, archive=fmt in ("tar", "zip", "cpio") or fmt.startswith("tar."))
        if fmt == "zip":
            self._run(lambda: native.extract_zip(path, w), tree, where, outer)
        elif fmt == "cpio":
            self._run(lambda: native.extract_cpio(path, w), tree, where, outer)
        elif fmt == "tar" or fmt.startswith("tar."):
            self._run(lambda: native.extract_tar(path, fmt, w), tree, where, outer)
        else:
            inner_name = _stream_inner_name(path, where)
            self._run(lambda: native.extract_stream(path, fmt, w, inner_name), tree, where, outer)
        kind = "archive"
        if self._is_package(tree, path):
            kind = "package"
            self._package_links(tree)
        self._done(tree, depth)
        return kind

    def _is_package(self, tree: Tree, path: Path) -> bool:
        if any(p.endswith(".dist-info/WHEEL") and p.count("/") == 2 for p in tree.nodes):
            return True
        if any(p in tree.nodes for p in _PACKAGE_MARKERS):
            return True
        return any(p.endswith("/PKG-INFO") and p.count("/") == 2 for p in tree.nodes)

    def _package_links(self, tree: Tree) -> None:
        for node in tree.nodes.values():
            if node.kind == "symlink" and node.link_target and node.link_target.startswith("/"):
                self._finding(
                    rules.LINK_ESCAPE, path=node.path, chain=tree.container,
                    evidence=f"{node.path} -> {node.link_target}", key=node.link_target,
                )
            elif node.kind in ("chardev", "blockdev"):
                self._finding(rules.DEVICE_NODE, path=node.path, chain=tree.container, evidence=f"{node.kind} {node.rdev}")

    def _tree(self, chain, fmt, packed, *, archive=False) -> tuple[Tree, TreeWriter]:
        tree = Tree(chain, fmt)
        w = TreeWriter(
            self._new_dir(), tree, self.budget, RatioGuard(self.limits, packed), self.out.findings, archive=archive
        )
        self._writers[id(tree)] = w
        if self.ahead is not None:  # its files worked on as they are written
            w.on_file = self.ahead.watch(tree, self.out.trees, packed)
        return tree, w

    def _try(self, fn, where, outer):
        try:
            return fn()
        except native.FormatError as exc:
            self._error(render_chain(outer) + (f"!{where}" if where else ""), str(exc))
            self._finding(rules.EXTRACT_FAILED, path=where, chain=outer, evidence=str(exc), key="format")
            return None

    def _run(self, fn, tree: Tree, where, outer) -> None:
        try:
            fn()
        except native.FormatError as exc:
            self._error(render_chain(tree.container), str(exc))
            self._finding(
                rules.EXTRACT_FAILED, path=where, chain=outer, evidence=f"{tree.format}: {exc}", key=tree.format
            )
        except LimitExceeded as exc:
            self._limit(exc, path=where, chain=outer)

    def _done(self, tree: Tree, depth: int) -> None:
        w = self._writers.pop(id(tree), None)
        if w is not None:
            w.close()  # its open directory: a thousand nested trees must not hold a thousand descriptors
        if len(tree) > 1 or any(n.kind != "dir" for n in tree.nodes.values()):
            self.out.trees.append(tree)
            if self.ahead is not None:
                self.ahead(tree, self.out.trees, lambda: self._descend(tree, depth + 1))
            else:
                self._descend(tree, depth + 1)

    def _filesystem(self, fmt, path, offset, size, chain, depth, *, where, outer) -> str:
        """A filesystem read by a project-owned reader (no external tool, nothing lost on the way)."""
        sub = self._container(chain, fmt, offset, size)
        tree, w = self._tree(sub, fmt, size)
        errors: list[str] = []
        if fmt == "squashfs":  # the one reader that can key files by their packed bytes
            self._run(lambda: errors.extend(native.extract_squashfs(path, offset, w, self.packed)), tree, where,
                      outer)
        else:
            extract = _FILESYSTEM_READERS[fmt]
            self._run(lambda: errors.extend(extract(path, offset, w, size)), tree, where, outer)
        for message in errors:
            self._error(render_chain(sub), message)
            self._finding(rules.UNREADABLE, path=None, chain=sub, evidence=message, key=message)
        self._done(tree, depth)
        return "filesystem" if offset == 0 else "firmware"

    def _carve(self, path, chain, depth, size, *, top, where, outer) -> str:
        try:
            chunks = unblobber.carve(path)
        except Exception as exc:  # noqa: BLE001 - unblob's carving must never abort the scan
            chunks = []
            self._error(render_chain(chain), f"carving failed: {exc}")
        known = [c for c in chunks if c.handler]
        if top and not known:
            self._whole_file(path, chain)
            return "firmware"
        blob_tree: Tree | None = None
        kind = "firmware"
        if len(known) == 1 and known[0].start == 0 and known[0].end >= size:
            kind = "filesystem" if known[0].handler.startswith(_FILESYSTEMS) else "archive"
        for chunk in chunks:
            if self._stopped:
                break
            if chunk.handler is None:
                if top:
                    blob_tree = blob_tree or Tree(chain, "blob")
                    self._carve_raw(path, chunk, blob_tree)
                continue
            own = _own_reader(chunk.handler)
            if own is not None:
                self._filesystem(own, path, chunk.start, chunk.end - chunk.start, chain, depth, where=where, outer=outer)
                continue
            ok = self._unblob_chunk(path, chunk, chain, depth, size, where=where, outer=outer)
            if not ok and top:
                blob_tree = blob_tree or Tree(chain, "blob")
                self._carve_raw(path, chunk, blob_tree)
        if blob_tree is not None and len(blob_tree):
            self.out.trees.append(blob_tree)
        return kind

    def _carve_raw(self, path: Path, chunk: unblobber.Chunk, tree: Tree) -> None:
        """Keep an unrecognised region of the target as a file, so the inventory still reads its bytes."""
        if chunk.handler is None:
            self._finding(
                rules.UNKNOWN_DATA, path=None, chain=tree.container, offset=chunk.start,
                evidence=f"{chunk.end - chunk.start} bytes at {chunk.start:#x}-{chunk.end:#x} not recognised",
            )
        if "/" not in tree.nodes:
            tree.add(Node("/", "dir", 0o755))
        w = TreeWriter(self._new_dir(), tree, self.budget, RatioGuard(self.limits, chunk.end), self.out.findings)

        def region():
            with path.open("rb") as fh:
                fh.seek(chunk.start)
                left = chunk.end - chunk.start
                while left > 0:
                    data = fh.read(min(1 << 20, left))
                    if not data:
                        return
                    left -= len(data)
                    yield data

        w.file(f"{chunk.start:#x}-{chunk.end:#x}.{chunk.format}", region(), 0o644)

    def _whole_file(self, path: Path, chain: tuple[str, ...]) -> None:
        """A target that is neither a container nor a firmware layout: analyse it as a single file."""
        with path.open("rb") as fh:
            head = fh.read(HEAD)
        if not (head.startswith(b"\x7fELF") or _printable(head)):
            self._finding(
                rules.NOTHING_UNPACKED, path=None, chain=chain,
                evidence=f"{path.stat().st_size} bytes; no archive, filesystem or firmware header found",
            )
        tree = Tree(chain, "file")
        tree.add(Node("/", "dir", 0o755))
        st = path.stat()
        self.budget.add_file()
        tree.add(Node("/" + path.name, "file", stat.S_IMODE(st.st_mode), 0, 0, st.st_size, disk_path=str(path)))
        self.out.trees.append(tree)

    def _unblob_chunk(self, path, chunk, chain, depth, size, *, where, outer) -> bool:
        sub = self._container(chain, chunk.format, chunk.start, chunk.end - chunk.start)
        if chunk.start == 0 and chunk.end >= size:
            inpath = path
        else:
            inpath = self._new_dir() / f"chunk.{chunk.format}"
            with path.open("rb") as src, inpath.open("wb") as dst:
                src.seek(chunk.start)
                left = chunk.end - chunk.start
                while left > 0 and (data := src.read(min(1 << 20, left))):
                    dst.write(data)
                    left -= len(data)
        outdir = self._new_dir() / "out"
        try:
            message = unblobber.extract(chunk.handler, inpath, outdir, self.budget, chunk.end - chunk.start)
        except LimitExceeded as exc:
            self._limit(exc, path=where, chain=sub)
            message = None
        finally:
            if inpath != path:
                inpath.unlink(missing_ok=True)
        tree = Tree(sub, chunk.format)
        if outdir.exists():
            try:
                self._walk(outdir, tree, remove_specials=True)
            except LimitExceeded as exc:
                self._limit(exc, path=where, chain=sub)
            self._apply_sidecar(outdir, tree)
        if message:
            self._error(render_chain(sub), message)
            self._finding(
                rules.EXTRACT_FAILED, path=where, chain=outer, offset=chunk.start,
                evidence=f"{chunk.format} at {chunk.start:#x}: {message}", key=f"{chunk.format}@{chunk.start}",
            )
        if len(tree):
            self.out.trees.append(tree)
            self._descend(tree, depth + 1)
            return True
        return False

    # -- trees ---------------------------------------------------------------------------------------------

    def _walk(self, root: Path, tree: Tree, *, remove_specials: bool) -> None:
        """Record an on-disk tree (an extractor's output or a directory target) without following links."""
        tree.add(Node("/", "dir", 0o755))
        stack = [(str(root), "")]
        while stack:
            self.budget.check_time()
            disk, rel = stack.pop()
            try:
                entries = sorted(os.scandir(disk), key=lambda e: e.name)
            except OSError as exc:
                self._finding(rules.UNREADABLE, path=rel or "/", chain=tree.container, evidence=str(exc.strerror))
                continue
            for entry in entries:
                path = f"{rel}/{entry.name}"
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                mode = stat.S_IMODE(st.st_mode)
                fmt = stat.S_IFMT(st.st_mode)
                self.budget.add_file()
                if fmt == stat.S_IFDIR:
                    tree.add(Node(path, "dir", mode, st.st_uid, st.st_gid))
                    stack.append((entry.path, path))
                elif fmt == stat.S_IFREG:
                    tree.add(Node(path, "file", mode, st.st_uid, st.st_gid, st.st_size, disk_path=entry.path))
                elif fmt == stat.S_IFLNK:
                    target = os.readlink(entry.path)
                    if target == _JEFFERSON_WHITEOUT:
                        tree.add(Node(path, "whiteout", mode, st.st_uid, st.st_gid))
                        continue
                    tree.add(Node(path, "symlink", mode, st.st_uid, st.st_gid, len(target), link_target=target))
                    if climbs_out(path, target):
                        self._finding(
                            rules.LINK_ESCAPE, path=path, chain=tree.container,
                            evidence=f"{path} -> {target}", key=target,
                        )
                else:
                    kind = {stat.S_IFCHR: "chardev", stat.S_IFBLK: "blockdev", stat.S_IFIFO: "fifo"}.get(fmt, "socket")
                    rdev = (os.major(st.st_rdev), os.minor(st.st_rdev)) if kind.endswith("dev") else None
                    tree.add(Node(path, kind, mode, st.st_uid, st.st_gid, rdev=rdev))
                    if remove_specials:
                        os.unlink(entry.path)

    def _apply_sidecar(self, outdir: Path, tree: Tree) -> None:
        """Restore what an extractor could not write (modes, link targets) from its listing."""
        side = unblobber.sidecar_path(outdir)
        if not side.exists():
            return
        try:
            meta = json.loads(side.read_text())
        except (OSError, ValueError):
            return
        for raw, info in meta.items():
            path = "/" + raw.strip("/")
            node = tree.nodes.get(path)
            if node is None and "link" not in info:
                continue
            if "link" in info:
                if node is not None and node.kind == "file" and node.disk_path:
                    os.unlink(node.disk_path)
                target = info["link"]
                tree.add(Node(path, "symlink", info.get("mode", 0o777), link_target=target, size=len(target)))
                if climbs_out(path, target):
                    self._finding(rules.LINK_ESCAPE, path=path, chain=tree.container,
                                  evidence=f"{path} -> {target}", key=target)
            elif node.kind in ("file", "dir"):
                tree.add(replace(node, mode=info["mode"]))

    def _descend(self, tree: Tree, depth: int) -> None:
        for node in list(tree.nodes.values()):
            if self._stopped:
                return
            if node.kind != "file" or node.disk_path is None or node.link_target is not None:
                continue
            if node.size < 64 or not _looks_like_container(node):
                continue
            if self.packed is not None and (self._lazy_stream(node, tree, depth) or self._known_empty(node, depth)):
                continue
            try:
                disk = on_disk(node)
            except OSError as exc:
                self._finding(rules.UNREADABLE, path=node.path, chain=tree.container, evidence=str(exc),
                              key="lazy")
                continue
            trees, findings = len(self.out.trees), len(self.out.findings)
            said = len(self.out.containers) + len(self.out.errors)
            chain = (*tree.container, node.path)
            self._blob(Path(disk), chain, depth, inner=node.path)  # type: ignore[arg-type]
            if self.packed is not None:
                self._remember_stream(node, chain, trees, findings)
                if node.sha256 and len(self.out.trees) == trees and len(self.out.findings) == findings \
                        and len(self.out.containers) + len(self.out.errors) == said and not self._stopped:
                    self.packed.cache.keep(_EMPTY, node.sha256, True)  # looked like a container, held nothing

    def _known_empty(self, node: Node, depth: int) -> bool:
        """A file that looked like a container but held nothing in an earlier scan (by content): not again."""
        if not node.sha256 or depth >= self.limits.max_depth or self._stopped:
            return False
        if self.packed.cache.result(_EMPTY, node.sha256) is not True:  # type: ignore[union-attr]
            return False
        self.out.depth = max(self.out.depth, depth + 1)  # as if opened
        return True

    # -- compressed streams known from the cache -----------------------------------------------------------

    def _remember_stream(self, node: Node, chain: tuple[str, ...], trees: int, findings: int) -> None:
        """After a clean unpacking of a single compressed stream (a .gz beside others), keep what it held."""
        if not node.sha256 or len(self.out.findings) != findings or len(self.out.trees) <= trees:
            return
        first = self.out.trees[trees]
        if first.format not in native.STREAM_FORMATS or first.container[:-1] != chain:
            return
        files = [n for n in first.nodes.values() if n.kind != "dir"]
        if len(files) != 1 or files[0].kind != "file" or not files[0].sha256 or files[0].fetch is not None:
            return
        inner = files[0]
        head = head_of(inner, HEAD)
        if head is not None:
            self.packed.cache.stream_put(node.sha256, first.format, inner.sha256,  # type: ignore[union-attr]
                                         inner.size, head_is_container(head))

    def _lazy_stream(self, node: Node, tree: Tree, depth: int) -> bool:
        """A compressed stream not yet written whose content the cache knows: its tree is made without reading
        it (the inner file is written, from the stream, only if something reads it)."""
        fetch = node.fetch
        if not isinstance(fetch, LazyContent) or fetch.done or not node.sha256 or depth >= self.limits.max_depth \
                or self._stopped:
            return False
        known = self.packed.cache.stream_get(node.sha256)  # type: ignore[union-attr]
        if known is None:
            return False
        fmt, sha, size, head = known
        self.out.depth = max(self.out.depth, depth + 1)
        sub = self._container((*tree.container, node.path), fmt, 0, node.size)
        inner_tree, w = self._tree(sub, fmt, node.size)

        def content() -> Iterator[bytes]:
            with native.open_stream(Path(on_disk(node)), fmt) as fh:  # type: ignore[arg-type]
                yield from native.chunks(fh)

        try:
            w.lazy_file(_stream_inner_name(Path(node.disk_path or node.path), node.path), sha, size, content, head)
        except LimitExceeded as exc:
            self._limit(exc, path=node.path, chain=tree.container)
            return True
        self._done(inner_tree, depth)
        return True


def _printable(head: bytes) -> bool:
    if not head:
        return True
    text = sum(1 for b in head if 32 <= b < 127 or b in (9, 10, 13))
    return text / len(head) > 0.9


_EMPTY = "nothing-inside"
"""Results namespace: files whose container-like head led to nothing when they were opened."""


def _stream_inner_name(path: Path, where: str | None) -> str:
    """The name of what a compressed stream holds: its own name without the last extension (or + ``.out``)."""
    stem = path.name.rsplit(".", 1)[0] if "." in path.name else path.name
    inner_name = (where or "/" + stem).rsplit("/", 1)[-1]
    return inner_name.rsplit(".", 1)[0] if "." in inner_name else inner_name + ".out"


def head_is_container(head: bytes) -> bool:
    """Whether the first HEAD bytes of a file say it holds something to open (by magic, not by name)."""
    if native.sniff_bytes(head) is not None:
        return True
    return any(head[offset : offset + len(magic)] == magic for offset, magic in _MAGICS)


def _looks_like_container(node: Node) -> bool:
    fetch = node.fetch
    if node.name.lower().endswith(_FIRMWARE_SUFFIXES):
        # named like an image: opened whatever its head says, unless it is a program (``mkfs.jffs2``), which is
        # judged like every other ELF file
        try:
            on_disk(node)
        except OSError:
            return True  # said by the caller, which cannot write it either
        head = head_of(node, HEAD)
        return head is None or not head.startswith(b"\x7fELF") or head_is_container(head)
    if isinstance(fetch, LazyContent) and not fetch.done:
        return fetch.container_head  # known from the cache: written only if it has to be opened
    head = head_of(node, HEAD)
    return head is not None and head_is_container(head)
