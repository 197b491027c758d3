"""Project-owned extractors: archives, compressed streams, SquashFS, container images.

Each one reads a container and feeds a :class:`TreeWriter`; none of them writes to disk directly, so
path safety and limits live in one place. Format errors raise :class:`FormatError`; what was written
before the error stays in the tree.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import mmap
import os
import stat
import tarfile
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import zstandard

from .writer import TreeWriter

CHUNK = 1 << 20


class FormatError(Exception):
    """The container is malformed or not what its magic promised."""


def _chunks(fh: IO[bytes]) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK):
        yield chunk


# -- sniffing ---------------------------------------------------------------------------------------

_STREAMS: dict[str, tuple[bytes, Callable[[IO[bytes]], IO[bytes]]]] = {
    "gzip": (b"\x1f\x8b", lambda fh: gzip.GzipFile(fileobj=fh)),
    "bzip2": (b"BZh", lambda fh: bz2.BZ2File(fh)),
    "xz": (b"\xfd7zXZ\x00", lambda fh: lzma.LZMAFile(fh, format=lzma.FORMAT_XZ)),  # noqa: SIM115 - the stream owns the file handle it wraps, closed by the caller
    "zstd": (b"\x28\xb5\x2f\xfd", lambda fh: zstandard.ZstdDecompressor().stream_reader(fh)),
}


def _is_tar_header(block: bytes) -> bool:
    if len(block) < 512 or block[257:262] != b"ustar":
        return False
    try:
        stored = int(block[148:156].rstrip(b"\x00 ").decode("ascii") or "0", 8)
    except ValueError:
        return False
    computed = sum(block[:148]) + 8 * 32 + sum(block[156:512])
    return stored == computed


def sniff_bytes(head: bytes) -> str | None:
    """The native format announced by the first bytes of a file (compressed streams not looked into)."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if _is_tar_header(head[:512]):
        return "tar"
    if head.startswith((b"070701", b"070702", b"070707")):
        return "cpio"
    if head[:4] in (b"hsqs", b"sqsh"):
        return "squashfs"
    for name, (magic, _opener) in _STREAMS.items():
        if head.startswith(magic):
            return name
    return None


def sniff(path: Path) -> str | None:
    """The native format of the file at ``path``; a compressed tar is told apart from other streams."""
    try:
        with path.open("rb") as fh:
            fmt = sniff_bytes(fh.read(4096))
            if fmt in _STREAMS:
                fh.seek(0)
                try:
                    inner = _STREAMS[fmt][1](fh).read(512)
                except (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError, ValueError):
                    return fmt
                return f"tar.{fmt}" if _is_tar_header(inner) else fmt
            return fmt
    except OSError:
        return None


# -- tar --------------------------------------------------------------------------------------------

_TAR_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, zstandard.ZstdError, ValueError)


def _open_stream(path: Path, fmt: str) -> IO[bytes]:
    fh: IO[bytes] = path.open("rb")
    if fmt.startswith("tar.") or fmt in _STREAMS:
        name = fmt.removeprefix("tar.")
        return _STREAMS[name][1](fh)
    return fh


def extract_tar_stream(fh: IO[bytes], w: TreeWriter, layer: set[str] | None = None) -> None:
    """Members of a tar stream into ``w``. With ``layer`` (a set to fill), OCI whiteouts are honoured."""
    try:
        with tarfile.open(fileobj=fh, mode="r|") as tf:
            for m in tf:
                name = m.name
                if layer is not None:
                    head, _, base = name.rstrip("/").rpartition("/")
                    if base == ".wh..wh..opq":
                        parent = w.normalise(head, is_dir=True)
                        if parent is not None:
                            _opaque(w, parent, layer)
                        continue
                    if base.startswith(".wh."):
                        victim = w.normalise(f"{head}/{base[4:]}")
                        if victim is not None and victim in w.tree.nodes:
                            w.remove(victim)
                        continue
                    normal = w.normalise(name, is_dir=m.isdir())
                    if normal is not None:
                        layer.add(normal)
                _tar_member(tf, m, w)
    except _TAR_ERRORS as exc:
        raise FormatError(f"tar: {exc}") from exc


def _opaque(w: TreeWriter, parent: str, layer: set[str]) -> None:
    prefix = parent.rstrip("/") + "/"
    for child in [p for p in w.tree.nodes if p.startswith(prefix) and "/" not in p[len(prefix) :]]:
        if child not in layer:
            w.remove(child)


