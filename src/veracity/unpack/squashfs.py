"""Pure-Python, read-only SquashFS reader for hostile firmware images.

Nothing here executes or shells out; every structure read from the image is
bounds-checked and every decompression is capped, so a malformed image yields
:class:`SquashFSError` (or, while walking, a message in ``SquashFS.errors``)
rather than a hang, an unbounded allocation or another exception type.

Coverage
--------
* SquashFS 4.0, little and big endian; gzip (zlib), lzma, lzo, xz, lz4, zstd;
  fragments / tail-end packing, sparse blocks, uncompressed metadata and data
  (per-block bits), extended inodes (xattrs are ignored), id table.
* SquashFS 3.x and 2.x, little and big endian.  Their on-disk structures are
  C bitfields, which a big-endian compiler allocates from the most
  significant bit of each byte string: fields are described here by
  (bit position, width) and decoded for either convention.
* "gzip" and "lzma" images (and every v2/v3 image, which has no compressor
  field) are decoded per block by trying, in a fixed order, zlib, LZMA
  "alone" (13-byte header), raw LZMA1 with default properties, and a 5-byte
  properties+dictionary header directly followed by the data (TP-Link,
  Broadcom and other vendor kernels).  The variant that worked is tried first
  for the next block.

Format facts are written from the public description of the on-disk format;
no code was taken from other implementations.
"""

from __future__ import annotations

import lzma
import os
import struct
import threading
import zlib
from collections import OrderedDict, deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

try:  # optional codecs: a missing one only makes such images unreadable
    import lz4.block as _lz4_block
except ImportError:  # pragma: no cover
    _lz4_block = None
try:
    import zstandard as _zstd
except ImportError:  # pragma: no cover
    _zstd = None
try:
    import lzallright as _lzo
except ImportError:  # pragma: no cover
    _lzo = None

__all__ = ["SqEntry", "SquashFS", "SquashFSError", "probe"]

