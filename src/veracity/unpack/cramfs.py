"""Pure-Python, read-only CramFS reader for hostile firmware images.

Nothing here executes or shells out; every offset read from the image is
checked against the image, every block decompression is capped at one
block, so a malformed image yields :class:`CramFSError` (or, while walking,
a message in ``CramFS.errors``) rather than a hang or another exception.

Coverage
--------
* Little and big endian images (magic 0x28cd3d45).  The inode is a C
  bitfield: a big-endian compiler allocates it from the most significant bit
  of each 32-bit word, which is how big-endian images are decoded.
* Version 1 layout (no fsid) and version 2 (``FSID_VERSION_2``: image size,
  CRC, edition and file count in the superblock; the CRC is checked and a
  mismatch reported in ``errors``).
* Images with 512 bytes of padding before the superblock (boot code), found
  whether ``offset`` points at the padding or at the superblock.
* zlib blocks through the block pointer table, holes (zero-length blocks,
  ``CRAMFS_FLAG_HOLES``), extended block pointers (uncompressed and direct
  blocks, ``CRAMFS_FLAG_EXT_BLOCK_POINTERS``).  The block size is not stored
  in the image: 4096 is assumed, and larger page sizes are detected from the
  first file of more than one block.

What the format itself loses (and this reader therefore cannot give back):
uid is 16 bits and gid 8 bits (mkcramfs truncates larger ids), sizes are 24
bits (16 MiB), there are no timestamps (``mtime`` is 0), no inode numbers
and no hard links (``inode`` is the position of the entry's inode record, so
every path is its own inode; mkcramfs stores a hard link, or any identical
file, as a second entry sharing the data), device numbers are the 24-bit
``size`` field (decoded as Linux's new encoding truncated to 24 bits).

Format facts are written from the public description of the on-disk format
(linux/cramfs_fs.h, Documentation/filesystems/cramfs.rst); no code was taken
from other implementations.
"""

from __future__ import annotations

import stat
import struct
import zlib
from collections.abc import Iterator

from .squashfs import SqEntry

__all__ = ["CramFS", "CramFSError", "SqEntry", "extract_cramfs", "probe"]

MAGIC = 0x28CD3D45
SIGNATURE = b"Compressed ROMFS"
SUPER_SIZE = 76  # superblock with the root inode
PAD = 512

FLAG_FSID_VERSION_2 = 0x00000001
FLAG_SORTED_DIRS = 0x00000002
FLAG_HOLES = 0x00000100
FLAG_WRONG_SIGNATURE = 0x00000200
FLAG_SHIFTED_ROOT_OFFSET = 0x00000400
FLAG_EXT_BLOCK_POINTERS = 0x00000800
_SUPPORTED_FLAGS = (
    0x000000FF | FLAG_HOLES | FLAG_WRONG_SIGNATURE | FLAG_SHIFTED_ROOT_OFFSET | FLAG_EXT_BLOCK_POINTERS
)

BLK_FLAG_UNCOMPRESSED = 1 << 31
BLK_FLAG_DIRECT_PTR = 1 << 30
_BLK_FLAGS = BLK_FLAG_UNCOMPRESSED | BLK_FLAG_DIRECT_PTR

_BLOCK_SIZES = (4096, 16384, 65536, 8192, 32768)
_MAX_SYMLINK = 65536
_MAX_DEPTH = 1024
_MAX_ERRORS = 200
_MAX_ENTRIES = 1_000_000


class CramFSError(Exception):
    """Malformed, truncated or unsupported CramFS image."""


def _find_super(data, offset: int) -> tuple[int, int, str] | None:
    """(image start, superblock position, endian) for an image at offset."""
    total = len(data)
    for sb in (offset, offset + PAD):
        if sb < 0 or sb + SUPER_SIZE > total:
            continue
        head = bytes(data[sb : sb + 4])
        for endian, e in (("little", "<"), ("big", ">")):
            if struct.unpack(e + "I", head)[0] == MAGIC:
                return offset, sb, endian
    return None