def _tar_member(tf: tarfile.TarFile, m: tarfile.TarInfo, w: TreeWriter) -> None:
    mode = m.mode & 0o7777
    if m.isdir():
        w.dir(m.name, mode, m.uid, m.gid)
    elif m.isreg():
        src = tf.extractfile(m)
        if src is not None:
            w.file(m.name, _chunks(src), mode, m.uid, m.gid)
    elif m.issym():
        w.symlink(m.name, m.linkname, mode, m.uid, m.gid)
    elif m.islnk():
        w.hardlink(m.name, m.linkname, None, m.uid, m.gid)
    elif m.ischr() or m.isblk():
        w.special(m.name, "chardev" if m.ischr() else "blockdev", (m.devmajor, m.devminor), mode, m.uid, m.gid)
    elif m.isfifo():
        w.special(m.name, "fifo", None, mode, m.uid, m.gid)


def extract_tar(path: Path, fmt: str, w: TreeWriter) -> None:
    with _open_stream(path, fmt) as fh:
        extract_tar_stream(fh, w)


# -- zip --------------------------------------------------------------------------------------------


def extract_zip(path: Path, w: TreeWriter) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                mode = info.external_attr >> 16
                perm = (mode & 0o7777) or (0o755 if info.is_dir() else 0o644)
                if info.flag_bits & 0x1:
                    w.findings.append(
                        _unreadable(w, info.filename, "encrypted zip member, not decrypted")
                    )
                    continue
                try:
                    if info.is_dir():
                        w.dir(info.filename, perm)
                    elif stat.S_ISLNK(mode):
                        with zf.open(info) as src:
                            target = src.read(4097)
                        w.symlink(info.filename, target.decode("utf-8", "surrogateescape"), perm)
                    else:
                        with zf.open(info) as src:
                            w.file(info.filename, _chunks(src), perm)
                except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError) as exc:
                    w.findings.append(_unreadable(w, info.filename, f"zip member: {exc}"))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FormatError(f"zip: {exc}") from exc


def _unreadable(w: TreeWriter, raw: str, message: str):
    from . import rules

    return rules.UNREADABLE.finding(path="/" + raw.lstrip("/"), container=w.tree.container, evidence=message)


# -- cpio (newc, crc, odc) --------------------------------------------------------------------------


def extract_cpio(path: Path, w: TreeWriter) -> None:
    # newc stores a hard-link group's data once, with its last member; the earlier members have size 0.
    pending: dict[tuple[int, int, int], list[tuple[str, int, int, int]]] = {}
    first: dict[tuple[int, int, int], str] = {}
    with path.open("rb") as fh:
        while True:
            magic = fh.read(6)
            if len(magic) < 6:
                raise FormatError("cpio: truncated before the trailer")
            if magic in (b"070701", b"070702"):
                hdr = fh.read(104)
                if len(hdr) < 104:
                    raise FormatError("cpio: truncated header")
                try:
                    f = [int(hdr[i : i + 8], 16) for i in range(0, 104, 8)]
                except ValueError as exc:
                    raise FormatError("cpio: bad header") from exc
                ino, mode, uid, gid, nlink, _mtime, size, dmaj, dmin, rmaj, rmin, namesize, _chk = f
                link_key = (dmaj, dmin, ino)
                name = fh.read(namesize)
                fh.read((-(110 + namesize)) % 4)
                pad = (-size) % 4
            elif magic == b"070707":
                hdr = fh.read(70)
                if len(hdr) < 70:
                    raise FormatError("cpio: truncated header")
                try:
                    mode = int(hdr[12:18], 8)
                    uid, gid = int(hdr[18:24], 8), int(hdr[24:30], 8)
                    rdev = int(hdr[36:42], 8)
                    namesize, size = int(hdr[53:59], 8), int(hdr[59:70], 8)
                except ValueError as exc:
                    raise FormatError("cpio: bad header") from exc
                rmaj, rmin = rdev >> 8, rdev & 0xFF
                nlink, link_key = 1, (0, 0, 0)
                name = fh.read(namesize)
                pad = 0
            else:
                raise FormatError(f"cpio: bad magic {magic!r} at {fh.tell() - 6}")
            name_s = name.rstrip(b"\x00").decode("utf-8", "surrogateescape")
            if name_s == "TRAILER!!!":
                for key, members in pending.items():  # a group whose data never came: empty files
                    for m_name, m_perm, m_uid, m_gid in members:
                        if key in first:
                            w.hardlink(m_name, first[key], m_perm, m_uid, m_gid)
                        else:
                            w.file(m_name, [], m_perm, m_uid, m_gid)
                return
            perm = mode & 0o7777
            kind = stat.S_IFMT(mode)
            if kind == stat.S_IFREG and nlink > 1 and size == 0 and link_key not in first:
                pending.setdefault(link_key, []).append((name_s, perm, uid, gid))
            elif kind == stat.S_IFREG and nlink > 1 and link_key in first:
                w.hardlink(name_s, first[link_key], perm, uid, gid)
                fh.seek(size, io.SEEK_CUR)
            elif kind == stat.S_IFREG:
                node = w.file(name_s, _bounded(fh, size), perm, uid, gid)
                if nlink > 1 and node is not None:
                    first[link_key] = node.path
                    for m_name, m_perm, m_uid, m_gid in pending.pop(link_key, []):
                        w.hardlink(m_name, node.path, m_perm, m_uid, m_gid)
            elif kind == stat.S_IFDIR:
                w.dir(name_s, perm, uid, gid)
            elif kind == stat.S_IFLNK:
                w.symlink(name_s, fh.read(min(size, 65536)).decode("utf-8", "surrogateescape"), perm, uid, gid)
                fh.seek(max(0, size - 65536), io.SEEK_CUR)
            elif kind in (stat.S_IFCHR, stat.S_IFBLK):
                w.special(name_s, "chardev" if kind == stat.S_IFCHR else "blockdev", (rmaj, rmin), perm, uid, gid)
            elif kind == stat.S_IFIFO:
                w.special(name_s, "fifo", None, perm, uid, gid)
            if kind != stat.S_IFREG and kind != stat.S_IFLNK:
                fh.seek(size, io.SEEK_CUR)
            fh.seek(pad, io.SEEK_CUR)