METADATA_SIZE = 8192
INVALID_FRAG = 0xFFFFFFFF
_BLOCK_UNCOMPRESSED = 1 << 24
_META_UNCOMPRESSED = 0x8000
_COMPRESSORS = {1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"}
_BASIC_KINDS = {
    1: "dir",
    2: "file",
    3: "symlink",
    4: "blockdev",
    5: "chardev",
    6: "fifo",
    7: "socket",
}
_MAX_NAME = 256  # SquashFS limit on a directory entry name
_MAX_SYMLINK = 65535
_MAX_DEPTH = 1024
_MAX_ENTRIES = 20_000_000


class SquashFSError(Exception):
    """Malformed, truncated or unsupported SquashFS image."""


@dataclass(frozen=True)
class SqEntry:
    """One directory entry met while walking the image."""

    path: str
    kind: str
    mode: int
    uid: int
    gid: int
    mtime: int
    size: int
    target: str | None
    rdev: tuple[int, int] | None
    inode: int
    names_raw: tuple[bytes, ...]
    # Inode reference inside the image that produced this entry; lets
    # SquashFS.read() find the data again.  Not part of equality.
    _ref: int = field(default=-1, repr=False, compare=False)


# --------------------------------------------------------------------------
# superblock


@dataclass
class _Super:
    major: int
    minor: int
    endian: str
    inodes: int = 0
    mkfs_time: int = 0
    block_size: int = 0
    block_log: int = 0
    fragments: int = 0
    flags: int = 0
    compression_id: int = 1
    no_ids: int = 0
    no_uids: int = 0
    no_guids: int = 0
    root_inode: int = 0
    bytes_used: int = 0
    id_table_start: int = 0
    uid_start: int = 0
    guid_start: int = 0
    inode_table_start: int = 0
    directory_table_start: int = 0
    fragment_table_start: int = 0
    header_size: int = 0


def _pow2(value: int, low: int, high: int) -> bool:
    return low <= value <= high and value & (value - 1) == 0


def _parse_superblock(data, offset: int) -> _Super:
    try:
        total = len(data)
    except TypeError as exc:  # pragma: no cover - API misuse
        raise SquashFSError("image data has no length") from exc
    if offset < 0 or offset + 32 > total:
        raise SquashFSError(f"no room for a superblock at offset 0x{offset:x}")
    magic = bytes(data[offset : offset + 4])
    if magic == b"hsqs":
        endian, e = "little", "<"
    elif magic == b"sqsh":
        endian, e = "big", ">"
    else:
        raise SquashFSError(f"no SquashFS magic at offset 0x{offset:x}")
    major, minor = struct.unpack_from(e + "HH", data, offset + 28)
    sb = _Super(major=major, minor=minor, endian=endian)
    where = f"superblock at offset 0x{offset:x}"
    if major == 4:
        if offset + 96 > total:
            raise SquashFSError(f"truncated {where}")
        (
            _m,
            sb.inodes,
            sb.mkfs_time,
            sb.block_size,
            sb.fragments,
            sb.compression_id,
            sb.block_log,
            sb.flags,
            sb.no_ids,
            _maj,
            _min,
            sb.root_inode,
            sb.bytes_used,
            sb.id_table_start,
            _xattr,
            sb.inode_table_start,
            sb.directory_table_start,
            sb.fragment_table_start,
            _lookup,
        ) = struct.unpack_from(e + "IIIIIHHHHHHQQQQQQQQ", data, offset)
        sb.header_size = 96
        if minor > 1:
            raise SquashFSError(f"implausible version 4.{minor} in {where}")
        if not _pow2(sb.block_size, 4096, 1 << 20) or sb.block_size != 1 << sb.block_log:
            raise SquashFSError(f"implausible block size {sb.block_size} in {where}")
        if sb.bytes_used < 96 or sb.bytes_used >= 1 << 48:
            raise SquashFSError(f"implausible bytes_used {sb.bytes_used} in {where}")
    elif major in (2, 3):
        need = 63 if major == 2 else 111
        if offset + need > total:
            raise SquashFSError(f"truncated {where}")
        (
            _m,
            sb.inodes,
            bytes_used_2,
            uid_start_2,
            guid_start_2,
            inode_start_2,
            dir_start_2,
            _maj,
            _min,
            _bs1,
            sb.block_log,
            sb.flags,
            sb.no_uids,
            sb.no_guids,
            sb.mkfs_time,
            sb.root_inode,
            sb.block_size,
            sb.fragments,
            frag_start_2,
        ) = struct.unpack_from(e + "IIIIIIIHHHHBBBIQIII", data, offset)
        sb.bytes_used = bytes_used_2
        sb.uid_start = uid_start_2
        sb.guid_start = guid_start_2
        sb.inode_table_start = inode_start_2
        sb.directory_table_start = dir_start_2
        sb.fragment_table_start = frag_start_2
        sb.header_size = 63
        if major == 3:
            sb.header_size = 119
            (
                bytes_used,
                uid_start,
                guid_start,
                inode_start,
                dir_start,
                frag_start,
            ) = struct.unpack_from(e + "QQQQQQ", data, offset + 63)
            # 3.x writes the 64-bit fields; fall back on the 32-bit copies
            # only when the 64-bit ones are clearly absent.
            if 0 < bytes_used < 1 << 48:
                sb.bytes_used = bytes_used
                sb.uid_start = uid_start
                sb.guid_start = guid_start
                sb.inode_table_start = inode_start
                sb.directory_table_start = dir_start
                sb.fragment_table_start = frag_start
        if minor > 1:
            raise SquashFSError(f"implausible version {major}.{minor} in {where}")
        if not _pow2(sb.block_size, 512, 1 << 20) or sb.block_size != 1 << sb.block_log:
            raise SquashFSError(f"implausible block size {sb.block_size} in {where}")
        if sb.bytes_used < sb.header_size:
            raise SquashFSError(f"implausible bytes_used {sb.bytes_used} in {where}")
    elif major == 1:
        block_size_1, block_log = struct.unpack_from(e + "HH", data, offset + 32)
        if not _pow2(block_size_1, 512, 32768) or block_size_1 != 1 << block_log:
            raise SquashFSError(f"implausible block size in {where}")
        sb.block_size, sb.block_log = block_size_1, block_log
    else:
        raise SquashFSError(f"implausible version {major}.{minor} in {where}")
    return sb


def probe(data, offset: int = 0) -> tuple[int, int, str] | None:
    """Return (major, minor, endian) if a plausible superblock is at offset."""
    try:
        sb = _parse_superblock(data, offset)
    except (SquashFSError, struct.error, ValueError):
        return None
    if sb.major == 4 and sb.compression_id not in _COMPRESSORS:
        return None
    return sb.major, sb.minor, sb.endian


# --------------------------------------------------------------------------
# decompression


def _lzma_raw(src, props: int, dict_size: int, out_max: int) -> bytes | None:
    """Decode raw LZMA1 data; None when the data is not valid LZMA1."""
    if props >= 225 or out_max <= 0:
        return None
    lc = props % 9
    props //= 9
    lp = props % 5
    pb = props // 5
    if lc + lp > 4:  # liblzma limit
        return None
    try:
        dec = lzma.LZMADecompressor(
            format=lzma.FORMAT_RAW,
            filters=[{"id": lzma.FILTER_LZMA1, "lc": lc, "lp": lp, "pb": pb, "dict_size": dict_size}],
        )
        out = dec.decompress(src, out_max)
    except (lzma.LZMAError, ValueError, MemoryError):
        return None
    return out or None


_WORKERS = max(2, min(8, os.cpu_count() or 2))
_POOL: ThreadPoolExecutor | None = None


_POOL_PID = 0


def _pool() -> ThreadPoolExecutor:
    """The decompression threads of this process (a forked child, such as the checks' one, that reads a file
    lazily gets threads of its own: the parent's do not exist there)."""
    global _POOL, _POOL_PID
    if _POOL is None or _POOL_PID != os.getpid():
        _POOL = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="squashfs")
        _POOL_PID = os.getpid()
    return _POOL


