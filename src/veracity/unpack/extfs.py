"""Pure-Python, read-only ext2/ext3/ext4 reader for hostile images.

Nothing here executes or shells out.  Every block number read from the image
is checked against the file system and the buffer, extent trees are walked
with a depth limit and loop detection, indirect blocks and directory blocks
read are counted against the size of the file system, and holes are produced
lazily: a malformed image yields :class:`ExtError` (or, while walking, a
message in ``ExtFS.errors``) rather than a hang, an unbounded allocation or
another exception type.  A hostile inode claiming 2**60 bytes of holes is
served lazily, in 1 MiB chunks of zeros, until the consumer stops.

Coverage
--------
* Superblock at 1024, revisions 0 and 1, block sizes 1 KiB to 64 KiB, 32- and
  64-bit group descriptors, META_BG descriptor placement (sparse_super and
  sparse_super2 backups).
* Inodes of any size; uid/gid with their high 16 bits; setuid/setgid/sticky
  bits kept; file sizes with ``i_size_high``.
* Block maps (direct, single, double, triple indirect) and extent trees of
  depth up to 5 (uninitialized extents read as zeros); holes, before,
  between and after mapped blocks, read as zeros.
* Linear directories with or without the filetype feature; htree directories
  are read linearly (their index blocks look like empty entries); the
  metadata_csum tail entry is skipped.
* Fast symlinks (target in ``i_block``), slow symlinks, inline data (files,
  symlinks and directories: ``i_block`` plus the ``system.data`` in-inode
  extended attribute).
* Device numbers in the old (16-bit, ``i_block[0]``) and new (32-bit,
  ``i_block[1]``) encodings.
* Hard links: every path of one inode is yielded with the same ``inode``.

Not covered: the journal is not replayed (a "needs recovery" image is read
as it stands, with a message), extended attributes other than inline data
(ACLs, file capabilities, SELinux labels) are not reported, checksums
(crc32c) are not verified, encrypted files and names are read as stored
(ciphertext, with a message), the old ext2 compression patches, large
xattr values in EA inodes, and ``dirdata`` (Lustre).

Format facts are written from the public description of the on-disk format
(the kernel's Documentation/filesystems/ext4); no code was taken from other
implementations.
"""

from __future__ import annotations

import stat
import struct
from collections import OrderedDict
from collections.abc import Iterator

from .squashfs import SqEntry

__all__ = ["ExtError", "ExtFS", "SqEntry", "extract_extfs", "probe"]

MAGIC = 0xEF53
SUPER_OFFSET = 1024
ROOT_INO = 2

COMPAT_HAS_JOURNAL = 0x4
COMPAT_SPARSE_SUPER2 = 0x200

INCOMPAT_COMPRESSION = 0x1
INCOMPAT_FILETYPE = 0x2
INCOMPAT_RECOVER = 0x4
INCOMPAT_JOURNAL_DEV = 0x8
INCOMPAT_META_BG = 0x10
INCOMPAT_EXTENTS = 0x40
INCOMPAT_64BIT = 0x80
INCOMPAT_MMP = 0x100
INCOMPAT_FLEX_BG = 0x200
INCOMPAT_EA_INODE = 0x400
INCOMPAT_DIRDATA = 0x1000
INCOMPAT_CSUM_SEED = 0x2000
INCOMPAT_LARGEDIR = 0x4000
INCOMPAT_INLINE_DATA = 0x8000
INCOMPAT_ENCRYPT = 0x10000
INCOMPAT_CASEFOLD = 0x20000

RO_COMPAT_SPARSE_SUPER = 0x1
RO_COMPAT_LARGE_FILE = 0x2
RO_COMPAT_HUGE_FILE = 0x8
RO_COMPAT_GDT_CSUM = 0x10
RO_COMPAT_DIR_NLINK = 0x20
RO_COMPAT_EXTRA_ISIZE = 0x40
RO_COMPAT_METADATA_CSUM = 0x400

