"""Pure-Python, read-only JFFS2 reader for hostile flash dumps.

Nothing here executes or shells out.  The image is scanned once for node
headers; every node is checked (header CRC, node CRC, name or data CRC)
before it is believed, and a bad node is skipped with a message in
``JFFS2.errors`` instead of stopping the scan.  Decompression is capped per
node, holes are produced lazily, so a hostile image costs time linear in its
size and memory linear in its number of nodes.

Coverage
--------
* Both byte orders (magic 0x1985); the order of the first valid node wins.
* Node types: inode, dirent, cleanmarker, padding, summary (skipped: every
  node is scanned directly), xattr and xref (skipped).  Unknown node types
  follow the kernel's compatibility bits: RWCOMPAT_* nodes are skipped
  silently, ROCOMPAT and INCOMPAT ones are skipped with a message.  Nodes
  with the ACCURATE bit cleared are obsolete and ignored.
* Per inode, the node with the highest version wins byte by byte, the file
  size is the latest node's ``isize``; missing ranges read as zeros.
* Per (parent, name), the dirent with the highest version wins; an inode
  number of 0 is an unlink.  Several dirents naming one inode are hard
  links: each path is yielded with the same ``inode``.
* Compressors: none, zero, rtime, zlib, lzo (needs ``lzallright``) and lzma
  (raw LZMA1, lc=0 lp=0 pb=0 as in the OpenWrt/mtd-utils JFFS2 LZMA
  compressor).  rubinmips, dynrubin and any other id make ``read()`` raise
  :class:`JFFS2Error` for that file only.
* Device numbers in the 16-bit (old) and 32-bit (new) encodings.
* OpenWrt overlay whiteouts: a symlink to ``(overlay-whiteout)`` (old
  overlayfs), a character device 0/0 (current overlayfs) or a DT_WHT dirent
  become entries of kind ``"whiteout"``.

Not covered: xattrs (security.capability and the like are not reported),
the rubin compressors, eCos-only compressors (lzari), write-buffer
recovery.  The format has no end marker: the scan covers the whole buffer
after ``offset`` unless ``size`` is given.

Format facts are written from the public description of the on-disk format
(linux/jffs2.h and the JFFS2 paper); no code was taken from other
implementations.
"""

from __future__ import annotations

import heapq
import lzma
import stat
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from .squashfs import SqEntry

try:  # optional codec: a missing one only makes LZO nodes unreadable
    import lzallright as _lzo
except ImportError:  # pragma: no cover
    _lzo = None

__all__ = ["JFFS2", "JFFS2Error", "SqEntry", "extract_jffs2", "probe"]

MAGIC = 0x1985
_ACCURATE = 0x2000
_COMPAT_MASK = 0xC000
_INCOMPAT = 0xC000
_ROCOMPAT = 0x8000

NODE_DIRENT = 0xE001
NODE_INODE = 0xE002
NODE_CLEANMARKER = 0x2003
NODE_PADDING = 0x2004
NODE_SUMMARY = 0x2006
NODE_XATTR = 0xE008
NODE_XREF = 0xE009

COMPR_NONE = 0
COMPR_ZERO = 1
COMPR_RTIME = 2
COMPR_RUBINMIPS = 3
COMPR_COPY = 4
COMPR_DYNRUBIN = 5
COMPR_ZLIB = 6
COMPR_LZO = 7
COMPR_LZMA = 8
_COMPR_NAMES = {
    COMPR_NONE: "none",
    COMPR_ZERO: "zero",
    COMPR_RTIME: "rtime",
    COMPR_RUBINMIPS: "rubinmips",
    COMPR_COPY: "copy",
    COMPR_DYNRUBIN: "dynrubin",
    COMPR_ZLIB: "zlib",
    COMPR_LZO: "lzo",
    COMPR_LZMA: "lzma",
}

DT_WHT = 14
WHITEOUT_TARGET = b"(overlay-whiteout)"