class _Codec:
    """Block decompressor for one image; remembers which LZMA variant works."""

    AUTO_ORDER = ("zlib", "lzma-alone", "lzma-raw", "lzma-props")

    def __init__(self, declared: str, block_size: int):
        self.declared = declared
        self.block_size = block_size
        self.variant: str | None = None
        self.auto = declared in ("gzip", "lzma")
        if declared == "lzo" and _lzo is None:
            raise SquashFSError("LZO image but lzallright is not installed")
        if declared == "lz4" and _lz4_block is None:
            raise SquashFSError("LZ4 image but lz4 is not installed")
        if declared == "zstd" and _zstd is None:
            raise SquashFSError("zstd image but zstandard is not installed")
        if declared not in ("gzip", "lzma", "lzo", "xz", "lz4", "zstd"):
            raise SquashFSError(f"unsupported compressor {declared!r}")

    def decompress(self, src, limit: int, expect: int | None, where: str) -> bytes:
        if self.auto:
            order = self.AUTO_ORDER
            if self.variant is not None:
                order = (self.variant,) + tuple(v for v in order if v != self.variant)
            for variant in order:
                out = self._try(variant, src, limit, expect)
                if out is not None:
                    self.variant = variant
                    return out
            raise SquashFSError(f"cannot decompress {where} with zlib or any known LZMA variant")
        out = self._try(self.declared, src, limit, expect)
        if out is None:
            raise SquashFSError(f"cannot decompress {where} ({self.declared})")
        return out

    def _try(self, variant: str, src, limit: int, expect: int | None) -> bytes | None:
        out: bytes | None
        cap = limit if expect is None else min(expect, limit)
        if variant in ("zlib", "gzip"):
            dec = zlib.decompressobj()
            try:
                out = dec.decompress(src, limit + 1)
            except zlib.error:
                return None
            if len(out) > limit or not dec.eof:
                return None
        elif variant == "lzma-alone":
            if len(src) < 14:
                return None
            dict_size = int.from_bytes(src[1:5], "little")
            usize = int.from_bytes(src[5:13], "little")
            if usize != 0xFFFFFFFFFFFFFFFF:
                if usize > limit or (expect is not None and usize != expect):
                    return None
                cap = usize
            out = _lzma_raw(src[13:], src[0], self._dict(dict_size, limit), cap)
            if out is not None and usize != 0xFFFFFFFFFFFFFFFF and len(out) != usize:
                return None
        elif variant == "lzma-raw":
            out = _lzma_raw(src, 0x5D, self._dict(0, limit), cap)
        elif variant == "lzma-props":
            if len(src) < 6:
                return None
            dict_size = int.from_bytes(src[1:5], "little")
            out = _lzma_raw(src[5:], src[0], self._dict(dict_size, limit), cap)
        elif variant == "xz":
            dec = lzma.LZMADecompressor(format=lzma.FORMAT_XZ, memlimit=256 << 20)
            try:
                out = dec.decompress(src, limit + 1)
            except (lzma.LZMAError, MemoryError):
                return None
            if len(out) > limit or not dec.eof:
                return None
        elif variant == "lzo":
            try:
                out = _lzo.LZOCompressor.decompress(src, output_size_hint=cap)
            except _lzo.InputNotConsumed as exc:  # trailing padding
                out = exc.args[1] if len(exc.args) > 1 else None
            except (_lzo.LZOError, ValueError, MemoryError):
                return None
        elif variant == "lz4":
            try:
                out = _lz4_block.decompress(src, uncompressed_size=limit)
            except (_lz4_block.LZ4BlockError, ValueError, MemoryError):
                return None
        elif variant == "zstd":
            try:
                params = _zstd.get_frame_parameters(src)
                if params.content_size != 0xFFFFFFFFFFFFFFFF and params.content_size > limit:
                    return None
                out = _zstd.ZstdDecompressor().decompress(src, max_output_size=limit)
            except (_zstd.ZstdError, ValueError, MemoryError):
                return None
        else:  # pragma: no cover
            return None
        if out is None or len(out) > limit:
            return None
        if expect is not None and len(out) != expect:
            return None
        return bytes(out)

    @staticmethod
    def _dict(declared: int, limit: int) -> int:
        # Blocks are compressed independently, so no match distance can reach
        # past the block itself: a dictionary of the output limit is always
        # enough, whatever the header declares, and a hostile header cannot
        # ask for a huge allocation.
        del declared
        return max(4096, limit)


# --------------------------------------------------------------------------
# bitfield layouts of v2/v3 structures: name -> (bit position, width)

_V3_BASE = (
    ("type", 0, 4),
    ("mode", 4, 12),
    ("uid", 16, 8),
    ("gid", 24, 8),
    ("mtime", 32, 32),
    ("number", 64, 32),
)
_V3_INODES = {
    1: (
        28,
        (("nlink", 96, 32), ("dsize", 128, 19), ("doff", 147, 13), ("dblock", 160, 32), ("parent", 192, 32)),
    ),
    8: (
        31,
        (
            ("nlink", 96, 32),
            ("dsize", 128, 27),
            ("doff", 155, 13),
            ("dblock", 168, 32),
            ("icount", 200, 16),
            ("parent", 216, 32),
        ),
    ),
    2: (32, (("start", 96, 64), ("frag", 160, 32), ("foff", 192, 32), ("size", 224, 32))),
    9: (40, (("nlink", 96, 32), ("start", 128, 64), ("frag", 192, 32), ("foff", 224, 32), ("size", 256, 64))),
    3: (18, (("nlink", 96, 32), ("tsize", 128, 16))),
    4: (18, (("nlink", 96, 32), ("rdev", 128, 16))),
    5: (18, (("nlink", 96, 32), ("rdev", 128, 16))),
    6: (16, (("nlink", 96, 32),)),
    7: (16, (("nlink", 96, 32),)),
}
_V2_BASE = (("type", 0, 4), ("mode", 4, 12), ("uid", 16, 8), ("gid", 24, 8))
_V2_INODES = {
    1: (15, (("dsize", 32, 19), ("doff", 51, 13), ("mtime", 64, 32), ("dblock", 96, 24))),
    8: (
        18,
        (("dsize", 32, 27), ("doff", 59, 13), ("mtime", 72, 32), ("dblock", 104, 24), ("icount", 128, 16)),
    ),
    2: (24, (("mtime", 32, 32), ("start", 64, 32), ("frag", 96, 32), ("foff", 128, 32), ("size", 160, 32))),
    3: (6, (("tsize", 32, 16),)),
    4: (6, (("rdev", 32, 16),)),
    5: (6, (("rdev", 32, 16),)),
    6: (4, ()),
    7: (4, ()),
}
_V3_DIR_HEADER = (9, (("count", 0, 8), ("block", 8, 32), ("number", 40, 32)))
_V3_DIR_ENTRY = (5, (("off", 0, 13), ("type", 13, 3), ("nsize", 16, 8), ("delta", 24, 16)))
_V2_DIR_HEADER = (4, (("count", 0, 8), ("block", 8, 24)))
_V2_DIR_ENTRY = (3, (("off", 0, 13), ("type", 13, 3), ("nsize", 16, 8)))