_EXT4_INCOMPAT = (
    INCOMPAT_EXTENTS
    | INCOMPAT_64BIT
    | INCOMPAT_FLEX_BG
    | INCOMPAT_MMP
    | INCOMPAT_EA_INODE
    | INCOMPAT_CSUM_SEED
    | INCOMPAT_LARGEDIR
    | INCOMPAT_INLINE_DATA
    | INCOMPAT_ENCRYPT
    | INCOMPAT_CASEFOLD
)
_EXT4_RO_COMPAT = (
    RO_COMPAT_HUGE_FILE
    | RO_COMPAT_GDT_CSUM
    | RO_COMPAT_DIR_NLINK
    | RO_COMPAT_EXTRA_ISIZE
    | RO_COMPAT_METADATA_CSUM
)

FL_ENCRYPT = 0x800
FL_INDEX = 0x1000
FL_HUGE_FILE = 0x40000
FL_EXTENTS = 0x80000
FL_EA_INODE = 0x200000
FL_INLINE_DATA = 0x10000000

BG_INODE_UNINIT = 0x1

EXTENT_MAGIC = 0xF30A
XATTR_MAGIC = 0xEA020000
_MAX_EXTENT_DEPTH = 5
_MAX_SYMLINK = 65536
_MAX_DEPTH = 1024
_MAX_ERRORS = 200
_MAX_ENTRIES = 10_000_000
_MAX_DIR_ENTRIES = 1_000_000  # one directory is read whole (to sort it) before its entries are yielded
_CHUNK = 1 << 20
_BLOCK_CACHE = 256
_N_BLOCKS = 15


class ExtError(Exception):
    """Malformed, truncated or unsupported ext2/3/4 image."""


def _variant(compat: int, incompat: int, ro_compat: int) -> str:
    if incompat & _EXT4_INCOMPAT or ro_compat & _EXT4_RO_COMPAT:
        return "ext4"
    if compat & COMPAT_HAS_JOURNAL:
        return "ext3"
    return "ext2"


def probe(data, offset: int = 0) -> tuple[str, int] | None:
    """("ext2"|"ext3"|"ext4", file system size in bytes) if a plausible
    superblock sits 1024 bytes after offset."""
    try:
        sb = offset + SUPER_OFFSET
        if offset < 0 or sb + 264 > len(data):
            return None
        raw = bytes(data[sb : sb + 264])
    except TypeError:
        return None
    (magic,) = struct.unpack_from("<H", raw, 56)
    if magic != MAGIC:
        return None
    blocks_lo, log_bs, bpg, ipg = (struct.unpack_from("<I", raw, o)[0] for o in (4, 24, 32, 40))
    if log_bs > 6 or bpg == 0 or ipg == 0:
        return None
    compat, incompat, ro_compat = struct.unpack_from("<III", raw, 92)
    return _variant(compat, incompat, ro_compat), blocks_lo * (1024 << log_bs)


class _Inode:
    __slots__ = (
        "acl",
        "blocks",
        "extra",
        "flags",
        "gid",
        "iblock",
        "ino",
        "links",
        "mode",
        "mtime",
        "raw",
        "size",
        "uid",
    )

    def __init__(self) -> None:
        self.raw = b""