_INODE_HDR = 68
_DIRENT_HDR = 40
_MAX_NODE_DSIZE = 1 << 20  # decompressed size of a data node (a page, at most 64 KiB in practice)
_MAX_SYMLINK = 65536
_MAX_DEPTH = 1024
_MAX_ERRORS = 200
_MAX_BAD_HEADERS = 200_000  # magic numbers not starting a valid node (each costs a CRC)
_CHUNK = 1 << 20
_ROOT_INO = 1


class JFFS2Error(Exception):
    """Malformed, truncated or unsupported JFFS2 image or file."""


def _crc(buf) -> int:
    """CRC-32 as JFFS2 computes it: reflected polynomial, seed 0, no final inversion."""
    return zlib.crc32(buf, 0xFFFFFFFF) ^ 0xFFFFFFFF


def _header_ok(data, pos: int, e: str) -> tuple[int, int] | None:
    """(nodetype, totlen) of a node header at pos whose CRC checks out, else None."""
    try:
        magic, nodetype, totlen, hdr_crc = struct.unpack_from(e + "HHII", data, pos)
    except struct.error:
        return None
    if magic != MAGIC:
        return None
    # an obsoleted node has its ACCURATE bit cleared after the CRC was written
    head = struct.pack(e + "HHI", magic, nodetype | _ACCURATE, totlen)
    if _crc(head) != hdr_crc:
        return None
    return nodetype, totlen


def probe(data, offset: int = 0) -> str | None:
    """Return "little" or "big" when a JFFS2 node with a valid header CRC starts at offset."""
    try:
        if offset < 0 or offset + 12 > len(data):
            return None
    except TypeError:
        return None
    for endian, e in (("little", "<"), ("big", ">")):
        found = _header_ok(data, offset, e)
        if found is not None and found[1] >= 12:
            return endian
    return None


# --------------------------------------------------------------------------
# decompression


def _rtime(src: bytes, dsize: int) -> bytes:
    """The JFFS2 "rtime" run-length scheme: (byte, repeat count) pairs, where the
    repeat copies from just after the previous occurrence of that byte."""
    positions = [0] * 256
    out = bytearray()
    pos = 0
    n = len(src)
    while len(out) < dsize:
        if pos + 2 > n:
            raise JFFS2Error("rtime data ends early")
        value = src[pos]
        repeat = src[pos + 1]
        pos += 2
        out.append(value)
        back = positions[value]
        positions[value] = len(out)
        while repeat:
            k = min(repeat, len(out) - back)
            out += out[back : back + k]
            back += k
            repeat -= k
    return bytes(out[:dsize])


def _decompress(compr: int, raw: bytes, dsize: int) -> bytes:
    if compr in (COMPR_NONE, COMPR_COPY):
        out = raw
    elif compr == COMPR_ZERO:
        return bytes(dsize)
    elif compr == COMPR_ZLIB:
        out = b""
        for wbits in (15, -15):
            dec = zlib.decompressobj(wbits)
            try:
                out = dec.decompress(raw, dsize)
                break
            except zlib.error:
                continue
        else:
            raise JFFS2Error("corrupt zlib data")
    elif compr == COMPR_LZMA:
        try:
            dec = lzma.LZMADecompressor(
                format=lzma.FORMAT_RAW,
                filters=[
                    {"id": lzma.FILTER_LZMA1, "lc": 0, "lp": 0, "pb": 0, "dict_size": max(0x2000, dsize)}
                ],
            )
            out = dec.decompress(raw, dsize)
        except (lzma.LZMAError, ValueError, MemoryError) as exc:
            raise JFFS2Error(f"corrupt lzma data: {exc}") from exc
    elif compr == COMPR_LZO:
        if _lzo is None:
            raise JFFS2Error("LZO data but lzallright is not installed")
        try:
            out = _lzo.LZOCompressor.decompress(raw, output_size_hint=dsize)
        except _lzo.InputNotConsumed as exc:
            out = exc.args[1] if len(exc.args) > 1 else b""
        except (_lzo.LZOError, ValueError, MemoryError) as exc:
            raise JFFS2Error(f"corrupt lzo data: {exc}") from exc
    elif compr == COMPR_RTIME:
        out = _rtime(raw, dsize)
    else:
        name = _COMPR_NAMES.get(compr, f"unknown ({compr})")
        raise JFFS2Error(f"compressor {name} not supported")
    if len(out) < dsize:
        name = _COMPR_NAMES.get(compr, str(compr))
        raise JFFS2Error(f"{name} data gives {len(out)} bytes, {dsize} expected")
    return bytes(out[:dsize])