def _bits(buf: bytes, big: bool, fields) -> dict[str, int]:
    """Decode C bitfields laid out LSB-first (little endian) or MSB-first."""
    nbits = len(buf) * 8
    if big:
        value = int.from_bytes(buf, "big")
        return {n: (value >> (nbits - p - w)) & ((1 << w) - 1) for n, p, w in fields}
    value = int.from_bytes(buf, "little")
    return {n: (value >> p) & ((1 << w) - 1) for n, p, w in fields}


# --------------------------------------------------------------------------


class _Inode:
    __slots__ = (
        "blist",
        "dblock",
        "doff",
        "dsize",
        "foff",
        "frag",
        "gid",
        "kind",
        "mode",
        "mtime",
        "number",
        "rdev",
        "size",
        "start",
        "target",
        "type",
        "uid",
    )

    def __init__(self) -> None:
        self.size = 0
        self.target: bytes | None = None
        self.rdev: tuple[int, int] | None = None
        self.frag = INVALID_FRAG
        self.foff = 0
        self.start = 0
        self.blist: tuple[int, int] | None = None
        self.dblock = self.doff = self.dsize = 0


class _Cursor:
    """Sequential reader over a chain of metadata blocks."""

    __slots__ = ("_buf", "_fs", "_limit", "_next", "off", "pos")

    def __init__(self, fs: SquashFS, pos: int, off: int, limit: int):
        self._fs = fs
        self._limit = limit
        self.pos = pos
        self._buf, self._next = fs._meta(pos, limit)
        if off > len(self._buf):
            raise SquashFSError(
                f"offset {off} past the end of the {len(self._buf)}-byte metadata "
                f"block at offset 0x{fs._base + pos:x}"
            )
        self.off = off

    def read(self, n: int) -> bytes:
        buf = self._buf
        off = self.off
        end = off + n
        if end <= len(buf):
            self.off = end
            return buf[off:end]
        parts = [buf[off:]]
        need = end - len(buf)
        while need:
            # next block is strictly after this one, so the chain can't loop
            self.pos = self._next
            buf, self._next = self._fs._meta(self.pos, self._limit)
            self._buf = buf
            take = min(need, len(buf))
            parts.append(buf[:take])
            need -= take
            self.off = take
        return b"".join(parts)

    def tell(self) -> tuple[int, int]:
        return self.pos, self.off