def _inode_fields(raw: bytes, big: bool) -> tuple[int, int, int, int, int, int]:
    """(mode, uid, size, gid, namelen in 4-byte units, offset in 4-byte units)."""
    if big:
        w0, w1, w2 = struct.unpack(">III", raw)
        return w0 >> 16, w0 & 0xFFFF, w1 >> 8, w1 & 0xFF, w2 >> 26, w2 & 0x3FFFFFF
    w0, w1, w2 = struct.unpack("<III", raw)
    return w0 & 0xFFFF, w0 >> 16, w1 & 0xFFFFFF, w1 >> 24, w2 & 0x3F, w2 >> 6


def probe(data, offset: int = 0) -> tuple[str, int | None] | None:
    """(endian, image size or None for v1) if a CramFS superblock is at offset
    (or 512 bytes after it, behind boot-code padding)."""
    try:
        found = _find_super(data, offset)
    except (TypeError, struct.error):
        return None
    if found is None:
        return None
    _base, sb, endian = found
    e = "<" if endian == "little" else ">"
    _magic, size, flags, _future = struct.unpack_from(e + "IIII", data, sb)
    sig = bytes(data[sb + 16 : sb + 32])
    if sig != SIGNATURE and not flags & FLAG_WRONG_SIGNATURE:
        return None
    mode, *_rest = _inode_fields(bytes(data[sb + 64 : sb + 76]), endian == "big")
    if not stat.S_ISDIR(mode):
        return None
    return endian, (size if flags & FLAG_FSID_VERSION_2 else None)