def _bounded(fh: IO[bytes], size: int) -> Iterator[bytes]:
    left = size
    while left > 0:
        chunk = fh.read(min(CHUNK, left))
        if not chunk:
            raise FormatError("truncated member")
        left -= len(chunk)
        yield chunk


# -- single compressed streams ------------------------------------------------------------------------


STREAM_FORMATS = frozenset(_STREAMS)


open_stream = _open_stream
"""The decompressed content of a single-stream file (``fmt`` one of :data:`STREAM_FORMATS`)."""
chunks = _chunks


def extract_stream(path: Path, fmt: str, w: TreeWriter, inner_name: str) -> None:
    try:
        with _open_stream(path, fmt) as fh:
            w.file(inner_name, _chunks(fh), 0o644)
    except (OSError, EOFError, lzma.LZMAError, zlib.error, zstandard.ZstdError, ValueError) as exc:
        raise FormatError(f"{fmt}: {exc}") from exc


# -- SquashFS ---------------------------------------------------------------------------------------


_PREFETCH_MAX = 1 << 20
"""Files up to this size are decompressed ahead, on other cores, while earlier ones are written."""
_PREFETCH: ThreadPoolExecutor | None = None


_PREFETCH_PID = 0


def _prefetcher() -> ThreadPoolExecutor:
    global _PREFETCH, _PREFETCH_PID
    if _PREFETCH is None or _PREFETCH_PID != os.getpid():  # threads do not survive a fork
        _PREFETCH = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="prefetch")
        _PREFETCH_PID = os.getpid()
    return _PREFETCH


def feed_writer(entries, reader, error_cls: type[Exception], w: TreeWriter, *, prefetch: bool = False,
                packed: Any = None) -> bool:
    """Put a filesystem reader's entries (``SqEntry``) into ``w``: hard links by inode number, a file that
    cannot be read as an UNREADABLE finding. With ``prefetch``, small files are decompressed ahead on
    other cores (the codecs release the GIL) while earlier ones are written, in walk order. With ``packed``
    (engine.Packed; the reader has ``packed_key``), a file whose packed bytes the cache knows is recorded
    without being decompressed, and every file written is remembered by them. Returns whether any file was
    left for later (then the reader must stay open)."""
    from . import rules

    first_path: dict[int, str] = {}
    pool = _prefetcher() if prefetch else None
    ahead: deque = deque()  # (entry, future or None, packed key, what the cache knows), in walk order
    lazy = False

    def content(e) -> list[bytes] | Exception:
        try:
            return list(reader.read(e))
        except error_cls as exc:
            return exc

    def write(e, fut, key, known) -> None:
        nonlocal lazy
        if e.kind == "dir":
            w.dir(e.path, e.mode, e.uid, e.gid)
        elif e.kind == "file":
            if e.inode in first_path:
                w.hardlink(e.path, first_path[e.inode], e.mode, e.uid, e.gid)
                return
            if known is not None:
                sha, size, head = known
                node = w.lazy_file(e.path, sha, size, lambda e=e: reader.read(e), head, e.mode, e.uid, e.gid)
                if node is not None:
                    lazy = True
                    first_path[e.inode] = node.path
                return
            try:
                if fut is not None:
                    chunks = fut.result()
                    if isinstance(chunks, Exception):
                        raise chunks
                    node = w.file(e.path, chunks, e.mode, e.uid, e.gid)
                else:  # streamed block by block
                    node = w.file(e.path, reader.read(e), e.mode, e.uid, e.gid)
            except error_cls as exc:
                w.findings.append(rules.UNREADABLE.finding(path=e.path, container=w.tree.container, evidence=str(exc)))
                return
            if node is not None:
                first_path[e.inode] = node.path
                if key is not None:
                    packed.put(key, node)
        elif e.kind == "symlink":
            w.symlink(e.path, e.target or "", e.mode, e.uid, e.gid)
        else:
            w.special(e.path, e.kind, e.rdev, e.mode, e.uid, e.gid)

    try:
        for e in entries:
            key = known = None
            if packed is not None and e.kind == "file" and e.inode not in first_path:
                key = reader.packed_key(e)
                known = packed.get(key) if key is not None else None
                if known is not None and known[1] != e.size:
                    known = None  # a record that does not fit: unpack it
            ahead_ok = pool is not None and e.kind == "file" and e.size <= _PREFETCH_MAX and known is None
            ahead.append((e, pool.submit(content, e) if ahead_ok else None, key, known))
            if len(ahead) > 32:
                write(*ahead.popleft())
        while ahead:
            write(*ahead.popleft())
    finally:
        # the caller closes the image's mmap when we return: no prefetch may still be reading it
        for _e, fut, _k, _n in ahead:
            if fut is not None:
                fut.cancel()
        for _e, fut, _k, _n in ahead:
            if fut is not None and not fut.cancelled():
                fut.exception()
    return lazy