class SquashFS:
    """Read-only view of one SquashFS image held in memory or an mmap."""

    _META_CACHE = 512
    _FRAG_CACHE = 64

    def __init__(self, data, offset: int = 0):
        sb = _parse_superblock(data, offset)
        if sb.major not in (2, 3, 4):
            raise SquashFSError(f"unsupported SquashFS version {sb.major}.{sb.minor} at offset 0x{offset:x}")
        self._data = data
        self._base = offset
        self._sb = sb
        self.version: tuple[int, int] = (sb.major, sb.minor)
        self.endian: str = sb.endian
        self._e = "<" if sb.endian == "little" else ">"
        self._big = sb.endian == "big"
        self.block_size: int = sb.block_size
        self.bytes_used: int = sb.bytes_used
        self.inode_count: int = sb.inodes
        self.mkfs_time: int = sb.mkfs_time
        self.flags: int = sb.flags
        self.fragment_count: int = sb.fragments
        self.errors: list[str] = []
        self._size = min(len(data) - offset, sb.bytes_used)
        self.truncated: bool = len(data) - offset < sb.bytes_used
        if sb.major == 4:
            declared = _COMPRESSORS.get(sb.compression_id)
            if declared is None:
                raise SquashFSError(f"unknown compressor id {sb.compression_id} at offset 0x{offset:x}")
        else:
            declared = "gzip"  # no field; vendors use LZMA under it: detected
        self._codec = _Codec(declared, sb.block_size)
        # v2/v3 "check" flag: a marker byte follows each metadata length
        self._marker = 1 if sb.major < 4 and sb.flags & 0x04 else 0
        self._mcache: OrderedDict[int, tuple[bytes, int]] = OrderedDict()
        self._fcache: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._frag_digests: dict[tuple[int, int], bytes] = {}
        """sha256 of each fragment block as stored, by (start, size word): the many small files whose tails share
        a block hash it once (see packed_key)."""
        self._v2_numbers: dict[int, int] = {}
        self._detected = False

        size = self._size
        hdr = sb.header_size
        if not hdr <= sb.inode_table_start < size:
            raise SquashFSError(
                f"inode table start 0x{sb.inode_table_start:x} outside the image "
                f"(size 0x{size:x}) at offset 0x{offset:x}"
            )
        if not hdr <= sb.directory_table_start < size:
            raise SquashFSError(
                f"directory table start 0x{sb.directory_table_start:x} outside the "
                f"image (size 0x{size:x}) at offset 0x{offset:x}"
            )
        self._inode_start = sb.inode_table_start
        self._inode_end = (
            sb.directory_table_start if sb.directory_table_start > sb.inode_table_start else size
        )
        self._dir_start = sb.directory_table_start
        self._uids, self._gids = self._load_ids()
        if sb.major == 2:
            self._frag_esize, self._frag_psize = 8, 4
        else:
            self._frag_esize, self._frag_psize = 16, 8
        if sb.fragments:
            nidx = -(-sb.fragments * self._frag_esize // METADATA_SIZE)
            end = sb.fragment_table_start + nidx * self._frag_psize
            if sb.fragment_table_start < hdr or end > size:
                raise SquashFSError(
                    f"fragment index ({sb.fragments} fragments at "
                    f"0x{sb.fragment_table_start:x}) outside the image at offset "
                    f"0x{offset:x}"
                )
        # Find out early which codec/variant the metadata uses.
        try:
            self._meta(self._inode_start, self._inode_end)
        except SquashFSError:
            pass

    # -- public properties ---------------------------------------------------

    @property
    def compression(self) -> str:
        """Compressor name.  For gzip/lzma images and every v2/v3 image this is
        what the blocks really hold ("gzip" or "lzma"), found by decoding."""
        variant = self.compression_variant
        if variant is None:
            return self._codec.declared
        return "gzip" if variant == "zlib" else "lzma"

    @property
    def compression_variant(self) -> str | None:
        """For gzip/lzma-family images: "zlib", "lzma-alone" (13-byte header),
        "lzma-raw" (no header, lc=3 lp=0 pb=2) or "lzma-props" (5-byte
        properties header, no size); None for other compressors or when no
        compressed block could be decoded."""
        if self._codec.auto and self._codec.variant is None and not self._detected:
            self._detect_variant()
        return self._codec.variant

    def _detect_variant(self) -> None:
        """Decode the first compressed block found (metadata may all be stored
        uncompressed, so look at file data too); bounded and best effort."""
        self._detected = True
        seen = 0
        try:
            for entry in self._walk([]):
                seen += 1
                if seen > 256 or self._codec.variant is not None:
                    return
                if entry.kind != "file" or not entry.size:
                    continue
                try:
                    for count, _chunk in enumerate(self.read(entry)):
                        if self._codec.variant is not None or count >= 16:
                            break
                except SquashFSError:
                    continue
        except SquashFSError:
            return

    # -- low level -----------------------------------------------------------

    def _where(self, pos: int) -> str:
        return f"offset 0x{self._base + pos:x}"

    def _raw(self, pos: int, n: int) -> bytes:
        if pos < 0 or n < 0 or pos + n > self._size:
            raise SquashFSError(
                f"read of {n} bytes at {self._where(pos)} beyond the end of the image "
                f"(0x{self._base + self._size:x})"
            )
        a = self._base + pos
        chunk = self._data[a : a + n]
        return chunk if type(chunk) is bytes else bytes(chunk)

    def _meta(self, pos: int, limit: int) -> tuple[bytes, int]:
        """Decompressed metadata block at pos and the position of the next one."""
        cache = self._mcache
        hit = cache.get(pos)
        if hit is not None:
            cache.move_to_end(pos)
            return hit
        head = 2 + self._marker
        if pos < 0 or pos + head > limit:
            raise SquashFSError(f"metadata block at {self._where(pos)} outside its table")
        word = int.from_bytes(self._raw(pos, 2), self.endian)
        csize = word & 0x7FFF
        start = pos + head
        if csize == 0 or start + csize > limit:
            raise SquashFSError(f"bad metadata block length {csize} at {self._where(pos)}")
        raw = self._raw(start, csize)
        if word & _META_UNCOMPRESSED:
            if csize > METADATA_SIZE:
                raise SquashFSError(f"uncompressed metadata block of {csize} bytes at {self._where(pos)}")
            block = raw
        else:
            block = self._codec.decompress(raw, METADATA_SIZE, None, f"metadata block at {self._where(pos)}")
            if not block:
                raise SquashFSError(f"empty metadata block at {self._where(pos)}")
        result = (block, start + csize)
        cache[pos] = result
        if len(cache) > self._META_CACHE:
            cache.popitem(last=False)
        return result

    def _table(self, index_pos: int, count: int, esize: int, psize: int, what: str) -> bytes:
        """Read a table of count entries stored in metadata blocks via an index."""
        if count == 0:
            return b""
        per_block = METADATA_SIZE // esize
        nidx = -(-count // per_block)
        index = self._raw(index_pos, nidx * psize)
        fmt = f"{self._e}{nidx}{'Q' if psize == 8 else 'I'}"
        parts = []
        for ptr in struct.unpack(fmt, index):
            block, _next = self._meta(ptr, self._size)
            parts.append(block)
        table = b"".join(parts)
        if len(table) < count * esize:
            raise SquashFSError(
                f"{what} table at {self._where(index_pos)} holds {len(table)} bytes, {count * esize} needed"
            )
        return table[: count * esize]

    def _load_ids(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        sb = self._sb
        e = self._e
        if sb.major == 4:
            if sb.no_ids == 0:
                raise SquashFSError(f"empty id table at {self._where(0)}")
            raw = self._table(sb.id_table_start, sb.no_ids, 4, 8, "id")
            ids = struct.unpack(f"{e}{sb.no_ids}I", raw)
            return ids, ids
        uids = struct.unpack(f"{e}{sb.no_uids}I", self._raw(sb.uid_start, 4 * sb.no_uids))
        gids = struct.unpack(f"{e}{sb.no_guids}I", self._raw(sb.guid_start, 4 * sb.no_guids))
        return uids, gids

    # -- inodes --------------------------------------------------------------

    def _inode(self, ref: int) -> _Inode:
        block = ref >> 16
        off = ref & 0xFFFF
        if off >= METADATA_SIZE or ref >> 48:
            raise SquashFSError(f"bad inode reference 0x{ref:x}")
        pos = self._inode_start + block
        if pos >= self._inode_end:
            raise SquashFSError(f"inode reference 0x{ref:x} outside the inode table")
        cur = _Cursor(self, pos, off, self._inode_end)
        major = self._sb.major
        if major == 4:
            ino = self._inode_v4(cur)
        else:
            ino = self._inode_v23(cur, ref)
        return ino

    def _id(self, table: tuple[int, ...], index: int, what: str) -> int:
        if index >= len(table):
            raise SquashFSError(f"{what} index {index} outside the id table ({len(table)})")
        return table[index]

    def _inode_v4(self, cur: _Cursor) -> _Inode:
        e = self._e
        ino = _Inode()
        t, mode, uidx, gidx, ino.mtime, ino.number = struct.unpack(e + "HHHHII", cur.read(16))
        ino.type = t
        if not 1 <= t <= 14:
            raise SquashFSError(f"unknown inode type {t}")
        ino.kind = _BASIC_KINDS[t if t <= 7 else t - 7]
        ino.mode = mode & 0o7777
        ino.uid = self._id(self._uids, uidx, "uid")
        ino.gid = self._id(self._gids, gidx, "gid")
        if t == 1:
            ino.dblock, _nlink, ino.dsize, ino.doff, _parent = struct.unpack(e + "IIHHI", cur.read(16))
        elif t == 8:
            _nlink, ino.dsize, ino.dblock, _parent, _icount, ino.doff, _xattr = struct.unpack(
                e + "IIIIHHI", cur.read(24)
            )
        elif t == 2:
            ino.start, ino.frag, ino.foff, ino.size = struct.unpack(e + "IIII", cur.read(16))
            ino.blist = cur.tell()
        elif t == 9:
            ino.start, ino.size, _sparse, _nlink, ino.frag, ino.foff, _xattr = struct.unpack(
                e + "QQQIIII", cur.read(40)
            )
            ino.blist = cur.tell()
        elif t in (3, 10):
            _nlink, tsize = struct.unpack(e + "II", cur.read(8))
            if tsize > _MAX_SYMLINK:
                raise SquashFSError(f"symlink target of {tsize} bytes")
            ino.target = cur.read(tsize)
            ino.size = tsize
        elif t in (4, 5, 11, 12):
            _nlink, rdev = struct.unpack(e + "II", cur.read(8))
            ino.rdev = ((rdev >> 8) & 0xFFF, (rdev & 0xFF) | ((rdev >> 12) & 0xFFF00))
        if ino.kind == "dir" and ino.doff >= METADATA_SIZE:
            raise SquashFSError(f"directory offset {ino.doff} out of range")
        return ino

    def _inode_v23(self, cur: _Cursor, ref: int) -> _Inode:
        v3 = self._sb.major == 3
        big = self._big
        base_len = 12 if v3 else 4
        head = cur.read(base_len)
        t = head[0] >> 4 if big else head[0] & 0x0F
        layouts = _V3_INODES if v3 else _V2_INODES
        layout = layouts.get(t)
        if layout is None:
            raise SquashFSError(f"unknown inode type {t}")
        total, fields = layout
        buf = head + cur.read(total - base_len)
        f = _bits(buf, big, (_V3_BASE if v3 else _V2_BASE) + fields)
        ino = _Inode()
        ino.type = t
        ino.kind = _BASIC_KINDS[t if t <= 7 else t - 7]
        ino.mode = f["mode"] & 0o7777
        ino.uid = self._id(self._uids, f["uid"], "uid")
        gidx = f["gid"]
        ino.gid = ino.uid if gidx == 255 else self._id(self._gids, gidx, "gid")
        if v3:
            ino.mtime = f["mtime"]
            ino.number = f["number"]
        else:
            ino.mtime = f.get("mtime", self._sb.mkfs_time)
            numbers = self._v2_numbers
            number = numbers.get(ref)
            if number is None:
                number = numbers[ref] = len(numbers) + 1
            ino.number = number
        if ino.kind == "dir":
            ino.dblock, ino.doff, ino.dsize = f["dblock"], f["doff"], f["dsize"]
            if ino.doff >= METADATA_SIZE:
                raise SquashFSError(f"directory offset {ino.doff} out of range")
        elif ino.kind == "file":
            ino.start, ino.frag, ino.foff, ino.size = f["start"], f["frag"], f["foff"], f["size"]
            ino.blist = cur.tell()
        elif ino.kind == "symlink":
            ino.size = f["tsize"]
            ino.target = cur.read(ino.size)
        elif "rdev" in f:
            rdev = f["rdev"]
            ino.rdev = ((rdev >> 8) & 0xFF, rdev & 0xFF)
        return ino

    # -- directories ---------------------------------------------------------

    def _dir_entries(self, ino: _Inode) -> Iterator[tuple[bytes, int]]:
        """(name, inode reference) for each entry of a directory, as stored."""
        # v4 (and, it seems, v3) sizes count 3 extra bytes for "." and "..",
        # v2 sizes don't.  A header is longer than 3 bytes, so parsing stops
        # before such slack anyway; only v4's is subtracted for strictness.
        remaining = ino.dsize - 3 if self._sb.major == 4 else ino.dsize
        if remaining <= 0:
            return
        pos = self._dir_start + ino.dblock
        if pos >= self._size:
            raise SquashFSError(f"directory listing block 0x{ino.dblock:x} outside the image")
        cur = _Cursor(self, pos, ino.doff, self._size)
        major = self._sb.major
        e = self._e
        big = self._big
        if major == 4:
            hsize, esize = 12, 8
        elif major == 3:
            hsize, esize = _V3_DIR_HEADER[0], _V3_DIR_ENTRY[0]
        else:
            hsize, esize = _V2_DIR_HEADER[0], _V2_DIR_ENTRY[0]
        while remaining >= hsize:
            raw = cur.read(hsize)
            remaining -= hsize
            if major == 4:
                count, block, _number = struct.unpack(e + "III", raw)
            else:
                h = _bits(raw, big, (_V3_DIR_HEADER if major == 3 else _V2_DIR_HEADER)[1])
                count, block = h["count"], h["block"]
            count += 1
            if count > 256:
                raise SquashFSError(f"directory header with {count} entries near {self._where(cur.pos)}")
            for _ in range(count):
                if remaining < esize:
                    raise SquashFSError(f"directory listing overruns its size near {self._where(cur.pos)}")
                raw = cur.read(esize)
                remaining -= esize
                if major == 4:
                    off, _delta, _type, nsize = struct.unpack(e + "HhHH", raw)
                else:
                    d = _bits(raw, big, (_V3_DIR_ENTRY if major == 3 else _V2_DIR_ENTRY)[1])
                    off, nsize = d["off"], d["nsize"]
                nsize += 1
                if nsize > _MAX_NAME or nsize > remaining:
                    raise SquashFSError(f"directory entry name of {nsize} bytes near {self._where(cur.pos)}")
                name = cur.read(nsize)
                remaining -= nsize
                if off >= METADATA_SIZE:
                    raise SquashFSError(
                        f"directory entry {name!r} has inode offset {off} near {self._where(cur.pos)}"
                    )
                yield name, (block << 16) | off

    # -- public API ----------------------------------------------------------

    def _entry(self, path: str, names: tuple[bytes, ...], ino: _Inode, ref: int) -> SqEntry:
        target = None
        if ino.target is not None:
            target = ino.target.decode("utf-8", "surrogateescape")
        return SqEntry(
            path=path,
            kind=ino.kind,
            mode=ino.mode,
            uid=ino.uid,
            gid=ino.gid,
            mtime=ino.mtime,
            size=ino.size if ino.kind in ("file", "symlink") else 0,
            target=target,
            rdev=ino.rdev if ino.kind in ("chardev", "blockdev") else None,
            inode=ino.number,
            names_raw=names,
            _ref=ref,
        )

    def _listing_key(self, ino: _Inode) -> tuple[int, int] | None:
        # empty directories share their position with the next listing
        if ino.dsize <= (3 if self._sb.major >= 3 else 0):
            return None
        return (ino.dblock, ino.doff)

    def walk(self) -> Iterator[SqEntry]:
        """Every entry, depth first, parents before children, root ("/") first.

        A corrupt directory block or inode is skipped with a message in
        ``self.errors``; only an unreadable root raises SquashFSError.
        """
        del self.errors[:]
        return self._walk(self.errors)

    def _walk(self, errors: list[str]) -> Iterator[SqEntry]:
        root_ref = self._sb.root_inode
        try:
            root = self._inode(root_ref)
        except SquashFSError as exc:
            raise SquashFSError(f"cannot read root inode 0x{root_ref:x}: {exc}") from exc
        if root.kind != "dir":
            raise SquashFSError(f"root inode 0x{root_ref:x} is a {root.kind}, not a dir")
        yield self._entry("/", (), root, root_ref)
        # Each directory inode, and each non-empty listing, is entered once:
        # this defeats cycles and DAG blow-ups in hostile images.
        seen = {root_ref, self._listing_key(root)}
        stack = [("", (), self._dir_entries(root))]
        produced = 1
        while stack:
            prefix, names, listing = stack[-1]
            try:
                item = next(listing, None)
            except SquashFSError as exc:
                errors.append(f"directory {prefix or '/'}: {exc}; rest of it skipped")
                stack.pop()
                continue
            if item is None:
                stack.pop()
                continue
            name, ref = item
            path = prefix + "/" + name.decode("utf-8", "surrogateescape")
            try:
                ino = self._inode(ref)
            except SquashFSError as exc:
                errors.append(f"{path}: bad inode 0x{ref:x}: {exc}; entry skipped")
                continue
            produced += 1
            if produced > _MAX_ENTRIES:
                errors.append(f"more than {_MAX_ENTRIES} entries; walk stopped")
                return
            child_names = names + (name,)
            yield self._entry(path, child_names, ino, ref)
            if ino.kind == "dir":
                key = self._listing_key(ino)
                if ref in seen or key in seen:
                    errors.append(
                        f"{path}: directory inode 0x{ref:x} already visited "
                        "(cycle or directory hard link); not entered"
                    )
                    continue
                if len(stack) >= _MAX_DEPTH:
                    errors.append(f"{path}: directory nesting deeper than {_MAX_DEPTH}")
                    continue
                seen.add(ref)
                if key is not None:
                    seen.add(key)
                stack.append((path, child_names, self._dir_entries(ino)))

    def read(self, entry: SqEntry) -> Iterator[bytes]:
        """Content of a regular file, one block per chunk, decompressed lazily."""
        ref = entry._ref
        if ref < 0:
            raise SquashFSError(f"{entry.path}: entry does not come from walk()")
        try:
            ino = self._inode(ref)
        except SquashFSError as exc:
            raise SquashFSError(f"{entry.path}: bad inode 0x{ref:x}: {exc}") from exc
        if ino.kind != "file":
            raise SquashFSError(f"{entry.path}: not a regular file ({ino.kind})")
        return self._read_file(ino, entry.path)

    def read_bytes(self, entry: SqEntry) -> bytes:
        """Whole content of a regular file (convenience over read())."""
        return b"".join(self.read(entry))

    # -- file data -----------------------------------------------------------

    def packed_key(self, entry: SqEntry) -> str | None:
        """A digest of what a regular file is made of in this image (its compressed blocks as stored, the
        compressed fragment block its tail lives in and where, the compressor, block and file size): two files
        with one key hold the same bytes, known without decompressing anything. None when the file's
        metadata cannot be read (reading it will say why)."""
        import hashlib

        try:
            ino = self._inode(entry._ref)
            if ino.kind != "file":
                return None
            h = hashlib.sha256(f"sq{self.version}|{self._codec.declared}|{self.block_size}|{ino.size}".encode())
            for batch in self._block_batches(ino, entry.path):
                for pos, csize, compressed, _expect, _index in batch:
                    h.update(b"%d|%d|" % (csize, compressed))
                    h.update(self._raw(pos, csize) if csize else b"")
            if ino.frag != INVALID_FRAG and ino.size % self.block_size:
                start, word = self._fragment_entry(ino.frag)
                h.update(b"frag|%d|%d|" % (word, ino.foff))
                block = self._frag_digests.get((start, word))
                if block is None:
                    block = self._frag_digests[(start, word)] = hashlib.sha256(
                        self._raw(start, word & 0xFFFFFF)).digest()
                h.update(block)
            return h.hexdigest()
        except (SquashFSError, struct.error, ValueError):
            return None

    def _read_file(self, ino: _Inode, path: str) -> Iterator[bytes]:
        for batch in self._block_batches(ino, path):
            yield from self._blocks(batch, path)
        has_frag = ino.frag != INVALID_FRAG
        tail = ino.size % self.block_size if has_frag else 0
        if tail:
            yield self._fragment_tail(ino, tail, path)

    def _block_batches(self, ino: _Inode, path: str) -> Iterator[list[tuple[int, int, bool, int, int]]]:
        """A file's full blocks as (position, stored size, compressed, expected size, index), a batch of at
        most 2048 at a time, from its block list."""
        bs = self.block_size
        size = ino.size
        has_frag = ino.frag != INVALID_FRAG
        if has_frag:
            nblocks = size // bs
        else:
            nblocks = -(-size // bs)
        e = self._e
        pos = ino.start
        done = 0
        cur = None
        while done < nblocks:
            if cur is None:
                try:
                    cur = _Cursor(self, ino.blist[0], ino.blist[1], self._inode_end)
                except SquashFSError as exc:
                    raise SquashFSError(f"{path}: block list: {exc}") from exc
            k = min(nblocks - done, 2048)
            try:
                words = struct.unpack(f"{e}{k}I", cur.read(4 * k))
            except SquashFSError as exc:
                raise SquashFSError(f"{path}: block list: {exc}") from exc
            batch = []
            for word in words:
                expect = bs if done < nblocks - 1 or has_frag else size - done * bs
                if word >> 25:
                    raise SquashFSError(f"{path}: bad block size word 0x{word:x}")
                csize = word & 0xFFFFFF
                batch.append((pos, csize, not word & _BLOCK_UNCOMPRESSED, expect, done))
                pos += csize
                done += 1
            yield batch

    def _blocks(self, batch: list[tuple[int, int, bool, int, int]], path: str) -> Iterator[bytes]:
        """Decompress a file's blocks in order; with several compressed blocks, on every core at once
        (zlib, lzma and friends release the GIL), never more than a small window ahead."""
        def one(b: tuple[int, int, bool, int, int]) -> bytes:
            pos, csize, compressed, expect, index = b
            if csize == 0:  # sparse block
                return bytes(expect)
            return self._data_block(pos, csize, compressed, expect, path, index)

        if len(batch) < 2 or threading.current_thread() is not threading.main_thread():
            yield from map(one, batch)
            return
        pool = _pool()
        window = 2 * _WORKERS
        pending: deque = deque()
        try:
            for b in batch:
                pending.append(pool.submit(one, b))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for fut in pending:
                fut.cancel()

    def _data_block(
        self, pos: int, csize: int, compressed: bool, expect: int, path: str, index: int
    ) -> bytes:
        if csize > 2 * self.block_size:
            raise SquashFSError(f"{path}: block {index} claims {csize} bytes at {self._where(pos)}")
        try:
            raw = self._raw(pos, csize)
        except SquashFSError as exc:
            raise SquashFSError(f"{path}: block {index}: {exc}") from exc
        if not compressed:
            if csize != expect:
                raise SquashFSError(
                    f"{path}: uncompressed block {index} at {self._where(pos)} has "
                    f"{csize} bytes, {expect} expected"
                )
            return raw
        return self._codec.decompress(
            raw,
            self.block_size,
            expect,
            f"{path}: block {index} at {self._where(pos)} ({expect} bytes expected)",
        )

    def _fragment_entry(self, index: int) -> tuple[int, int]:
        sb = self._sb
        if index >= sb.fragments:
            raise SquashFSError(f"fragment {index} beyond the {sb.fragments} in the table")
        esize, psize = self._frag_esize, self._frag_psize
        blk, rem = divmod(index, METADATA_SIZE // esize)
        ptr_raw = self._raw(sb.fragment_table_start + blk * psize, psize)
        ptr = int.from_bytes(ptr_raw, self.endian)
        block, _next = self._meta(ptr, self._size)
        raw = block[rem * esize : (rem + 1) * esize]
        if len(raw) < esize:
            raise SquashFSError(f"fragment entry {index} missing from its table block")
        if esize == 16:
            start, word, _unused = struct.unpack(self._e + "QII", raw)
        else:
            start, word = struct.unpack(self._e + "II", raw)
        return start, word

    def _fragment_tail(self, ino: _Inode, tail: int, path: str) -> bytes:
        try:
            start, word = self._fragment_entry(ino.frag)
        except SquashFSError as exc:
            raise SquashFSError(f"{path}: fragment {ino.frag}: {exc}") from exc
        key = (start, word)
        cache = self._fcache
        block = cache.get(key)
        if block is None:
            csize = word & 0xFFFFFF
            if word >> 25 or csize == 0 or csize > 2 * self.block_size:
                raise SquashFSError(f"{path}: fragment {ino.frag} has bad size word 0x{word:x}")
            try:
                raw = self._raw(start, csize)
            except SquashFSError as exc:
                raise SquashFSError(f"{path}: fragment {ino.frag}: {exc}") from exc
            if word & _BLOCK_UNCOMPRESSED:
                block = raw
            else:
                block = self._codec.decompress(
                    raw,
                    self.block_size,
                    None,
                    f"{path}: fragment block {ino.frag} at {self._where(start)}",
                )
            cache[key] = block
            if len(cache) > self._FRAG_CACHE:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        if ino.foff + tail > len(block):
            raise SquashFSError(
                f"{path}: tail of {tail} bytes at {ino.foff} past the end of the "
                f"{len(block)}-byte fragment block {ino.frag}"
            )
        return block[ino.foff : ino.foff + tail]