# --------------------------------------------------------------------------
# scanned nodes


@dataclass(frozen=True, slots=True)
class _DataNode:
    version: int
    pos: int  # offset of the node in the buffer
    offset: int  # offset of its data in the file
    dsize: int
    csize: int
    compr: int
    isize: int


@dataclass(slots=True)
class _Meta:
    version: int
    pos: int
    mode: int
    uid: int
    gid: int
    mtime: int
    isize: int


class JFFS2:
    """Read-only view of one JFFS2 image held in memory or an mmap.

    ``size`` limits the scan to that many bytes after ``offset`` (a JFFS2
    partition has no length field); ``endian`` ("little"/"big") forces the
    byte order instead of taking the first valid node's.
    """

    def __init__(self, data, offset: int = 0, size: int | None = None, endian: str | None = None):
        if isinstance(data, memoryview):
            obj = data.obj
            if data.contiguous and data.nbytes == len(obj) and hasattr(obj, "find"):
                data = obj
            else:
                data = data.tobytes()
        try:
            total = len(data)
        except TypeError as exc:  # pragma: no cover - API misuse
            raise JFFS2Error("image data has no length") from exc
        if offset < 0 or offset >= total:
            raise JFFS2Error(f"offset 0x{offset:x} outside the data")
        self._data = data
        self._base = offset
        self._end = total if size is None else min(total, offset + max(0, size))
        self._errors: list[str] = []
        self._suppressed = 0
        self.errors: list[str] = []
        if endian is None:
            endian = self._detect_endian()
        if endian not in ("little", "big"):
            raise JFFS2Error(f"bad byte order {endian!r}")
        self.endian: str = endian
        self._e = "<" if endian == "little" else ">"
        self._magic = struct.pack(self._e + "H", MAGIC)
        self._nodes: dict[int, list[_DataNode]] = {}
        self._meta: dict[int, _Meta] = {}
        # (parent ino, name) -> (version, pos, ino, dirent type)
        self._dirents: dict[tuple[int, bytes], tuple[int, int, int, int]] = {}
        self.node_count = 0
        self.bytes_used = 0
        self.xattr_nodes = 0
        self._scan()
        self._children: dict[int, list[tuple[bytes, int, int]]] = {}
        for (pino, name), (_v, _p, ino, dtype) in self._dirents.items():
            if ino:
                self._children.setdefault(pino, []).append((name, ino, dtype))
        for kids in self._children.values():
            kids.sort()
        if not self.node_count:
            raise JFFS2Error(f"no valid JFFS2 node at or after offset 0x{offset:x}")
        if not self._meta and not self._dirents:
            raise JFFS2Error(f"no inode or directory entry node after offset 0x{offset:x}")
        self.errors = list(self._errors)

    # -- scanning ------------------------------------------------------------

    def _error(self, message: str, sink: list[str] | None = None) -> None:
        sink = self._errors if sink is None else sink
        if len(sink) < _MAX_ERRORS:
            sink.append(message)
        else:
            self._suppressed += 1

    def _where(self, pos: int) -> str:
        return f"offset 0x{pos:x}"

    def _detect_endian(self) -> str:
        data, end = self._data, self._end
        first: dict[str, int] = {}
        for endian, e in (("little", "<"), ("big", ">")):
            magic = struct.pack(e + "H", MAGIC)
            pos = self._base
            tries = 0
            while tries < 4096:
                pos = data.find(magic, pos, end)
                if pos < 0:
                    break
                if _header_ok(data, pos, e) is not None:
                    first[endian] = pos
                    break
                pos += 1
                tries += 1
        if not first:
            raise JFFS2Error(f"no JFFS2 node header at or after offset 0x{self._base:x}")
        return min(first, key=lambda k: first[k])

    def _scan(self) -> None:
        data, e, end = self._data, self._e, self._end
        magic = self._magic
        pos = self._base
        bad_headers = 0
        first_bad = -1
        last_end = self._base
        while True:
            pos = data.find(magic, pos, end)
            if pos < 0:
                break
            if pos + 12 > end:
                self._error(f"node header cut at the end of the image ({self._where(pos)})")
                break
            found = _header_ok(data, pos, e)
            if found is None:
                bad_headers += 1
                if first_bad < 0:
                    first_bad = pos
                if bad_headers >= _MAX_BAD_HEADERS:
                    self._error(
                        f"more than {_MAX_BAD_HEADERS} invalid node headers; scan stopped at {self._where(pos)}"
                    )
                    break
                pos += 1
                continue
            nodetype, totlen = found
            if totlen < 12:
                self._error(f"node at {self._where(pos)} has length {totlen}; skipped")
                pos += 4
                continue
            if pos + totlen > end:
                self._error(
                    f"node type 0x{nodetype:04x} at {self._where(pos)} runs {pos + totlen - end} bytes "
                    "past the end of the image (truncated); skipped"
                )
                pos += 4
                continue
            self.node_count += 1
            nxt = pos + ((totlen + 3) & ~3)
            last_end = max(last_end, min(pos + totlen, end))
            if nodetype & _ACCURATE:
                base_type = nodetype
                if base_type == NODE_INODE:
                    self._inode_node(pos, totlen)
                elif base_type == NODE_DIRENT:
                    self._dirent_node(pos, totlen)
                elif base_type in (NODE_CLEANMARKER, NODE_PADDING, NODE_SUMMARY):
                    pass
                elif base_type in (NODE_XATTR, NODE_XREF):
                    self.xattr_nodes += 1
                else:
                    compat = nodetype & _COMPAT_MASK
                    if compat == _INCOMPAT:
                        self._error(
                            f"incompatible node type 0x{nodetype:04x} at {self._where(pos)} "
                            "(the kernel would refuse to mount); skipped"
                        )
                    elif compat == _ROCOMPAT:
                        self._error(
                            f"read-only-compatible node type 0x{nodetype:04x} at {self._where(pos)}; skipped"
                        )
            pos = nxt
        if bad_headers:
            self._error(
                f"{bad_headers} JFFS2 magic number(s) without a valid node header skipped "
                f"(first at {self._where(first_bad)})"
            )
        self.bytes_used = last_end - self._base

    def _inode_node(self, pos: int, totlen: int) -> None:
        data, e = self._data, self._e
        if totlen < _INODE_HDR:
            self._error(f"inode node at {self._where(pos)} shorter than its header; skipped")
            return
        head = bytes(data[pos : pos + _INODE_HDR])
        (
            ino,
            version,
            mode,
            uid,
            gid,
            isize,
            _atime,
            mtime,
            _ctime,
            offset,
            csize,
            dsize,
            compr,
            _usercompr,
            _flags,
            data_crc,
            node_crc,
        ) = struct.unpack_from(e + "IIIHHIIIIIIIBBHII", head, 12)
        if _crc(head[:60]) != node_crc:
            self._error(f"inode node at {self._where(pos)} (ino {ino}) has a bad node CRC; skipped")
            return
        if csize > totlen - _INODE_HDR:
            self._error(
                f"inode node at {self._where(pos)} (ino {ino}) claims {csize} data bytes in a "
                f"{totlen}-byte node; skipped"
            )
            return
        if _crc(data[pos + _INODE_HDR : pos + _INODE_HDR + csize]) != data_crc:
            self._error(f"inode node at {self._where(pos)} (ino {ino}) has a bad data CRC; skipped")
            return
        if ino == 0:
            self._error(f"inode node at {self._where(pos)} for inode number 0; skipped")
            return
        if compr != COMPR_ZERO and dsize > _MAX_NODE_DSIZE:
            self._error(
                f"inode node at {self._where(pos)} (ino {ino}) claims {dsize} bytes of "
                f"{_COMPR_NAMES.get(compr, compr)} data; skipped"
            )
            return
        if compr in (COMPR_NONE, COMPR_COPY) and csize != dsize:
            self._error(
                f"uncompressed inode node at {self._where(pos)} (ino {ino}) has {csize} bytes "
                f"for {dsize}; skipped"
            )
            return
        meta = self._meta.get(ino)
        if meta is None or (version, pos) >= (meta.version, meta.pos):
            self._meta[ino] = _Meta(version, pos, mode, uid, gid, mtime, isize)
        if dsize:
            node = _DataNode(version, pos, offset, dsize, csize, compr, isize)
            self._nodes.setdefault(ino, []).append(node)

    def _dirent_node(self, pos: int, totlen: int) -> None:
        data, e = self._data, self._e
        if totlen < _DIRENT_HDR:
            self._error(f"dirent node at {self._where(pos)} shorter than its header; skipped")
            return
        head = bytes(data[pos : pos + _DIRENT_HDR])
        pino, version, ino, _mctime, nsize, dtype, node_crc, name_crc = struct.unpack_from(
            e + "IIIIBB2xII", head, 12
        )
        if _crc(head[:32]) != node_crc:
            self._error(f"dirent node at {self._where(pos)} has a bad node CRC; skipped")
            return
        if _DIRENT_HDR + nsize > totlen:
            self._error(f"dirent node at {self._where(pos)} has a {nsize}-byte name past its end; skipped")
            return
        name = bytes(data[pos + _DIRENT_HDR : pos + _DIRENT_HDR + nsize])
        if _crc(name) != name_crc:
            self._error(f"dirent node at {self._where(pos)} ({name!r}) has a bad name CRC; skipped")
            return
        if not name or name in (b".", b"..") or b"/" in name or b"\x00" in name:
            self._error(f"dirent node at {self._where(pos)} has an unusable name {name!r}; skipped")
            return
        key = (pino, name)
        old = self._dirents.get(key)
        if old is None or (version, pos) >= (old[0], old[1]):
            self._dirents[key] = (version, pos, ino, dtype)

    # -- inodes --------------------------------------------------------------

    def _pieces(self, ino: int, isize: int) -> Iterator[tuple[int, int, _DataNode | None]]:
        """(start, end, node) covering [0, isize): the newest node wins each byte;
        node None is a hole."""
        nodes = self._nodes.get(ino, ())
        bounds = {0, isize}
        starts: list[tuple[int, int, int, _DataNode]] = []
        for n in nodes:
            s, t = n.offset, min(n.offset + n.dsize, isize)
            if s < t:
                starts.append((s, -n.version, -n.pos, n))
                bounds.add(s)
                bounds.add(t)
        starts.sort(key=lambda x: x[:3])
        points = sorted(b for b in bounds if b <= isize)
        heap: list[tuple[int, int, int, _DataNode]] = []
        i = 0
        run_start = 0
        run_node: _DataNode | None = None
        for a in points[:-1]:
            while i < len(starts) and starts[i][0] <= a:
                s, nv, npos, n = starts[i]
                heapq.heappush(heap, (nv, npos, min(n.offset + n.dsize, isize), n))
                i += 1
            while heap and heap[0][2] <= a:
                heapq.heappop(heap)
            winner = heap[0][3] if heap else None
            if winner is not run_node:
                if a > run_start:
                    yield run_start, a, run_node
                run_start, run_node = a, winner
        if isize > run_start:
            yield run_start, isize, run_node

    def _node_data(self, node: _DataNode) -> bytes:
        start = node.pos + _INODE_HDR
        raw = self._data[start : start + node.csize]
        return _decompress(node.compr, raw if type(raw) is bytes else bytes(raw), node.dsize)

    def _content(self, ino: int, isize: int) -> Iterator[bytes]:
        cached: tuple[_DataNode | None, bytes] = (None, b"")
        for start, end, node in self._pieces(ino, isize):
            if node is None:
                left = end - start
                while left > 0:
                    k = min(left, _CHUNK)
                    yield bytes(k)
                    left -= k
                continue
            if node.compr == COMPR_ZERO:
                left = end - start
                while left > 0:
                    k = min(left, _CHUNK)
                    yield bytes(k)
                    left -= k
                continue
            if cached[0] is not node:
                try:
                    cached = (node, self._node_data(node))
                except JFFS2Error as exc:
                    raise JFFS2Error(f"inode {ino}: node at {self._where(node.pos)}: {exc}") from exc
            buf = cached[1]
            yield buf[start - node.offset : end - node.offset]

    def _small(self, ino: int, isize: int, cap: int) -> bytes:
        if isize > cap:
            raise JFFS2Error(f"inode {ino}: {isize} bytes of link or device data")
        return b"".join(self._content(ino, isize))

    # -- public API ----------------------------------------------------------

    def _entry(
        self, path: str, names: tuple[bytes, ...], ino: int, dtype: int, sink: list[str]
    ) -> SqEntry | None:
        meta = self._meta.get(ino)
        if meta is None:
            if dtype == DT_WHT:
                return SqEntry(path, "whiteout", 0, 0, 0, 0, 0, None, None, ino, names, _ref=ino)
            if ino == _ROOT_INO:
                return SqEntry(path, "dir", 0o755, 0, 0, 0, 0, None, None, ino, names, _ref=ino)
            self._error(f"{path}: no valid inode node for inode {ino}; entry skipped", sink)
            return None
        fmt = stat.S_IFMT(meta.mode)
        mode = meta.mode & 0o7777
        target = None
        rdev = None
        size = 0
        if fmt == stat.S_IFDIR:
            kind = "dir"
        elif fmt == stat.S_IFREG:
            kind = "file"
            size = meta.isize
        elif fmt == stat.S_IFLNK:
            kind = "symlink"
            try:
                raw = self._small(ino, meta.isize, _MAX_SYMLINK)
            except JFFS2Error as exc:
                self._error(f"{path}: symlink target unreadable: {exc}; entry skipped", sink)
                return None
            target = raw.decode("utf-8", "surrogateescape")
            size = len(raw)
            if raw == WHITEOUT_TARGET:
                kind = "whiteout"
        elif fmt in (stat.S_IFCHR, stat.S_IFBLK):
            kind = "chardev" if fmt == stat.S_IFCHR else "blockdev"
            try:
                raw = self._small(ino, meta.isize, 64) if meta.isize else self._device_bytes(ino)
            except JFFS2Error as exc:
                self._error(f"{path}: device number unreadable: {exc}", sink)
                raw = b""
            e = self._e
            if len(raw) == 2:
                dev = struct.unpack(e + "H", raw)[0]
                rdev = ((dev >> 8) & 0xFF, dev & 0xFF)
            elif len(raw) == 4:
                dev = struct.unpack(e + "I", raw)[0]
                rdev = ((dev & 0xFFF00) >> 8, (dev & 0xFF) | ((dev >> 12) & 0xFFF00))
            else:
                self._error(f"{path}: device node with {len(raw)} bytes of device number", sink)
                rdev = (0, 0) if not raw else None
            if kind == "chardev" and rdev == (0, 0):
                kind = "whiteout"
                rdev = None
        elif fmt == stat.S_IFIFO:
            kind = "fifo"
        elif fmt == stat.S_IFSOCK:
            kind = "socket"
        else:
            self._error(
                f"{path}: inode {ino} has unknown file type in mode 0o{meta.mode:o}; entry skipped", sink
            )
            return None
        if dtype == DT_WHT:
            kind = "whiteout"
        return SqEntry(
            path=path,
            kind=kind,
            mode=mode,
            uid=meta.uid,
            gid=meta.gid,
            mtime=meta.mtime,
            size=size,
            target=target,
            rdev=rdev,
            inode=ino,
            names_raw=names,
            _ref=ino,
        )

    def _device_bytes(self, ino: int) -> bytes:
        """Device number of a node whose isize is 0: the newest data node holds it."""
        nodes = self._nodes.get(ino)
        if not nodes:
            return b""
        node = max(nodes, key=lambda n: (n.version, n.pos))
        if node.dsize > 64:
            raise JFFS2Error(f"{node.dsize} bytes of device number")
        return self._node_data(node)

    def walk(self) -> Iterator[SqEntry]:
        """Every entry reachable from the root, depth first, parents before
        children, names sorted bytewise within a directory, root ("/") first."""
        self.errors = list(self._errors)
        return self._walk(self.errors)

    def _walk(self, sink: list[str]) -> Iterator[SqEntry]:
        try:
            root = self._entry("/", (), _ROOT_INO, 4, sink)
            if root is None or root.kind != "dir":
                raise JFFS2Error("root inode 1 is not a directory")
            yield root
            visited = {_ROOT_INO}
            stack: list[tuple[str, tuple[bytes, ...], Iterator[tuple[bytes, int, int]]]] = [
                ("", (), iter(self._children.get(_ROOT_INO, ())))
            ]
            while stack:
                prefix, names, kids = stack[-1]
                item = next(kids, None)
                if item is None:
                    stack.pop()
                    continue
                name, ino, dtype = item
                path = prefix + "/" + name.decode("utf-8", "surrogateescape")
                child_names = names + (name,)
                entry = self._entry(path, child_names, ino, dtype, sink)
                if entry is None:
                    continue
                yield entry
                if entry.kind == "dir":
                    if ino in visited:
                        self._error(
                            f"{path}: directory inode {ino} already visited (cycle or directory hard link); "
                            "not entered",
                            sink,
                        )
                        continue
                    if len(stack) >= _MAX_DEPTH:
                        self._error(f"{path}: directory nesting deeper than {_MAX_DEPTH}", sink)
                        continue
                    visited.add(ino)
                    stack.append((path, child_names, iter(self._children.get(ino, ()))))
            orphans = sum(len(v) for k, v in self._children.items() if k not in visited)
            if orphans:
                self._error(f"{orphans} directory entries in directories not reachable from the root", sink)
        finally:
            if self._suppressed:
                sink.append(f"{self._suppressed} further problems not listed")

    def read(self, entry: SqEntry) -> Iterator[bytes]:
        """Content of a regular file, decompressed node by node, holes as zeros."""
        ino = entry._ref
        meta = self._meta.get(ino)
        if ino < 0 or meta is None:
            raise JFFS2Error(f"{entry.path}: entry does not come from walk()")
        if stat.S_IFMT(meta.mode) != stat.S_IFREG:
            raise JFFS2Error(f"{entry.path}: not a regular file")
        return self._read(entry.path, ino, meta.isize)

    def _read(self, path: str, ino: int, isize: int) -> Iterator[bytes]:
        try:
            yield from self._content(ino, isize)
        except JFFS2Error as exc:
            raise JFFS2Error(f"{path}: {exc}") from exc

    def read_bytes(self, entry: SqEntry) -> bytes:
        """Whole content of a regular file (convenience over read())."""
        return b"".join(self.read(entry))


# --------------------------------------------------------------------------
# glue for the unpack engine


def extract_jffs2(path, offset: int, w, size: int | None = None) -> list[str]:
    """JFFS2 image at ``offset`` of the file at ``path`` into ``w``; returns the
    reader's non-fatal error messages.  Raises native.FormatError when the image
    cannot be read at all."""
    import mmap

    from .native import FormatError, feed_writer

    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        try:
            fs = JFFS2(data, offset, size=size)
            feed_writer(fs.walk(), fs, JFFS2Error, w)
        except JFFS2Error as exc:
            raise FormatError(f"jffs2: {exc}") from exc
        return list(fs.errors)