def extract_squashfs(path: Path, offset: int, w: TreeWriter, packed: Any = None) -> list[str]:
    """Returns the reader's non-fatal error messages. With ``packed`` (engine.Packed), files the cache knows are
    left for later and the image stays open until ``packed.close()``."""
    from .squashfs import SquashFS, SquashFSError

    fh = path.open("rb")
    data = None
    keep = False
    try:
        data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            fs = SquashFS(data, offset)
            # with a cache, files may be left for later even if unpacking stops half-way: keep the image open
            keep = packed is not None
            feed_writer(fs.walk(), fs, SquashFSError, w, prefetch=True, packed=packed)
        except SquashFSError as exc:
            raise FormatError(f"squashfs: {exc}") from exc
        return list(fs.errors)
    finally:
        if keep:
            packed.open.extend((fh, data))
        else:
            if data is not None:
                data.close()
            fh.close()


# -- container images (docker save, OCI layout) ----------------------------------------------------


def image_layers(path: Path) -> list[str] | None:
    """Member names of the layers, bottom first, when ``path`` (an uncompressed tar) is a container image."""
    try:
        with tarfile.open(path, "r:") as tf:
            names = {m.name.removeprefix("./"): m for m in tf.getmembers() if m.isreg()}

            def load(name: str) -> object:
                member = names.get(name)
                src = tf.extractfile(member) if member is not None else None
                if src is None or member.size > 16 * 2**20:
                    raise FormatError(f"container image: {name} missing or too large")
                return json.loads(src.read())

            if "oci-layout" in names and "index.json" in names:
                index = load("index.json")
                manifest = _follow_index(index, load)
                return [_blob(layer["digest"]) for layer in manifest.get("layers", [])]
            if "manifest.json" in names:
                manifests = load("manifest.json")
                if isinstance(manifests, list) and manifests and "Layers" in manifests[0]:
                    return [str(x) for x in manifests[0]["Layers"]]
    except (tarfile.TarError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FormatError(f"container image: {exc}") from exc
    return None


def _blob(digest: str) -> str:
    algo, _, hexdigest = digest.partition(":")
    return f"blobs/{algo}/{hexdigest}"


def _follow_index(index, load, depth: int = 0):
    if depth > 4:
        raise FormatError("container image: index nesting too deep")
    manifests = index.get("manifests") or []
    if not manifests:
        raise FormatError("container image: empty index")
    doc = load(_blob(manifests[0]["digest"]))
    if "manifests" in doc:
        return _follow_index(doc, load, depth + 1)
    return doc


def extract_image(path: Path, layers: list[str], w: TreeWriter) -> None:
    try:
        with tarfile.open(path, "r:") as tf:
            members = {m.name.removeprefix("./"): m for m in tf.getmembers() if m.isreg()}
            for name in layers:
                member = members.get(name)
                src = tf.extractfile(member) if member is not None else None
                if src is None:
                    raise FormatError(f"container image: layer {name} missing")
                head = src.read(4)
                src.seek(0)
                stream: IO[bytes] = src
                for magic, opener in _STREAMS.values():
                    if head.startswith(magic[:4]):
                        stream = opener(src)
                        break
                extract_tar_stream(stream, w, layer=set())
    except (tarfile.TarError, OSError) as exc:
        raise FormatError(f"container image: {exc}") from exc