class ExtFS:
    """Read-only view of one ext2/ext3/ext4 image held in memory or an mmap."""

    def __init__(self, data, offset: int = 0):
        try:
            total = len(data)
        except TypeError as exc:  # pragma: no cover - API misuse
            raise ExtError("image data has no length") from exc
        if offset < 0 or offset + SUPER_OFFSET + 1024 > total:
            raise ExtError(f"no room for an ext superblock at offset 0x{offset:x}")
        self._data = data
        self._base = offset
        sb = bytes(data[offset + SUPER_OFFSET : offset + SUPER_OFFSET + 1024])
        (magic,) = struct.unpack_from("<H", sb, 56)
        if magic != MAGIC:
            raise ExtError(f"no ext2/3/4 magic at offset 0x{offset + SUPER_OFFSET + 56:x}")
        u32 = lambda o: struct.unpack_from("<I", sb, o)[0]
        u16 = lambda o: struct.unpack_from("<H", sb, o)[0]
        self.inodes_count = u32(0)
        blocks_lo = u32(4)
        self.first_data_block = u32(20)
        log_bs = u32(24)
        self.blocks_per_group = u32(32)
        self.inodes_per_group = u32(40)
        self.state = u16(58)
        self.rev_level = u32(76)
        self.feature_compat = u32(92)
        self.feature_incompat = u32(96)
        self.feature_ro_compat = u32(100)
        self.volume_name: bytes = sb[120:136].rstrip(b"\x00")
        self.uuid: bytes = sb[104:120]
        self.errors: list[str] = []
        self._errors: list[str] = []
        self._suppressed = 0
        if log_bs > 6:
            raise ExtError(f"implausible block size 2^(10+{log_bs})")
        bs = self.block_size = 1024 << log_bs
        incompat = self.feature_incompat
        if incompat & INCOMPAT_64BIT:
            self.blocks_count = blocks_lo | (u32(0x150) << 32)
            desc_size = u16(254)
            if desc_size < 32 or desc_size > bs or desc_size & (desc_size - 1):
                raise ExtError(f"implausible group descriptor size {desc_size}")
            self.desc_size = desc_size
        else:
            self.blocks_count = blocks_lo
            self.desc_size = 32
        if self.rev_level == 0:
            self.inode_size = 128
            self.first_ino = 11
        else:
            self.inode_size = u16(88)
            self.first_ino = u32(84)
        isz = self.inode_size
        if isz < 128 or isz > bs or isz & (isz - 1):
            raise ExtError(f"implausible inode size {isz}")
        if self.blocks_per_group == 0 or self.inodes_per_group == 0:
            raise ExtError("zero blocks or inodes per group")
        if self.blocks_per_group > 8 * bs * 16 or self.inodes_per_group > 8 * bs:
            raise ExtError(
                f"implausible group geometry ({self.blocks_per_group} blocks, {self.inodes_per_group} inodes per group)"
            )
        if self.first_data_block > 1:
            raise ExtError(f"implausible first data block {self.first_data_block}")
        if self.blocks_count <= self.first_data_block or self.blocks_count >= 1 << 48:
            raise ExtError(f"implausible block count {self.blocks_count}")
        self.group_count = -(-(self.blocks_count - self.first_data_block) // self.blocks_per_group)
        if self.inodes_count > self.group_count * self.inodes_per_group:
            raise ExtError(
                f"{self.inodes_count} inodes do not fit in {self.group_count} groups of {self.inodes_per_group}"
            )
        self.first_meta_bg = u32(260)
        self.backup_bgs = (u32(0x24C), u32(0x250))
        self.variant: str = _variant(self.feature_compat, incompat, self.feature_ro_compat)
        self.bytes_used: int = self.blocks_count * bs
        self.size = self.bytes_used
        available = total - offset
        self.truncated: bool = available < self.bytes_used
        if self.truncated:
            self._error(f"image truncated: {available} of {self.bytes_used} bytes present")
        self._limit = min(available, self.bytes_used)
        if incompat & INCOMPAT_JOURNAL_DEV:
            raise ExtError("external journal device, not a file system")
        if incompat & INCOMPAT_RECOVER:
            self._error("journal needs recovery: changes still in the journal are not applied")
        if incompat & INCOMPAT_COMPRESSION:
            self._error("ext2 compression feature set: compressed files are read as stored")
        if incompat & INCOMPAT_DIRDATA:
            self._error("dirdata feature set: extra directory entry data ignored")
        self._filetype = bool(incompat & INCOMPAT_FILETYPE)
        self._gd_cache: dict[int, tuple[int, int]] = {}
        self._bcache: OrderedDict[int, bytes] = OrderedDict()
        self._dir_blocks_read = 0
        # the root inode must be readable for the image to be usable at all
        try:
            root = self._inode(ROOT_INO)
        except ExtError as exc:
            raise ExtError(f"cannot read the root inode: {exc}") from exc
        if not stat.S_ISDIR(root.mode):
            raise ExtError(f"root inode is not a directory (mode 0o{root.mode:o})")
        self.errors = list(self._errors)

    # -- low level -----------------------------------------------------------

    def _error(self, message: str, sink: list[str] | None = None) -> None:
        sink = self._errors if sink is None else sink
        if len(sink) < _MAX_ERRORS:
            sink.append(message)
        else:
            self._suppressed += 1

    def _raw(self, pos: int, n: int) -> bytes:
        if pos < 0 or n < 0 or pos + n > self._limit:
            raise ExtError(
                f"read of {n} bytes at offset 0x{self._base + pos:x} beyond the end of the image "
                f"(0x{self._base + self._limit:x})"
            )
        a = self._base + pos
        chunk = self._data[a : a + n]
        return chunk if type(chunk) is bytes else bytes(chunk)

    def _check_block(self, blk: int, count: int = 1) -> None:
        if blk < self.first_data_block or blk + count > self.blocks_count:
            raise ExtError(f"block {blk} (+{count}) outside the file system ({self.blocks_count} blocks)")

    def _block(self, blk: int) -> bytes:
        """A metadata block (cached)."""
        cache = self._bcache
        hit = cache.get(blk)
        if hit is not None:
            cache.move_to_end(blk)
            return hit
        self._check_block(blk)
        bs = self.block_size
        buf = self._raw(blk * bs, bs)
        cache[blk] = buf
        if len(cache) > _BLOCK_CACHE:
            cache.popitem(last=False)
        return buf

    def _has_super(self, group: int) -> bool:
        if group == 0:
            return True
        if self.feature_compat & COMPAT_SPARSE_SUPER2:
            return group in self.backup_bgs
        if not self.feature_ro_compat & RO_COMPAT_SPARSE_SUPER or group == 1:
            return True
        if group & 1 == 0:
            return False
        for base in (3, 5, 7):
            n = base
            while n < group:
                n *= base
            if n == group:
                return True
        return False

    def _group(self, group: int) -> tuple[int, int]:
        """(inode table block, flags) of a block group."""
        hit = self._gd_cache.get(group)
        if hit is not None:
            return hit
        if group >= self.group_count:
            raise ExtError(f"block group {group} beyond the {self.group_count} groups")
        per_block = self.block_size // self.desc_size
        nr, idx = divmod(group, per_block)
        if self.feature_incompat & INCOMPAT_META_BG and nr >= self.first_meta_bg:
            bg = per_block * nr
            blk = self.first_data_block + bg * self.blocks_per_group + (1 if self._has_super(bg) else 0)
        else:
            blk = self.first_data_block + 1 + nr
        raw = self._block(blk)[idx * self.desc_size : (idx + 1) * self.desc_size]
        table = struct.unpack_from("<I", raw, 8)[0]
        flags = struct.unpack_from("<H", raw, 18)[0]
        if self.desc_size >= 64 and self.feature_incompat & INCOMPAT_64BIT:
            table |= struct.unpack_from("<I", raw, 40)[0] << 32
        result = (table, flags)
        self._gd_cache[group] = result
        return result

    def _inode(self, ino: int) -> _Inode:
        if ino < 1 or ino > self.inodes_count:
            raise ExtError(f"inode number {ino} outside 1..{self.inodes_count}")
        group, index = divmod(ino - 1, self.inodes_per_group)
        table, flags = self._group(group)
        if flags & BG_INODE_UNINIT and self.feature_ro_compat & (
            RO_COMPAT_GDT_CSUM | RO_COMPAT_METADATA_CSUM
        ):
            raise ExtError(f"inode {ino} lies in uninitialized block group {group}")
        bs = self.block_size
        isz = self.inode_size
        blk = table + index * isz // bs
        self._check_block(blk)
        within = index * isz % bs
        raw = self._block(blk)[within : within + isz]
        node = _Inode()
        node.ino = ino
        node.raw = raw
        (
            mode,
            uid_lo,
            size_lo,
            _atime,
            _ctime,
            mtime,
            _dtime,
            gid_lo,
            links,
            blocks_lo,
            iflags,
        ) = struct.unpack_from("<HHIIIIIHHII", raw, 0)
        node.iblock = raw[40:100]
        acl_lo, size_hi = struct.unpack_from("<II", raw, 104)
        blocks_hi, acl_hi, uid_hi, gid_hi = struct.unpack_from("<HHHH", raw, 116)
        node.mode = mode
        node.uid = uid_lo | (uid_hi << 16)
        node.gid = gid_lo | (gid_hi << 16)
        node.mtime = mtime
        node.links = links
        node.flags = iflags
        node.acl = acl_lo | (acl_hi << 32)
        if stat.S_ISREG(mode) or self.feature_incompat & INCOMPAT_LARGEDIR:
            node.size = size_lo | (size_hi << 32)
        else:
            node.size = size_lo
        blocks = blocks_lo
        if self.feature_ro_compat & RO_COMPAT_HUGE_FILE:
            blocks |= blocks_hi << 32
            if iflags & FL_HUGE_FILE:
                blocks *= bs // 512
        node.blocks = blocks
        node.extra = struct.unpack_from("<H", raw, 128)[0] if isz > 128 else 0
        return node

    # -- block mapping -------------------------------------------------------

    def _runs(self, node: _Inode, path: str) -> Iterator[tuple[int, int, int, bool]]:
        """(logical block, physical block, count, uninitialized) in logical order."""
        if node.flags & FL_EXTENTS:
            return self._extent_runs(node.iblock, path)
        return self._map_runs(node.iblock, path)

    def _meta_counter(self, path: str):
        """A function to call before each mapping block read for one file."""
        reads = [0]
        limit = self.blocks_count + 16

        def count() -> None:
            reads[0] += 1
            if reads[0] > limit:
                raise ExtError(f"{path}: more mapping blocks read than the file system has")

        return count

    def _extent_runs(self, iblock: bytes, path: str) -> Iterator[tuple[int, int, int, bool]]:
        count_meta = self._meta_counter(path)
        seen: set[int] = set()
        expect_next = 0

        def node(buf: bytes, depth: int, where: str) -> Iterator[tuple[int, int, int, bool]]:
            nonlocal expect_next
            magic, entries, maximum, ndepth, _gen = struct.unpack_from("<HHHHI", buf, 0)
            if magic != EXTENT_MAGIC:
                raise ExtError(f"{path}: bad extent header magic 0x{magic:04x} in {where}")
            capacity = (len(buf) - 12) // 12
            if entries > maximum or maximum > capacity:
                raise ExtError(
                    f"{path}: extent node in {where} claims {entries}/{maximum} entries (room for {capacity})"
                )
            if ndepth > _MAX_EXTENT_DEPTH or (depth >= 0 and ndepth != depth):
                raise ExtError(f"{path}: extent node in {where} at depth {ndepth}, {depth} expected")
            for i in range(entries):
                o = 12 + 12 * i
                if ndepth == 0:
                    lblk, length, start_hi, start_lo = struct.unpack_from("<IHHI", buf, o)
                    uninit = length > 32768
                    if uninit:
                        length -= 32768
                    if length == 0:
                        continue
                    if lblk < expect_next:
                        raise ExtError(f"{path}: extents out of order or overlapping at logical block {lblk}")
                    expect_next = lblk + length
                    pblk = start_lo | (start_hi << 32)
                    yield lblk, pblk, length, uninit
                else:
                    _lblk, leaf_lo, leaf_hi = struct.unpack_from("<IIH", buf, o)
                    child = leaf_lo | (leaf_hi << 32)
                    if child in seen:
                        raise ExtError(f"{path}: extent tree block {child} referenced twice (loop)")
                    seen.add(child)
                    count_meta()
                    try:
                        cbuf = self._block(child)
                    except ExtError as exc:
                        raise ExtError(f"{path}: extent tree: {exc}") from exc
                    yield from node(cbuf, ndepth - 1, f"block {child}")

        return node(iblock, -1, "the inode")

    def _map_runs(self, iblock: bytes, path: str) -> Iterator[tuple[int, int, int, bool]]:
        count_meta = self._meta_counter(path)
        per = self.block_size // 4
        ptrs = struct.unpack("<15I", iblock)

        def singles() -> Iterator[tuple[int, int]]:
            for i in range(12):
                if ptrs[i]:
                    yield i, ptrs[i]
            lbase = 12
            for level, top in ((1, ptrs[12]), (2, ptrs[13]), (3, ptrs[14])):
                if top:
                    yield from indirect(top, level, lbase)
                lbase += per**level

        def indirect(blk: int, level: int, lbase: int) -> Iterator[tuple[int, int]]:
            count_meta()
            try:
                buf = self._block(blk)
            except ExtError as exc:
                raise ExtError(f"{path}: indirect block: {exc}") from exc
            entries = struct.unpack(f"<{per}I", buf)
            if level == 1:
                for i, p in enumerate(entries):
                    if p:
                        yield lbase + i, p
            else:
                span = per ** (level - 1)
                for i, p in enumerate(entries):
                    if p:
                        yield from indirect(p, level - 1, lbase + i * span)

        def merged() -> Iterator[tuple[int, int, int, bool]]:
            run_l = run_p = -1
            count = 0
            for lblk, pblk in singles():
                if count and lblk == run_l + count and pblk == run_p + count:
                    count += 1
                    continue
                if count:
                    yield run_l, run_p, count, False
                run_l, run_p, count = lblk, pblk, 1
            if count:
                yield run_l, run_p, count, False

        return merged()

    def _content(self, node: _Inode, path: str) -> Iterator[bytes]:
        size = node.size
        if node.flags & FL_INLINE_DATA:
            data = self._inline(node, path)[:size]
            yield data
            yield from _zeros(size - len(data))
            return
        bs = self.block_size
        pos = 0  # bytes produced
        mapped = 0
        for lblk, pblk, count, uninit in self._runs(node, path):
            start = lblk * bs
            if start >= size:
                break
            if start > pos:
                yield from _zeros(start - pos)
                pos = start
            mapped += count
            if mapped > self.blocks_count:
                raise ExtError(f"{path}: more data blocks than the file system has")
            nbytes = min(count * bs, size - start)
            if uninit:
                yield from _zeros(nbytes)
                pos += nbytes
                continue
            try:
                self._check_block(pblk, count)
            except ExtError as exc:
                raise ExtError(f"{path}: data {exc}") from exc
            off = pblk * bs
            done = 0
            while done < nbytes:
                k = min(_CHUNK, nbytes - done)
                yield self._raw(off + done, k)
                done += k
            pos += nbytes
        if size > pos:
            yield from _zeros(size - pos)

    # -- inline data ---------------------------------------------------------

    def _ibody_xattr(self, node: _Inode, index: int, name: bytes) -> bytes | None:
        raw = node.raw
        start = 128 + node.extra
        if node.extra < 4 or start + 4 > len(raw):
            return None
        if struct.unpack_from("<I", raw, start)[0] != XATTR_MAGIC:
            return None
        first = start + 4
        pos = first
        end = len(raw)
        while pos + 16 <= end:
            name_len, name_index, value_offs, value_inum, value_size, _hash = struct.unpack_from(
                "<BBHIII", raw, pos
            )
            if name_len == 0 and name_index == 0 and value_offs == 0 and value_inum == 0:
                break
            ename = raw[pos + 16 : pos + 16 + name_len]
            if name_index == index and ename == name:
                if value_inum:
                    raise ExtError("inline data held in an EA inode (not supported)")
                a = first + value_offs
                if a + value_size > end:
                    raise ExtError("inline data value outside the inode")
                return raw[a : a + value_size]
            pos += (16 + name_len + 3) & ~3
        return None

    def _inline(self, node: _Inode, path: str) -> bytes:
        try:
            extra = self._ibody_xattr(node, 7, b"data")
        except ExtError as exc:
            raise ExtError(f"{path}: {exc}") from exc
        return node.iblock + (extra or b"")

    # -- directories ---------------------------------------------------------

    def _parse_dirents(self, buf: bytes, path: str, sink: list[str]) -> Iterator[tuple[bytes, int, int]]:
        bs = self.block_size
        pos = 0
        end = len(buf)
        filetype = self._filetype
        while pos + 8 <= end:
            ino, rec_len, name_len, ftype = struct.unpack_from("<IHBB", buf, pos)
            if bs >= 65536:
                rec_len = bs if rec_len in (0, 65535) else (rec_len & 65532) | ((rec_len & 3) << 16)
            if not filetype:
                name_len |= ftype << 8
                ftype = 0
            if rec_len < 8 or rec_len & 3 or pos + rec_len > end or 8 + name_len > rec_len:
                self._error(
                    f"directory {path}: bad entry at byte {pos} of a block (rec_len {rec_len}, "
                    f"name_len {name_len}); rest of the block skipped",
                    sink,
                )
                return
            if ino:
                yield buf[pos + 8 : pos + 8 + name_len], ino, ftype
            pos += rec_len

    def _listing(self, node: _Inode, path: str, sink: list[str]) -> list[tuple[bytes, int]]:
        out: list[tuple[bytes, int]] = []
        if node.flags & FL_INLINE_DATA:
            blob = self._inline(node, path)
            if len(blob) < 4:
                raise ExtError(f"directory {path}: inline data too short")
            parts = [blob[4:60], blob[60:]]
            for part in parts:
                for name, ino, _t in self._parse_dirents(part, path, sink):
                    out.append((name, ino))
        else:
            bs = self.block_size
            for lblk, pblk, count, uninit in self._runs(node, path):
                if lblk * bs >= node.size:
                    break
                if uninit:
                    continue
                count = min(count, -(-(node.size - lblk * bs) // bs))
                self._dir_blocks_read += count
                if self._dir_blocks_read > 2 * self.blocks_count + 64:
                    raise ExtError(f"directory {path}: more directory blocks read than the file system has")
                self._check_block(pblk, count)
                for k in range(count):
                    buf = self._raw((pblk + k) * bs, bs)
                    for name, ino, _t in self._parse_dirents(buf, path, sink):
                        out.append((name, ino))
                    if len(out) > _MAX_DIR_ENTRIES:
                        raise ExtError(f"directory {path}: more than {_MAX_DIR_ENTRIES} entries")
        out = [(n, i) for n, i in out if n not in (b".", b"..")]
        out.sort()
        return out

    # -- public API ----------------------------------------------------------

    def _entry(self, path: str, names: tuple[bytes, ...], node: _Inode, sink: list[str]) -> SqEntry | None:
        mode = node.mode
        fmt = stat.S_IFMT(mode)
        target = None
        rdev = None
        size = 0
        if fmt == stat.S_IFDIR:
            kind = "dir"
        elif fmt == stat.S_IFREG:
            kind = "file"
            size = node.size
        elif fmt == stat.S_IFLNK:
            kind = "symlink"
            try:
                raw = self._symlink(node, path)
            except ExtError as exc:
                self._error(f"{path}: symlink target unreadable: {exc}; entry skipped", sink)
                return None
            target = raw.decode("utf-8", "surrogateescape")
            size = len(raw)
        elif fmt in (stat.S_IFCHR, stat.S_IFBLK):
            kind = "chardev" if fmt == stat.S_IFCHR else "blockdev"
            old, new = struct.unpack_from("<II", node.iblock, 0)
            if old:
                rdev = ((old >> 8) & 0xFF, old & 0xFF)
            else:
                rdev = ((new & 0xFFF00) >> 8, (new & 0xFF) | ((new >> 12) & 0xFFF00))
        elif fmt == stat.S_IFIFO:
            kind = "fifo"
        elif fmt == stat.S_IFSOCK:
            kind = "socket"
        else:
            self._error(
                f"{path}: inode {node.ino} has unknown file type in mode 0o{mode:o}; entry skipped", sink
            )
            return None
        if node.flags & FL_ENCRYPT:
            self._error(f"{path}: encrypted inode; content and names are ciphertext", sink)
        return SqEntry(
            path=path,
            kind=kind,
            mode=mode & 0o7777,
            uid=node.uid,
            gid=node.gid,
            mtime=node.mtime,
            size=size,
            target=target,
            rdev=rdev,
            inode=node.ino,
            names_raw=names,
            _ref=node.ino,
        )

    def _symlink(self, node: _Inode, path: str) -> bytes:
        size = node.size
        if size > _MAX_SYMLINK:
            raise ExtError(f"target of {size} bytes")
        if node.flags & FL_INLINE_DATA:
            return self._inline(node, path)[:size]
        ea_blocks = (self.block_size >> 9) if node.acl else 0
        if node.flags & FL_EA_INODE:
            fast = 0 < size < 60
        else:
            fast = node.blocks - ea_blocks == 0
        if fast:
            if size > 60:
                raise ExtError(f"fast symlink of {size} bytes")
            return node.iblock[:size]
        return b"".join(self._content(node, path))

    def walk(self) -> Iterator[SqEntry]:
        """Every entry reachable from the root, depth first, parents before
        children, names sorted bytewise within a directory, root ("/") first."""
        self.errors = list(self._errors)
        self._dir_blocks_read = 0
        return self._walk(self.errors)

    def _walk(self, sink: list[str]) -> Iterator[SqEntry]:
        root = self._inode(ROOT_INO)
        entry = self._entry("/", (), root, sink)
        assert entry is not None
        yield entry
        try:
            listing = self._listing(root, "/", sink)
        except ExtError as exc:
            raise ExtError(f"root directory: {exc}") from exc
        visited = {ROOT_INO}
        stack = [("", (), iter(listing))]
        produced = 1
        try:
            while stack:
                prefix, names, kids = stack[-1]
                item = next(kids, None)
                if item is None:
                    stack.pop()
                    continue
                name, ino = item
                path = prefix + "/" + name.decode("utf-8", "surrogateescape")
                if not name or b"/" in name or b"\x00" in name:
                    self._error(f"{prefix or '/'}: entry with unusable name {name!r} skipped", sink)
                    continue
                try:
                    node = self._inode(ino)
                except ExtError as exc:
                    self._error(f"{path}: {exc}; entry skipped", sink)
                    continue
                if node.mode == 0:
                    self._error(f"{path}: entry names free inode {ino}; skipped", sink)
                    continue
                entry = self._entry(path, names + (name,), node, sink)
                if entry is None:
                    continue
                produced += 1
                if produced > _MAX_ENTRIES:
                    self._error(f"more than {_MAX_ENTRIES} entries; walk stopped", sink)
                    return
                yield entry
                if entry.kind != "dir":
                    continue
                if ino in visited:
                    self._error(
                        f"{path}: directory inode {ino} already visited (cycle or directory hard link); not entered",
                        sink,
                    )
                    continue
                if len(stack) >= _MAX_DEPTH:
                    self._error(f"{path}: directory nesting deeper than {_MAX_DEPTH}", sink)
                    continue
                visited.add(ino)
                try:
                    sub = self._listing(node, path, sink)
                except ExtError as exc:
                    self._error(f"directory {path}: {exc}; not entered", sink)
                    continue
                stack.append((path, names + (name,), iter(sub)))
        finally:
            if self._suppressed:
                sink.append(f"{self._suppressed} further problems not listed")

    def read(self, entry: SqEntry) -> Iterator[bytes]:
        """Content of a regular file in chunks of up to 1 MiB; holes as zeros."""
        ino = entry._ref
        if ino < 1:
            raise ExtError(f"{entry.path}: entry does not come from walk()")
        try:
            node = self._inode(ino)
        except ExtError as exc:
            raise ExtError(f"{entry.path}: {exc}") from exc
        if not stat.S_ISREG(node.mode):
            raise ExtError(f"{entry.path}: not a regular file")
        return self._content(node, entry.path)

    def read_bytes(self, entry: SqEntry) -> bytes:
        """Whole content of a regular file (convenience over read())."""
        return b"".join(self.read(entry))


def _zeros(n: int) -> Iterator[bytes]:
    while n > 0:
        k = min(n, _CHUNK)
        yield bytes(k)
        n -= k


# --------------------------------------------------------------------------
# glue for the unpack engine


def extract_extfs(path, offset: int, w) -> list[str]:
    """ext2/3/4 image at ``offset`` of the file at ``path`` into ``w``; returns the
    reader's non-fatal error messages.  Raises native.FormatError when the image
    cannot be read at all."""
    import mmap

    from .native import FormatError, feed_writer

    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        label = "ext"
        try:
            fs = ExtFS(data, offset)
            label = fs.variant
            feed_writer(fs.walk(), fs, ExtError, w)
        except ExtError as exc:
            raise FormatError(f"{label}: {exc}") from exc
        return list(fs.errors)
