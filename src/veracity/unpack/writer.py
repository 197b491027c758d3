"""The only way project-owned extractors put anything on disk.

Paths are normalised before anything is written: ``..`` that climbs out, NUL bytes and empty names are
refused and reported. Directories are walked with ``O_NOFOLLOW`` file descriptors from the tree's root,
so nothing can be written through a link. Symbolic links, hard links and device nodes are never created
on disk: they live in the :class:`~veracity.tree.Tree` only, with the original target kept.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from ..findings import Finding
from ..limits import Budget, RatioGuard
from ..tree import Node, Tree, climbs_out
from . import rules

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
_CHECK_EVERY = 64


class LazyContent:
    """``Node.fetch`` of a file recorded before it is written: its content comes from ``content()`` (the image's
    own reader) the first time something reads it, into a temporary name that is then renamed, so a reader in
    another process (the checks' child) never sees half a file. The bytes must hash to what the cache said."""

    __slots__ = ("container_head", "content", "done", "path", "sha256", "size", "writer")

    def __init__(self, writer: TreeWriter, path: str, sha256: str, size: int,
                 content: Callable[[], Iterable[bytes]], container_head: bool):
        self.writer = writer
        self.path = path
        self.sha256 = sha256
        self.size = size
        """What the cache says the content holds: writing stops past it (a stream may lie)."""
        self.content = content
        self.container_head = container_head
        """Whether the file's first bytes say it holds something to open (known from the cache)."""
        self.done = False

    def __call__(self) -> None:
        if self.done:
            return
        fd = self.writer._walk_to_parent(self.path)
        if fd is None:
            raise OSError(errno.EIO, f"{self.path}: its directory cannot be written")
        name = self.path.rsplit("/", 1)[1]
        tmp = f".{name[:200]}.veracity-{os.getpid()}"
        digest = hashlib.sha256()
        try:
            out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=fd)
            try:
                written = 0
                for chunk in self.content():
                    written += len(chunk)
                    if written > self.size:
                        raise OSError(errno.EIO, f"{self.path}: more content than the cache's record of it")
                    digest.update(chunk)
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(out, view) :]
            finally:
                os.close(out)
            if digest.hexdigest() != self.sha256:
                raise OSError(errno.EIO, f"{self.path}: content differs from the cache's record of it")
            os.rename(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
            self.done = True
        except Exception as exc:
            try:
                os.unlink(tmp, dir_fd=fd)
            except OSError:
                pass
            if isinstance(exc, OSError):
                raise
            raise OSError(errno.EIO, f"{self.path}: {exc}") from exc  # the image's reader: a damaged block
        finally:
            os.close(fd)


class TreeWriter:
    """Writes one tree under ``root`` and records it in ``tree``.

    ``archive`` marks member-list formats (tar, zip, cpio, packages): only there can an entry be written
    through a link of the same archive. ``strict_links`` (packages) also reports absolute link targets.
    """

    def __init__(
        self,
        root: Path,
        tree: Tree,
        budget: Budget,
        ratio: RatioGuard,
        findings: list[Finding],
        *,
        archive: bool = False,
        strict_links: bool = False,
    ):
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.tree = tree
        self.budget = budget
        self.ratio = ratio
        self.findings = findings
        self.archive = archive
        self.strict_links = strict_links
        self.on_file: Callable[[Node], None] | None = None
        """Told of each regular file once it is written (see veracity.ahead)."""
        self._last: tuple[str, int] | None = None
        """The parent directory opened last (its path, an fd of it): files come grouped by directory, so
        most writes need no walk from the root. Dropped by anything that can change what a path is."""
        if "/" not in tree.nodes:
            tree.add(Node("/", "dir", 0o755))

    def close(self) -> None:
        self._forget()

    def __del__(self) -> None:
        self._forget()

    def _replacing(self, path: str) -> None:
        """``path`` is about to become something else: forget the open parent if it is, or lies under, it."""
        if self._last is not None and (self._last[0] == path or self._last[0].startswith(path + "/")):
            self._forget()

    def _forget(self) -> None:
        last, self._last = getattr(self, "_last", None), None
        if last is not None:
            os.close(last[1])

    # -- names -------------------------------------------------------------------------------------

    def normalise(self, raw: str, *, is_dir: bool = False) -> str | None:
        """``raw`` member name -> ``/a/b``; None (and a finding) when it must not be written."""
        if "\x00" in raw:
            self._report(rules.UNSAFE_NAME, None, f"name with NUL byte: {raw!r}", key=raw)
            return None
        parts: list[str] = []
        for part in raw.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    self._report(rules.PATH_TRAVERSAL, "/" + raw.lstrip("/"), f"member name: {raw}", key=raw)
                    return None
                parts.pop()
                continue
            parts.append(part)
        if not parts:
            return "/" if is_dir else None
        return "/" + "/".join(parts)

    def _report(self, rule, path: str | None, evidence: str, *, key: str | None = None) -> None:
        self.findings.append(rule.finding(path=path, container=self.tree.container, evidence=evidence, key=key))

    # -- directories ---------------------------------------------------------------------------------

    def _parent_fd(self, path: str) -> int | None:
        """Open (creating as needed) the on-disk parent directory of ``path``; None if it must not be."""
        parent = path.rstrip("/").rsplit("/", 1)[0]
        if self._last is not None and self._last[0] == parent:
            return os.dup(self._last[1])
        fd = self._walk_to_parent(path)
        if fd is not None:
            self._forget()
            self._last = (parent, os.dup(fd))
        return fd

    def _walk_to_parent(self, path: str) -> int | None:
        parts = path.strip("/").split("/")[:-1]
        fd = os.open(self.root, _DIR_FLAGS)
        current = ""
        try:
            for part in parts:
                current += "/" + part
                node = self.tree.nodes.get(current)
                if node is not None and node.kind != "dir":
                    if node.kind == "symlink" and self.archive:
                        self._report(
                            rules.WRITE_THROUGH_LINK, path, f"{current} -> {node.link_target}", key=path
                        )
                    else:
                        self._report(rules.UNSAFE_NAME, path, f"parent {current} is a {node.kind}", key=path)
                    os.close(fd)
                    return None
                if node is None:
                    self._add(Node(current, "dir", 0o755))
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
                nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nfd
            return fd
        except OSError as exc:
            os.close(fd)
            self._os_error(path, exc)
            return None

    def _os_error(self, path: str, exc: OSError) -> None:
        if exc.errno == errno.ENAMETOOLONG:
            self._report(rules.UNSAFE_NAME, path, "name too long for the work file system", key=path)
        else:
            self._report(rules.UNREADABLE, path, f"cannot write: {exc.strerror}", key=path)

    def _add(self, node: Node) -> None:
        if node.path not in self.tree.nodes:
            self.budget.add_file()
        self.tree.add(node)

    def dir(self, raw: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        path = self.normalise(raw, is_dir=True)
        if path is None:
            return
        if path == "/":
            self.tree.add(Node("/", "dir", mode & 0o7777, uid, gid))
            return
        existing = self.tree.nodes.get(path)
        if existing is not None and existing.kind != "dir":
            self.remove(path)
        fd = self._parent_fd(path)
        if fd is None:
            return
        try:
            os.mkdir(path.rsplit("/", 1)[1], 0o755, dir_fd=fd)
        except FileExistsError:
            pass
        except OSError as exc:
            self._os_error(path, exc)
            return
        finally:
            os.close(fd)
        self._add(Node(path, "dir", mode & 0o7777, uid, gid))

    # -- files ---------------------------------------------------------------------------------------

    def lazy_file(
        self, raw: str, sha256: str, size: int, content: Callable[[], Iterable[bytes]], container_head: bool,
        mode: int = 0o644, uid: int = 0, gid: int = 0,
    ) -> Node | None:
        """A regular file whose content the cache knows (by the image's packed bytes): recorded now with its
        hash and size, counted against the limits as if written, written when first read (``Node.fetch``)."""
        path = self.normalise(raw)
        if path is None:
            return None
        existing = self.tree.nodes.get(path)
        if existing is not None and existing.kind == "dir":
            self.remove(path)
        fd = self._parent_fd(path)  # the directories exist, and nothing is written through a link
        if fd is None:
            return None
        os.close(fd)
        self.budget.add_bytes(size)
        self.ratio.add(size)
        self.budget.check_time()
        fetch = LazyContent(self, path, sha256, size, content, container_head)
        node = Node(path, "file", mode & 0o7777, uid, gid, size, sha256=sha256, disk_path=str(self.root) + path,
                    fetch=fetch)
        self._add(node)
        return node

    def file(
        self, raw: str, chunks: Iterable[bytes], mode: int = 0o644, uid: int = 0, gid: int = 0
    ) -> Node | None:
        path = self.normalise(raw)
        if path is None:
            return None
        existing = self.tree.nodes.get(path)
        if existing is not None and existing.kind == "dir":
            self.remove(path)
        fd = self._parent_fd(path)
        if fd is None:
            return None
        name = path.rsplit("/", 1)[1]
        digest = hashlib.sha256()
        size = 0
        try:
            try:
                out = os.open(name, _FILE_FLAGS, 0o600, dir_fd=fd)
            except OSError as exc:
                self._os_error(path, exc)
                return None
            try:
                for i, chunk in enumerate(chunks):
                    if not chunk:
                        continue
                    self.budget.add_bytes(len(chunk))
                    self.ratio.add(len(chunk))
                    if i % _CHECK_EVERY == 0:
                        self.budget.check_time()
                    digest.update(chunk)
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(out, view) :]
                    size += len(chunk)
            finally:
                os.close(out)
        finally:
            os.close(fd)
        node = Node(
            path,
            "file",
            mode & 0o7777,
            uid,
            gid,
            size,
            sha256=digest.hexdigest(),
            disk_path=str(self.root) + path,
        )
        self._add(node)
        if self.on_file is not None:
            self.on_file(node)
        return node

    def symlink(self, raw: str, target: str, mode: int = 0o777, uid: int = 0, gid: int = 0) -> None:
        path = self.normalise(raw)
        if path is None:
            return
        self._replacing(path)
        if not target or "\x00" in target:
            self._report(rules.UNSAFE_NAME, path, f"symlink with unusable target {target!r}", key=path)
            return
        if self.tree.nodes.get(path, Node(path, "file")).kind == "dir":
            self.remove(path)
        if climbs_out(path, target) or (self.strict_links and target.startswith("/")):
            self._report(rules.LINK_ESCAPE, path, f"{path} -> {target}", key=target)
        if self._parent_fd_closed(path):
            self._add(Node(path, "symlink", mode & 0o7777, uid, gid, len(target), link_target=target))

    def hardlink(self, raw: str, target_raw: str, mode: int | None = None, uid: int = 0, gid: int = 0) -> None:
        path = self.normalise(raw)
        if path is None:
            return
        self._replacing(path)
        target = self.normalise(target_raw)
        if target is None:
            # normalise already reported a climbing target as traversal; say it is a link too
            self._report(rules.LINK_ESCAPE, path, f"hard link {path} => {target_raw}", key=target_raw)
            return
        source = self.tree.nodes.get(target)
        if source is None or source.kind != "file":
            self._report(rules.UNREADABLE, path, f"hard link to missing file {target}", key=path)
            return
        if self._parent_fd_closed(path):
            self._add(
                Node(
                    path,
                    "file",
                    source.mode if mode is None else mode & 0o7777,
                    uid,
                    gid,
                    source.size,
                    link_target=target,
                    sha256=source.sha256,
                    disk_path=source.disk_path,
                )
            )

    def special(
        self, raw: str, kind: str, rdev: tuple[int, int] | None = None, mode: int = 0o600, uid: int = 0, gid: int = 0
    ) -> None:
        """Device nodes, fifos and sockets: recorded, never created."""
        path = self.normalise(raw)
        if path is None:
            return
        self._replacing(path)
        if self.archive and self.strict_links and kind in ("chardev", "blockdev"):
            self._report(rules.DEVICE_NODE, path, f"{kind} {rdev}", key=path)
        if self._parent_fd_closed(path):
            self._add(Node(path, kind, mode & 0o7777, uid, gid, rdev=rdev))

    def _parent_fd_closed(self, path: str) -> bool:
        fd = self._parent_fd(path)
        if fd is None:
            return False
        os.close(fd)
        return True

    # -- removal (OCI whiteouts, replaced entries) -------------------------------------------------

    def remove(self, path: str) -> None:
        self._forget()
        prefix = path.rstrip("/") + "/"
        doomed = [p for p in self.tree.nodes if p == path or p.startswith(prefix)]
        for p in doomed:
            node = self.tree.nodes.pop(p)
            self.budget.files -= 1
            del node
        disk = self.root / path.lstrip("/")
        if disk.is_dir() and not disk.is_symlink():
            shutil.rmtree(disk, ignore_errors=True)
        elif disk.exists() or disk.is_symlink():
            disk.unlink()