class CramFS:
    """Read-only view of one CramFS image held in memory or an mmap."""

    def __init__(self, data, offset: int = 0):
        try:
            total = len(data)
        except TypeError as exc:  # pragma: no cover - API misuse
            raise CramFSError("image data has no length") from exc
        if offset < 0 or offset >= total:
            raise CramFSError(f"offset 0x{offset:x} outside the data")
        found = _find_super(data, offset)
        if found is None:
            raise CramFSError(f"no CramFS magic at offset 0x{offset:x}")
        base, sb, endian = found
        self.endian: str = endian
        self._e = e = "<" if endian == "little" else ">"
        self._big = endian == "big"
        _magic, size, flags, _future = struct.unpack_from(e + "IIII", data, sb)
        self.signature_ok = bytes(data[sb + 16 : sb + 32]) == SIGNATURE
        crc, edition, blocks, files = struct.unpack_from(e + "IIII", data, sb + 32)
        self.name: bytes = bytes(data[sb + 48 : sb + 64]).rstrip(b"\x00")
        self.flags: int = flags
        self.errors: list[str] = []
        self._errors: list[str] = []
        self._suppressed = 0
        root_raw = bytes(data[sb + 64 : sb + 76])
        mode, _uid, _size, _gid, _nl, root_off = _inode_fields(root_raw, self._big)
        root_off <<= 2
        if sb == offset and root_off == PAD + SUPER_SIZE and offset >= PAD:
            base = offset - PAD  # offset pointed at the superblock of a padded image
        self._data = data
        self._base = base
        self._sb = sb - base
        self.padded = self._sb == PAD
        if not self.signature_ok and not flags & FLAG_WRONG_SIGNATURE:
            raise CramFSError(f"no CramFS signature at offset 0x{sb + 16:x}")
        if not stat.S_ISDIR(mode):
            raise CramFSError(f"root inode at offset 0x{sb + 64:x} is not a directory")
        if flags & ~_SUPPORTED_FLAGS:
            self._error(
                f"unknown feature flags 0x{flags & ~_SUPPORTED_FLAGS:x} (the kernel would refuse to mount)"
            )
        available = total - base
        if flags & FLAG_FSID_VERSION_2:
            self.version = 2
            if size < SUPER_SIZE:
                raise CramFSError(f"implausible image size {size} in the superblock at offset 0x{sb:x}")
            self.bytes_used: int | None = size
            self.edition, self.block_count, self.file_count = edition, blocks, files
            self.truncated = size > available
            self._size = min(size, available)
            if self.truncated:
                self._error(f"image truncated: {available} of {size} bytes present")
            else:
                self.crc_ok = self._check_crc(crc)
                if not self.crc_ok:
                    self._error(f"image CRC mismatch (superblock says 0x{crc:08x})")
        else:
            self.version = 1
            self.bytes_used = None
            self.edition = self.block_count = self.file_count = 0
            self.truncated = False
            self._size = available
        if root_off and not SUPER_SIZE <= root_off - self._sb <= self._size:
            raise CramFSError(f"root directory offset 0x{root_off:x} outside the image")
        self._root_raw = root_raw
        self._bs: int | None = None
        self.errors = list(self._errors)

    # -- low level -----------------------------------------------------------

    def _error(self, message: str, sink: list[str] | None = None) -> None:
        sink = self._errors if sink is None else sink
        if len(sink) < _MAX_ERRORS:
            sink.append(message)
        else:
            self._suppressed += 1

    def _check_crc(self, crc: int) -> bool:
        a = self._base
        sb = a + self._sb
        data = self._data
        end = a + self.bytes_used
        value = zlib.crc32(data[sb : sb + 32])  # from the superblock on (not the padding)
        value = zlib.crc32(b"\x00\x00\x00\x00", value)
        pos = sb + 36
        while pos < end:
            nxt = min(end, pos + (1 << 22))
            value = zlib.crc32(data[pos:nxt], value)
            pos = nxt
        return value == crc

    def _raw(self, pos: int, n: int) -> bytes:
        if pos < 0 or n < 0 or pos + n > self._size:
            raise CramFSError(
                f"read of {n} bytes at offset 0x{self._base + pos:x} beyond the end of the image "
                f"(0x{self._base + self._size:x})"
            )
        a = self._base + pos
        chunk = self._data[a : a + n]
        return chunk if type(chunk) is bytes else bytes(chunk)

    def _inode(self, pos: int) -> tuple[int, int, int, int, int, int]:
        return _inode_fields(self._raw(pos, 12), self._big)

    # -- directories ---------------------------------------------------------

    def _listing(self, off: int, size: int) -> list[tuple[bytes, int]]:
        """(name, inode record position) of a directory's entries, sorted by name."""
        out: list[tuple[bytes, int]] = []
        if size == 0:
            return out
        if off == 0:
            raise CramFSError(f"directory of {size} bytes without an offset")
        end = off + size
        if end > self._size:
            raise CramFSError(f"directory listing at 0x{off:x} (+{size}) runs past the end of the image")
        blob = self._raw(off, size)
        pos = 0
        while pos < size:
            if pos + 12 > size:
                raise CramFSError(f"directory listing at 0x{off:x} ends inside an entry")
            namelen = _inode_fields(blob[pos : pos + 12], self._big)[4] * 4
            if namelen == 0 or pos + 12 + namelen > size:
                raise CramFSError(f"directory entry at 0x{off + pos:x} has a bad name length {namelen}")
            name = blob[pos + 12 : pos + 12 + namelen].rstrip(b"\x00")
            out.append((name, off + pos))
            pos += 12 + namelen
            if len(out) > _MAX_ENTRIES:
                raise CramFSError(f"directory listing at 0x{off:x} has too many entries")
        out.sort()
        return out

    # -- public API ----------------------------------------------------------

    def _entry(self, path: str, names: tuple[bytes, ...], ref: int, fields, sink) -> SqEntry | None:
        mode, uid, size, gid, _nl, off = fields
        fmt = stat.S_IFMT(mode)
        target = None
        rdev = None
        esize = 0
        if fmt == stat.S_IFDIR:
            kind = "dir"
        elif fmt == stat.S_IFREG:
            kind = "file"
            esize = size
        elif fmt == stat.S_IFLNK:
            kind = "symlink"
            if size > _MAX_SYMLINK:
                self._error(f"{path}: symlink target of {size} bytes; entry skipped", sink)
                return None
            try:
                raw = b"".join(self._blocks(off << 2, size, path))
            except CramFSError as exc:
                self._error(f"{path}: symlink target unreadable: {exc}; entry skipped", sink)
                return None
            target = raw.decode("utf-8", "surrogateescape")
            esize = len(raw)
        elif fmt in (stat.S_IFCHR, stat.S_IFBLK):
            kind = "chardev" if fmt == stat.S_IFCHR else "blockdev"
            rdev = ((size & 0xFFF00) >> 8, (size & 0xFF) | ((size >> 12) & 0xF00))
        elif fmt == stat.S_IFIFO:
            kind = "fifo"
        elif fmt == stat.S_IFSOCK:
            kind = "socket"
        else:
            self._error(f"{path}: unknown file type in mode 0o{mode:o}; entry skipped", sink)
            return None
        return SqEntry(
            path=path,
            kind=kind,
            mode=mode & 0o7777,
            uid=uid,
            gid=gid,
            mtime=0,
            size=esize,
            target=target,
            rdev=rdev,
            inode=ref,
            names_raw=names,
            _ref=ref,
        )

    def walk(self) -> Iterator[SqEntry]:
        """Every entry, depth first, parents before children, names sorted
        bytewise within a directory, root ("/") first."""
        self.errors = list(self._errors)
        return self._walk(self.errors)

    def _walk(self, sink: list[str]) -> Iterator[SqEntry]:
        root_ref = self._sb + 64
        root_fields = _inode_fields(self._root_raw, self._big)
        root = self._entry("/", (), root_ref, root_fields, sink)
        assert root is not None
        yield root
        try:
            listing = self._listing(root_fields[5] << 2, root_fields[2])
        except CramFSError as exc:
            raise CramFSError(f"root directory: {exc}") from exc
        visited = {root_fields[5]} if root_fields[2] else set()
        stack = [("", (), iter(listing))]
        produced = 1
        try:
            while stack:
                prefix, names, kids = stack[-1]
                item = next(kids, None)
                if item is None:
                    stack.pop()
                    continue
                name, ref = item
                path = prefix + "/" + name.decode("utf-8", "surrogateescape")
                if not name or name in (b".", b"..") or b"/" in name or b"\x00" in name:
                    self._error(f"{prefix or '/'}: entry with unusable name {name!r} skipped", sink)
                    continue
                try:
                    fields = self._inode(ref)
                except CramFSError as exc:
                    self._error(f"{path}: {exc}; entry skipped", sink)
                    continue
                entry = self._entry(path, names + (name,), ref, fields, sink)
                if entry is None:
                    continue
                produced += 1
                if produced > _MAX_ENTRIES:
                    self._error(f"more than {_MAX_ENTRIES} entries; walk stopped", sink)
                    return
                yield entry
                if entry.kind != "dir" or fields[2] == 0:
                    continue
                if fields[5] in visited:
                    self._error(f"{path}: directory listing already visited (cycle); not entered", sink)
                    continue
                if len(stack) >= _MAX_DEPTH:
                    self._error(f"{path}: directory nesting deeper than {_MAX_DEPTH}", sink)
                    continue
                try:
                    sub = self._listing(fields[5] << 2, fields[2])
                except CramFSError as exc:
                    self._error(f"directory {path}: {exc}; not entered", sink)
                    continue
                visited.add(fields[5])
                stack.append((path, names + (name,), iter(sub)))
        finally:
            if self._suppressed:
                sink.append(f"{self._suppressed} further problems not listed")

    def read(self, entry: SqEntry) -> Iterator[bytes]:
        """Content of a regular file, one block per chunk, decompressed lazily."""
        ref = entry._ref
        if ref < 0:
            raise CramFSError(f"{entry.path}: entry does not come from walk()")
        mode, _uid, size, _gid, _nl, off = self._inode(ref)
        if not stat.S_ISREG(mode):
            raise CramFSError(f"{entry.path}: not a regular file")
        return self._blocks(off << 2, size, entry.path)

    def read_bytes(self, entry: SqEntry) -> bytes:
        """Whole content of a regular file (convenience over read())."""
        return b"".join(self.read(entry))

    # -- file data -----------------------------------------------------------

    @property
    def block_size(self) -> int:
        return self._bs or 4096

    def _table(self, off: int, size: int, bs: int, path: str) -> tuple[int, ...]:
        n = -(-size // bs)
        if off == 0 or off + 4 * n > self._size:
            raise CramFSError(f"{path}: block pointer table at 0x{off:x} outside the image")
        return struct.unpack(f"{self._e}{n}I", self._raw(off, 4 * n))

    def _plausible(self, off: int, size: int, bs: int) -> bool:
        """Does block size bs explain this multi-block file's pointer table?"""
        try:
            ptrs = self._table(off, size, bs, "")
        except CramFSError:
            return False
        prev = off + 4 * len(ptrs)
        ext = self.flags & FLAG_EXT_BLOCK_POINTERS
        for p in ptrs[:2]:
            if ext and p & _BLK_FLAGS:
                return True  # cannot tell from direct/uncompressed blocks: accept
            if p < prev or p > self._size:
                return False
            prev = p
        start = off + 4 * len(ptrs)
        first = ptrs[0] & ~_BLK_FLAGS if ext else ptrs[0]
        if first == start:
            return True  # a hole
        dec = zlib.decompressobj()
        try:
            out = dec.decompress(self._raw(start, first - start), bs + 1)
        except (zlib.error, CramFSError):
            return False
        return len(out) == min(bs, size) and dec.eof

    def _block_size_for(self, off: int, size: int) -> int:
        if self._bs is not None:
            return self._bs
        if size <= 4096:
            return 4096
        for bs in _BLOCK_SIZES:
            if self._plausible(off, size, bs):
                self._bs = bs
                if bs != 4096:
                    self._error(f"block size {bs} detected (not 4096)")
                return bs
        self._bs = 4096
        return 4096

    def _blocks(self, off: int, size: int, path: str) -> Iterator[bytes]:
        if size == 0:
            return
        bs = self._block_size_for(off, size)
        ptrs = self._table(off, size, bs, path)
        n = len(ptrs)
        ext = self.flags & FLAG_EXT_BLOCK_POINTERS
        e = self._e
        prev_end = off + 4 * n
        for i, ptr in enumerate(ptrs):
            expect = min(bs, size - i * bs)
            uncompressed = False
            if ext and ptr & _BLK_FLAGS:
                uncompressed = bool(ptr & BLK_FLAG_UNCOMPRESSED)
                value = ptr & ~_BLK_FLAGS
                if ptr & BLK_FLAG_DIRECT_PTR:
                    start = value << 2
                    if uncompressed:
                        length = expect
                        prev_end = start + bs
                    else:
                        length = struct.unpack(e + "H", self._raw(start, 2))[0]
                        start += 2
                        prev_end = start + length
                else:
                    start, length = prev_end, value - prev_end
                    prev_end = value
            else:
                start, length = prev_end, ptr - prev_end
                prev_end = ptr
            where = f"{path}: block {i} at offset 0x{self._base + start:x}"
            if length < 0 or length > 2 * bs:
                raise CramFSError(f"{where}: bad length {length}")
            if length == 0:
                yield bytes(expect)
                continue
            raw = self._raw(start, length)
            if uncompressed:
                if length < expect:
                    raise CramFSError(f"{where}: uncompressed block of {length} bytes, {expect} expected")
                yield raw[:expect]
                continue
            dec = zlib.decompressobj()
            try:
                out = dec.decompress(raw, bs)
            except zlib.error as exc:
                raise CramFSError(f"{where}: corrupt zlib data: {exc}") from exc
            if len(out) != expect:
                raise CramFSError(f"{where}: decompresses to {len(out)} bytes, {expect} expected")
            yield out


# --------------------------------------------------------------------------
# glue for the unpack engine


def extract_cramfs(path, offset: int, w) -> list[str]:
    """CramFS image at ``offset`` of the file at ``path`` into ``w``; returns the
    reader's non-fatal error messages.  Raises native.FormatError when the image
    cannot be read at all."""
    import mmap

    from .native import FormatError, feed_writer

    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        try:
            fs = CramFS(data, offset)
            feed_writer(fs.walk(), fs, CramFSError, w)
        except CramFSError as exc:
            raise FormatError(f"cramfs: {exc}") from exc
        return list(fs.errors)
