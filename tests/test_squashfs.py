"""Tests for veracity.unpack.squashfs, the pure-Python SquashFS reader.

Three sources of images:
* Debian's mksquashfs (v4.0 little endian, every compressor it offers);
* a small writer below for layouts mksquashfs cannot make (v2.x and v3.x in
  both byte orders, v4.0 big endian, vendor LZMA variants, crafted loops);
* the real firmware samples in ../shared/corpus.
"""

from __future__ import annotations

import hashlib
import lzma
import mmap
import os
import random
import shutil
import socket
import stat
import struct
import subprocess
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from veracity.unpack.squashfs import SqEntry, SquashFS, SquashFSError, probe

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FIRMWARE = CORPUS / "firmware"
BS = 4096
MKSQUASHFS = shutil.which("mksquashfs")
ALL_COMPRESSORS = ("gzip", "lzo", "lz4", "xz", "zstd", "lzma")


# --------------------------------------------------------------------------
# helpers


def full_scan(fs: SquashFS) -> tuple[list[SqEntry], dict[str, bytes], dict[str, str]]:
    """Walk and read everything; SquashFSError from read() is collected."""
    entries = list(fs.walk())
    contents: dict[str, bytes] = {}
    failures: dict[str, str] = {}
    for entry in entries:
        if entry.kind == "file":
            try:
                contents[entry.path] = b"".join(fs.read(entry))
            except SquashFSError as exc:
                failures[entry.path] = str(exc)
    return entries, contents, failures


def assert_preorder(entries: list[SqEntry], names_sorted: bool = True) -> None:
    """Root first, parents before children, each subtree contiguous; names
    within a directory sorted (as mksquashfs >= 2.1 stores them)."""
    paths = [e.path for e in entries]
    assert paths[0] == "/"
    index = {p: i for i, p in enumerate(paths)}
    for i, entry in enumerate(entries[1:], 1):
        parent = entry.path.rsplit("/", 1)[0] or "/"
        assert index[parent] < i, entry.path
        assert entry.path == "/" + "/".join(n.decode("utf-8", "surrogateescape") for n in entry.names_raw)
    for i, entry in enumerate(entries):
        if entry.kind != "dir":
            continue
        prefix = entry.path.rstrip("/") + "/"
        inside = [j for j, p in enumerate(paths) if p.startswith(prefix) and j != i]
        assert inside == list(range(i + 1, i + 1 + len(inside))), entry.path
        children = [
            e.names_raw[-1]
            for e in entries
            if len(e.names_raw) == len(entry.names_raw) + 1 and e.path.startswith(prefix)
        ]
        if names_sorted:
            assert children == sorted(children), entry.path


# --------------------------------------------------------------------------
# images made by Debian's mksquashfs


def _available_compressors() -> set[str]:
    if MKSQUASHFS is None:
        return set()
    proc = subprocess.run([MKSQUASHFS, "-help"], capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    found = set()
    section = out.split("Compressors available", 1)[-1]
    for line in section.splitlines()[1:12]:
        word = line.strip().split(" ")[0]
        if word in ALL_COMPRESSORS:
            found.add(word)
    return found


COMPRESSORS = _available_compressors()
needs_mksquashfs = pytest.mark.skipif(MKSQUASHFS is None, reason="mksquashfs not installed")

PSEUDO = [
    ("/dev/console", "chardev", 0o600, 0, 0, (5, 1), "c 600 0 0 5 1"),
    ("/dev/sda", "blockdev", 0o660, 0, 6, (8, 0), "b 660 0 6 8 0"),
    ("/dev/big", "chardev", 0o644, 0, 0, (259, 300000), "c 644 0 0 259 300000"),
]
MANY = 300  # entries in /many: more than one directory header and metadata block


def make_tree(root: Path) -> None:
    rnd = random.Random(1234)
    root.mkdir()
    os.chmod(root, 0o755)
    (root / "empty").write_bytes(b"")
    (root / "small.txt").write_text("hello squashfs\n")
    (root / "random.bin").write_bytes(rnd.randbytes(BS * 3 + 1000))  # stored blocks + tail
    (root / "text.bin").write_bytes((b"a compressible line of text\n" * 1000)[: BS * 2 + 77])
    (root / "exact.bin").write_bytes(rnd.randbytes(BS * 2))  # no tail
    with open(root / "sparse.bin", "wb") as fh:
        fh.seek(BS * 2)
        fh.write(b"island of data " * 50)
        fh.truncate(BS * 6)
    (root / "sub" / "deep").mkdir(parents=True)
    os.symlink("small.txt", root / "link_rel")
    os.symlink("../../small.txt", root / "sub" / "deep" / "link_up")
    os.symlink("/etc/passwd", root / "abs_link")
    os.symlink("nowhere/at/all", root / "dangling")
    (root / "hard1").write_bytes(b"hard link content\n")
    os.link(root / "hard1", root / "sub" / "hard2")
    (root / "many").mkdir()
    for i in range(MANY):
        (root / "many" / f"entry_{i:04d}_{'n' * 24}").write_bytes(f"{i}\n".encode())
    (root / "suid").write_bytes(b"#!/bin/sh\necho root\n")
    os.chmod(root / "suid", 0o4755)
    (root / "sgid").mkdir()
    os.chmod(root / "sgid", 0o2775)
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    (root / "owned").write_bytes(b"owned by someone else\n")
    os.chown(root / "owned", 1234, 567)
    os.chmod(root / "owned", 0o640)
    os.mkfifo(root / "fifo")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(root / "sock"))
    except OSError:
        pass
    finally:
        sock.close()
    with open(os.path.join(bytes(root), b"caf\xe9"), "wb") as fh:  # not UTF-8
        fh.write(b"latin-1 name\n")
    (root / "\u00fcn\u00efcode.txt").write_text("unicode name\n")
    try:
        os.setxattr(root / "small.txt", "user.veracity", b"xattr value")
    except OSError:
        pass
    (root / "dev").mkdir()


def expected_tree(root: Path) -> dict[str, dict]:
    exp: dict[str, dict] = {}
    broot = bytes(root)
    for dirpath, dirnames, filenames in os.walk(broot):
        for name in [b""] + dirnames + filenames:
            if name == b"" and dirpath != broot:
                continue
            full = os.path.join(dirpath, name) if name else dirpath
            rel = os.path.relpath(full, broot)
            path = "/" if rel == b"." else "/" + rel.decode("utf-8", "surrogateescape")
            st = os.lstat(full)
            kind = {
                stat.S_IFREG: "file",
                stat.S_IFDIR: "dir",
                stat.S_IFLNK: "symlink",
                stat.S_IFIFO: "fifo",
                stat.S_IFSOCK: "socket",
            }[stat.S_IFMT(st.st_mode)]
            info = {
                "kind": kind,
                "mode": st.st_mode & 0o7777,
                "uid": st.st_uid,
                "gid": st.st_gid,
                "mtime": int(st.st_mtime),
                "size": 0,
                "target": None,
                "ino": st.st_ino,
            }
            if kind == "file":
                info["size"] = st.st_size
                with open(full, "rb") as fh:
                    info["content"] = fh.read()
            elif kind == "symlink":
                target = os.readlink(full)
                info["size"] = len(target)
                info["target"] = target.decode("utf-8", "surrogateescape")
            exp[path] = info
    return exp


@pytest.fixture(scope="module")
def source_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sqsrc") / "root"
    make_tree(root)
    return root


def mksquashfs(src: Path, out: Path, *args: str) -> bytes:
    cmd = [MKSQUASHFS, str(src), str(out), "-noappend", "-no-progress", "-quiet"]
    for path, _k, _m, _u, _g, _r, spec in PSEUDO:
        cmd += ["-p", f"{path} {spec}"]
    cmd += list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"mksquashfs failed: {proc.stderr or proc.stdout}")
    return out.read_bytes()


def compare_with_source(fs: SquashFS, src: Path, force_ids: tuple[int, int] | None = None) -> None:
    entries, contents, failures = full_scan(fs)
    assert fs.errors == []
    assert failures == {}
    assert_preorder(entries)
    got = {e.path: e for e in entries}
    exp = expected_tree(src)
    pseudo = {p[0]: p for p in PSEUDO}
    assert set(got) == set(exp) | set(pseudo)
    for path, info in exp.items():
        e = got[path]
        assert e.kind == info["kind"], path
        assert e.mode == info["mode"], path
        if force_ids is None:
            assert (e.uid, e.gid) == (info["uid"], info["gid"]), path
        else:
            assert (e.uid, e.gid) == force_ids, path
        if path != "/":
            assert e.mtime == info["mtime"], path
        assert e.size == info["size"], path
        assert e.target == info["target"], path
        assert e.rdev is None
        if e.kind == "file":
            assert contents[path] == info["content"], path
    for path, kind, mode, uid, gid, rdev, _spec in PSEUDO:
        e = got[path]
        assert (e.kind, e.mode, e.rdev, e.size) == (kind, mode, rdev, 0), path
        if force_ids is None:
            assert (e.uid, e.gid) == (uid, gid), path
    # hard links share an inode number, nothing else does
    assert got["/hard1"].inode == got["/sub/hard2"].inode
    numbers = Counter(e.inode for e in entries)
    assert [n for n, c in numbers.items() if c > 1] == [got["/hard1"].inode]
    assert got["/caf\udce9"].names_raw == (b"caf\xe9",)
    assert got["/sub/deep/link_up"].target == "../../small.txt"
    assert len([e for e in entries if e.path.startswith("/many/")]) == MANY
    # read() yields one block per chunk
    chunks = list(fs.read(got["/random.bin"]))
    assert [len(c) for c in chunks] == [BS, BS, BS, 1000]
    assert b"".join(fs.read(got["/sparse.bin"]))[: BS * 2] == bytes(BS * 2)


@needs_mksquashfs
@pytest.mark.parametrize("comp", ALL_COMPRESSORS)
def test_mksquashfs_compressors(comp, source_tree, tmp_path):
    if comp not in COMPRESSORS:
        pytest.skip(f"mksquashfs lacks {comp}")
    data = mksquashfs(source_tree, tmp_path / "img.sqfs", "-comp", comp, "-b", str(BS))
    assert probe(data) == (4, 0, "little")
    fs = SquashFS(data)
    assert fs.version == (4, 0)
    assert fs.endian == "little"
    assert fs.block_size == BS
    assert fs.bytes_used <= len(data)
    compare_with_source(fs, source_tree)
    assert fs.compression == comp


@needs_mksquashfs
@pytest.mark.parametrize(
    "args",
    [
        ("-noI", "-noD", "-noF", "-noX"),
        ("-always-use-fragments",),
        ("-tailends",),
        ("-no-fragments",),
        ("-no-sparse", "-no-duplicates"),
        ("-b", "1M"),
    ],
    ids=["uncompressed", "always-frag", "tailends", "no-frag", "no-sparse", "1M-blocks"],
)
def test_mksquashfs_layouts(args, source_tree, tmp_path):
    extra = ("-b", str(BS)) if "-b" not in args else ()
    data = mksquashfs(source_tree, tmp_path / "img.sqfs", *extra, *args)
    fs = SquashFS(data)
    if "-b" in args:
        # block-per-chunk check in compare_with_source assumes BS blocks
        entries, contents, failures = full_scan(fs)
        assert fs.errors == [] and failures == {}
        exp = expected_tree(source_tree)
        for e in entries:
            if e.kind == "file":
                assert contents[e.path] == exp[e.path]["content"]
        return
    compare_with_source(fs, source_tree)


@needs_mksquashfs
def test_mksquashfs_forced_ids_offset_and_mmap(source_tree, tmp_path):
    data = mksquashfs(
        source_tree, tmp_path / "img.sqfs", "-b", str(BS), "-force-uid", "4321", "-force-gid", "8765"
    )
    blob = tmp_path / "blob"
    pad = b"\xff" * 1234
    blob.write_bytes(pad + data + b"\x00" * 500)
    with open(blob, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        assert probe(mm, 0) is None
        assert probe(mm, len(pad)) == (4, 0, "little")
        fs = SquashFS(mm, len(pad))
        compare_with_source(fs, source_tree, force_ids=(4321, 8765))
        del fs
    fs = SquashFS(memoryview(pad + data), len(pad))
    assert sum(1 for _ in fs.walk()) == len(expected_tree(source_tree)) + len(PSEUDO)


@needs_mksquashfs
def test_corrupt_block_fails_only_that_file(source_tree, tmp_path):
    data = bytearray(mksquashfs(source_tree, tmp_path / "img.sqfs", "-b", str(BS)))
    fs = SquashFS(bytes(data))
    entries = {e.path: e for e in fs.walk()}
    victim = entries["/text.bin"]
    start = fs._inode(victim._ref).start
    data[start + 5 : start + 40] = bytes(35)
    fs = SquashFS(bytes(data))
    entries, contents, failures = full_scan(fs)
    assert list(failures) == ["/text.bin"]
    assert "/random.bin" in contents and "/small.txt" in contents


# --------------------------------------------------------------------------
# a small image writer for layouts mksquashfs can't produce


@dataclass
class Node:
    kind: str  # file dir symlink chardev blockdev fifo socket
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 1_600_000_000
    data: bytes = b""
    target: bytes = b""
    rdev: tuple[int, int] = (0, 0)
    children: dict[bytes, Node] = field(default_factory=dict)
    loop_to_root: bool = False  # directory entry pointing back at "/"


TYPE_IDS = {"dir": 1, "file": 2, "symlink": 3, "blockdev": 4, "chardev": 5, "fifo": 6, "socket": 7}


def pack_bits(size: int, big: bool, fields) -> bytes:
    value = 0
    for pos, width, v in fields:
        v &= (1 << width) - 1
        value |= v << (size * 8 - pos - width) if big else v << pos
    return value.to_bytes(size, "big" if big else "little")


def compress(codec: str, raw: bytes) -> bytes:
    if codec == "zlib":
        return zlib.compress(raw, 9)
    filters = [{"id": lzma.FILTER_LZMA1, "lc": 3, "lp": 0, "pb": 2, "dict_size": 1 << 16}]
    alone = lzma.compress(raw, format=lzma.FORMAT_ALONE, filters=filters)
    if codec == "lzma-alone":
        return alone
    if codec == "lzma-props":  # 5 header bytes, no size, then the stream
        return alone[:5] + alone[13:]
    if codec == "lzma-raw":
        return lzma.compress(raw, format=lzma.FORMAT_RAW, filters=filters)
    raise ValueError(codec)


def build_image(
    version: int,
    endian: str,
    root: Node,
    *,
    codec: str = "zlib",
    check_flag: bool = False,
    compress_dirs: bool = True,
) -> bytes:
    """Write a SquashFS image.  Inode table metadata is stored uncompressed so
    that inode references are known before it is written; the directory table
    is compressed with `codec` when compress_dirs is set."""
    big = endian == "big"
    e = ">" if big else "<"
    marker = 1 if check_flag and version < 4 else 0
    hdr_size = {2: 63, 3: 119, 4: 96}[version]
    image = bytearray(hdr_size)

    def meta_blocks(payload: bytes, compressed: bool) -> tuple[bytes, list[int]]:
        out = bytearray()
        starts = []
        for i in range(0, max(len(payload), 1), 8192):
            chunk = payload[i : i + 8192]
            starts.append(len(out))
            packed = compress(codec, chunk) if compressed else chunk
            if compressed and len(packed) < len(chunk):
                word = len(packed)
            else:
                packed, word = chunk, len(chunk) | 0x8000
            out += struct.pack(e + "H", word) + (b"\xff" if marker else b"") + packed
        return bytes(out), starts

    # ids
    ids: list[int] = []

    def id_index(value: int) -> int:
        if value not in ids:
            ids.append(value)
        return ids.index(value)

    # flatten: depth-first order, assign inode numbers
    order: list[tuple[Node, Node | None]] = []

    def visit(node: Node, parent: Node | None) -> None:
        order.append((node, parent))
        for name in sorted(node.children):
            visit(node.children[name], node)

    visit(root, None)
    number = {id(n): i + 1 for i, (n, _p) in enumerate(order)}

    # data blocks and one shared fragment block
    frag_buf = bytearray()
    file_info: dict[int, tuple[int, list[int], int, int]] = {}
    for node, _p in order:
        if node.kind != "file":
            continue
        start = len(image)
        words = []
        full, tail = divmod(len(node.data), BS)
        for b in range(full):
            raw = node.data[b * BS : (b + 1) * BS]
            if raw == bytes(BS):
                words.append(0)  # sparse
                continue
            packed = compress(codec, raw)
            if len(packed) < len(raw):
                words.append(len(packed))
            else:
                packed = raw
                words.append(len(raw) | 1 << 24)
            image += packed
        frag, foff = 0xFFFFFFFF, 0
        if tail:
            frag, foff = 0, len(frag_buf)
            frag_buf += node.data[full * BS :]
        file_info[id(node)] = (start, words, frag, foff)
    frag_entry = None
    if frag_buf:
        packed = compress(codec, bytes(frag_buf))
        frag_entry = (len(image), len(packed))
        image += packed

    # inode layout (uncompressed offsets)
    def inode_size(node: Node) -> int:
        nblocks = len(file_info[id(node)][1]) if node.kind == "file" else 0
        if version == 4:
            return (
                16
                + {
                    "dir": 16,
                    "file": 16 + 4 * nblocks,
                    "symlink": 8 + len(node.target),
                    "chardev": 8,
                    "blockdev": 8,
                    "fifo": 4,
                    "socket": 4,
                }[node.kind]
            )
        if version == 3:
            return {
                "dir": 28,
                "file": 32 + 4 * nblocks,
                "symlink": 18 + len(node.target),
                "chardev": 18,
                "blockdev": 18,
                "fifo": 16,
                "socket": 16,
            }[node.kind]
        return {
            "dir": 15,
            "file": 24 + 4 * nblocks,
            "symlink": 6 + len(node.target),
            "chardev": 6,
            "blockdev": 6,
            "fifo": 4,
            "socket": 4,
        }[node.kind]

    inode_off: dict[int, int] = {}
    pos = 0
    for node, _p in order:
        inode_off[id(node)] = pos
        pos += inode_size(node)

    def iref(node: Node) -> tuple[int, int]:
        u = inode_off[id(node)]
        return (u // 8192) * (8192 + 2 + marker), u % 8192

    # directory table
    dir_payload = bytearray()
    listing: dict[int, tuple[int, int]] = {}
    for node, _p in order:
        if node.kind != "dir":
            continue
        start = len(dir_payload)
        items = [(name, node.children[name]) for name in sorted(node.children)]
        if node.loop_to_root:
            items.append((b"zz-loop", root))
        groups: list[list[tuple[bytes, Node]]] = []
        for name, child in items:
            blk = iref(child)[0]
            if not groups or len(groups[-1]) == 256 or iref(groups[-1][0][1])[0] != blk:
                groups.append([])
            groups[-1].append((name, child))
        for group in groups:
            blk = iref(group[0][1])[0]
            base = number[id(group[0][1])]
            if version == 4:
                dir_payload += struct.pack(e + "III", len(group) - 1, blk, base)
            elif version == 3:
                dir_payload += pack_bits(9, big, [(0, 8, len(group) - 1), (8, 32, blk), (40, 32, base)])
            else:
                dir_payload += pack_bits(4, big, [(0, 8, len(group) - 1), (8, 24, blk)])
            for name, child in group:
                off = iref(child)[1]
                t = TYPE_IDS[child.kind]
                delta = number[id(child)] - base
                if version == 4:
                    dir_payload += struct.pack(e + "HhHH", off, delta, t, len(name) - 1)
                elif version == 3:
                    dir_payload += pack_bits(
                        5, big, [(0, 13, off), (13, 3, t), (16, 8, len(name) - 1), (24, 16, delta)]
                    )
                else:
                    dir_payload += pack_bits(3, big, [(0, 13, off), (13, 3, t), (16, 8, len(name) - 1)])
                dir_payload += name
        listing[id(node)] = (start, len(dir_payload) - start)
    dir_table, dir_starts = meta_blocks(bytes(dir_payload), compress_dirs)

    def dref(node: Node) -> tuple[int, int, int]:
        start, size = listing[id(node)]
        return dir_starts[start // 8192] if start // 8192 < len(dir_starts) else 0, start % 8192, size

    # inode table
    inodes = bytearray()
    for node, parent in order:
        t = TYPE_IDS[node.kind]
        uidx, gidx = id_index(node.uid), id_index(node.gid)
        num = number[id(node)]
        if node.kind == "dir":
            dblock, doff, dsize = dref(node)
            if version != 2:
                dsize += 3
        if node.kind == "file":
            start, words, frag, foff = file_info[id(node)]
        major, minor = node.rdev
        if version == 4:
            rec = struct.pack(e + "HHHHII", t, node.mode, uidx, gidx, node.mtime, num)
            if node.kind == "dir":
                pnum = number[id(parent)] if parent else len(order) + 1
                rec += struct.pack(e + "IIHHI", dblock, 2, dsize, doff, pnum)
            elif node.kind == "file":
                rec += struct.pack(e + "IIII", start, frag, foff, len(node.data))
                rec += struct.pack(f"{e}{len(words)}I", *words)
            elif node.kind == "symlink":
                rec += struct.pack(e + "II", 1, len(node.target)) + node.target
            elif node.kind in ("chardev", "blockdev"):
                rdev = (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)
                rec += struct.pack(e + "II", 1, rdev)
            else:
                rec += struct.pack(e + "I", 1)
        elif version == 3:
            base = [
                (0, 4, t),
                (4, 12, node.mode),
                (16, 8, uidx),
                (24, 8, gidx),
                (32, 32, node.mtime),
                (64, 32, num),
            ]
            if node.kind == "dir":
                rec = pack_bits(
                    28,
                    big,
                    base + [(96, 32, 2), (128, 19, dsize), (147, 13, doff), (160, 32, dblock), (192, 32, 0)],
                )
            elif node.kind == "file":
                rec = pack_bits(
                    32,
                    big,
                    base + [(96, 64, start), (160, 32, frag), (192, 32, foff), (224, 32, len(node.data))],
                )
                rec += struct.pack(f"{e}{len(words)}I", *words)
            elif node.kind == "symlink":
                rec = pack_bits(18, big, base + [(96, 32, 1), (128, 16, len(node.target))])
                rec += node.target
            elif node.kind in ("chardev", "blockdev"):
                rec = pack_bits(18, big, base + [(96, 32, 1), (128, 16, major << 8 | minor)])
            else:
                rec = pack_bits(16, big, base + [(96, 32, 1)])
        else:
            base = [(0, 4, t), (4, 12, node.mode), (16, 8, uidx), (24, 8, gidx)]
            if node.kind == "dir":
                rec = pack_bits(
                    15, big, base + [(32, 19, dsize), (51, 13, doff), (64, 32, node.mtime), (96, 24, dblock)]
                )
            elif node.kind == "file":
                rec = pack_bits(
                    24,
                    big,
                    base
                    + [
                        (32, 32, node.mtime),
                        (64, 32, start),
                        (96, 32, frag),
                        (128, 32, foff),
                        (160, 32, len(node.data)),
                    ],
                )
                rec += struct.pack(f"{e}{len(words)}I", *words)
            elif node.kind == "symlink":
                rec = pack_bits(6, big, base + [(32, 16, len(node.target))]) + node.target
            elif node.kind in ("chardev", "blockdev"):
                rec = pack_bits(6, big, base + [(32, 16, major << 8 | minor)])
            else:
                rec = pack_bits(4, big, base)
        assert len(rec) == inode_size(node), node.kind
        inodes += rec
    inode_table, _starts = meta_blocks(bytes(inodes), False)

    inode_table_start = len(image)
    image += inode_table
    directory_table_start = len(image)
    image += dir_table
    # fragment table
    nfrags = 1 if frag_entry else 0
    if frag_entry:
        fstart, fsize = frag_entry
        entry = (
            struct.pack(e + "II", fstart, fsize) if version == 2 else struct.pack(e + "QII", fstart, fsize, 0)
        )
        frag_meta_pos = len(image)
        image += meta_blocks(entry, False)[0]
    fragment_table_start = len(image)
    if frag_entry:
        image += struct.pack(e + ("I" if version == 2 else "Q"), frag_meta_pos)
    # ids
    if version == 4:
        id_meta_pos = len(image)
        image += meta_blocks(struct.pack(f"{e}{len(ids)}I", *ids), False)[0]
        id_table_start = len(image)
        image += struct.pack(e + "Q", id_meta_pos)
    else:
        uid_start = len(image)
        image += struct.pack(f"{e}{len(ids)}I", *ids)
        guid_start = len(image)
        image += struct.pack(f"{e}{len(ids)}I", *ids)
    bytes_used = len(image)
    root_ref = iref(root)
    root_inode = root_ref[0] << 16 | root_ref[1]
    magic = b"sqsh" if big else b"hsqs"
    block_log = BS.bit_length() - 1
    if version == 4:
        sb = struct.pack(
            e + "IIIIIHHHHHHQQQQQQQQ",
            0,
            len(order),
            1_600_000_000,
            BS,
            nfrags,
            1,
            block_log,
            0,
            len(ids),
            4,
            0,
            root_inode,
            bytes_used,
            id_table_start,
            0xFFFFFFFFFFFFFFFF,
            inode_table_start,
            directory_table_start,
            fragment_table_start,
            0xFFFFFFFFFFFFFFFF,
        )
    else:
        flags = 0x04 if check_flag else 0
        sb = struct.pack(
            e + "IIIIIIIHHHHBBBIQIII",
            0,
            len(order),
            bytes_used,
            uid_start,
            guid_start,
            inode_table_start,
            directory_table_start,
            version,
            0 if version == 2 else 1,
            BS,
            block_log,
            flags,
            len(ids),
            len(ids),
            1_600_000_000,
            root_inode,
            BS,
            nfrags,
            fragment_table_start,
        )
        if version == 3:
            sb += struct.pack(
                e + "QQQQQQQ",
                bytes_used,
                uid_start,
                guid_start,
                inode_table_start,
                directory_table_start,
                fragment_table_start,
                0xFFFFFFFFFFFFFFFF,
            )
    image[: len(sb)] = sb
    image[:4] = magic
    return bytes(image)


def sample_tree() -> Node:
    rnd = random.Random(99)
    root = Node("dir", mode=0o755)
    bin_ = Node("dir", mode=0o755)
    root.children[b"bin"] = bin_
    bin_.children[b"busybox"] = Node("file", mode=0o4755, data=b"\x7fELF" + rnd.randbytes(BS * 2 + 300))
    bin_.children[b"sh"] = Node("symlink", mode=0o777, target=b"busybox")
    etc = Node("dir", mode=0o755, uid=1000, gid=100)
    root.children[b"etc"] = etc
    etc.children[b"passwd"] = Node("symlink", mode=0o777, target=b"../var/passwd")
    etc.children[b"motd"] = Node("file", data=b"welcome\n" * 600, uid=1000, gid=100)
    etc.children[b"empty"] = Node("file")
    etc.children[b"sparse"] = Node("file", data=bytes(BS * 2) + b"tail")
    dev = Node("dir", mode=0o755)
    root.children[b"dev"] = dev
    dev.children[b"console"] = Node("chardev", mode=0o600, rdev=(5, 1))
    dev.children[b"mtdblock0"] = Node("blockdev", mode=0o640, gid=6, rdev=(31, 0))
    dev.children[b"initctl"] = Node("fifo", mode=0o600)
    dev.children[b"log"] = Node("socket", mode=0o666)
    many = Node("dir", mode=0o700)
    root.children[b"many"] = many
    for i in range(300):
        many.children[b"f%03d" % i] = Node("file", data=b"%d\n" % i)
    root.children[b"empty_dir"] = Node("dir", mode=0o1777)
    root.children[b"caf\xe9"] = Node("file", data=b"x")
    return root


def expected_from_nodes(root: Node) -> dict[str, tuple]:
    out = {}

    def visit(node: Node, path: str) -> None:
        size = len(node.data) if node.kind == "file" else len(node.target) if node.kind == "symlink" else 0
        target = node.target.decode("utf-8", "surrogateescape") if node.kind == "symlink" else None
        rdev = node.rdev if node.kind in ("chardev", "blockdev") else None
        out[path] = (node.kind, node.mode, node.uid, node.gid, size, target, rdev, node.data)
        for name in sorted(node.children):
            visit(node.children[name], path.rstrip("/") + "/" + name.decode("utf-8", "surrogateescape"))

    visit(root, "/")
    return out


SYNTH = [
    (2, "little", "zlib", False),
    (2, "big", "lzma-props", False),
    (3, "little", "zlib", False),
    (3, "big", "zlib", True),
    (3, "little", "lzma-alone", True),
    (3, "big", "lzma-props", False),
    (3, "little", "lzma-raw", False),
    (4, "big", "zlib", False),
    (4, "little", "lzma-props", False),
    (4, "big", "lzma-alone", False),
]


@pytest.mark.parametrize(
    "version,endian,codec,check", SYNTH, ids=[f"v{v}-{e}-{c}{'-check' if k else ''}" for v, e, c, k in SYNTH]
)
def test_synthetic_images(version, endian, codec, check):
    tree = sample_tree()
    data = build_image(version, endian, tree, codec=codec, check_flag=check)
    assert probe(data) == (version, 0 if version != 3 else 1, endian)
    fs = SquashFS(data)
    assert fs.version[0] == version and fs.endian == endian
    assert fs.compression == ("gzip" if codec == "zlib" else "lzma")
    entries, contents, failures = full_scan(fs)
    assert fs.errors == [] and failures == {}
    assert_preorder(entries)
    exp = expected_from_nodes(tree)
    got = {e.path: e for e in entries}
    assert list(got) == list(exp)
    for path, (kind, mode, uid, gid, size, target, rdev, content) in exp.items():
        e = got[path]
        assert (e.kind, e.mode, e.uid, e.gid, e.size, e.target, e.rdev) == (
            kind,
            mode,
            uid,
            gid,
            size,
            target,
            rdev,
        ), path
        if kind == "file":
            assert contents[path] == content, path
    assert len({e.inode for e in entries}) == len(entries)
    expected_comp = "gzip" if codec == "zlib" else "lzma"
    assert fs.compression == expected_comp
    assert fs.compression_variant == codec
    assert got["/bin/busybox"].mode == 0o4755


@pytest.mark.parametrize("where", ["etc", "root"])
def test_directory_cycle_is_cut(where):
    tree = sample_tree()
    looping = tree.children[b"etc"] if where == "etc" else tree  # root: contains itself
    looping.loop_to_root = True
    loop_path = "/etc/zz-loop" if where == "etc" else "/zz-loop"
    for version in (2, 3, 4):
        for endian in ("little", "big"):
            fs = SquashFS(build_image(version, endian, tree))
            t0 = time.monotonic()
            entries = list(fs.walk())
            assert time.monotonic() - t0 < 1
            paths = [e.path for e in entries]
            assert loop_path in paths
            assert not any(p.startswith(loop_path + "/") for p in paths)
            assert len(paths) == len(set(paths))
            assert any("already visited" in m for m in fs.errors)


# --------------------------------------------------------------------------
# hostile input


def survive(data: bytes, offset: int = 0) -> tuple[str, list[str]]:
    """Open, walk and read everything.  Only SquashFSError may escape, and
    everything must finish quickly."""
    t0 = time.monotonic()
    outcome = "ok"
    errors: list[str] = []
    try:
        fs = SquashFS(data, offset)
        try:
            _entries, _contents, failures = full_scan(fs)
            errors = list(fs.errors) + list(failures.values())
        except SquashFSError as exc:
            outcome = f"raised: {exc}"
    except SquashFSError as exc:
        outcome = f"raised: {exc}"
    assert time.monotonic() - t0 < 1.0
    return outcome, errors


@pytest.fixture(scope="module")
def gzip_image() -> bytes:
    return build_image(4, "little", sample_tree(), codec="zlib")


def test_truncated_images(gzip_image):
    images = [gzip_image]
    tplink = FIRMWARE / "tplink-mr3020v1-3.17.2.bin"
    if tplink.exists():
        images.append(tplink.read_bytes()[0x120200 : 0x120200 + 2597236])
    for data in images:
        for cut in (len(data) // 2, len(data) - 1, len(data) - 40, 200, 97, 95, 40, 10):
            outcome, errors = survive(data[:cut])
            assert outcome.startswith("raised") or errors, cut


def test_flipped_bytes_in_tables(gzip_image):
    fs = SquashFS(gzip_image)
    lo, hi = fs._sb.inode_table_start, fs._sb.fragment_table_start
    rnd = random.Random(7)
    for _ in range(300):
        data = bytearray(gzip_image)
        for _ in range(rnd.randint(1, 8)):
            data[rnd.randrange(lo, hi)] = rnd.randrange(256)
        survive(bytes(data))
    # uncompressed inode table of a v3 big-endian image: every field is hit
    data0 = build_image(3, "big", sample_tree(), codec="zlib", compress_dirs=False)
    fs = SquashFS(data0)
    lo, hi = fs._sb.inode_table_start, fs._sb.fragment_table_start
    for _ in range(300):
        data = bytearray(data0)
        for _ in range(rnd.randint(1, 4)):
            data[rnd.randrange(lo, hi)] = rnd.randrange(256)
        survive(bytes(data))
    # a directory block replaced by garbage is reported
    fs = SquashFS(gzip_image)
    dstart = fs._sb.directory_table_start
    data = bytearray(gzip_image)
    data[dstart + 2 : dstart + 60] = bytes(rnd.randrange(256) for _ in range(58))
    outcome, errors = survive(bytes(data))
    assert outcome.startswith("raised") or errors


@needs_mksquashfs
def test_flipped_bytes_mksquashfs_xz(source_tree, tmp_path):
    comp = "xz" if "xz" in COMPRESSORS else "gzip"
    image = mksquashfs(source_tree, tmp_path / "img.sqfs", "-comp", comp, "-b", str(BS))
    fs = SquashFS(image)
    lo, hi = fs._sb.inode_table_start, fs._sb.fragment_table_start
    rnd = random.Random(11)
    for _ in range(60):
        data = bytearray(image)
        data[rnd.randrange(lo, hi)] ^= 1 << rnd.randrange(8)
        survive(bytes(data))


def test_superblock_with_huge_counts(gzip_image):
    for fmt_off, value in [(4, 0xFFFFFFFF), (16, 0xFFFFFFFF), (26, 0xFFFF)]:
        data = bytearray(gzip_image)
        size = 2 if fmt_off == 26 else 4
        data[fmt_off : fmt_off + size] = value.to_bytes(size, "little")
        outcome, errors = survive(bytes(data))
        if fmt_off == 4:  # inode count is informational only
            continue
        assert outcome.startswith("raised") or errors
    # table offsets far beyond the image
    for off in (40, 48, 64, 72, 80):
        data = bytearray(gzip_image)
        data[off : off + 8] = (0x7FFF_FFFF_FFFF).to_bytes(8, "little")
        outcome, errors = survive(bytes(data))
    # bad superblocks are refused by probe() and SquashFS()
    for off, value in [(12, 12345), (12, 1 << 24), (28, 9), (20, 99)]:
        data = bytearray(gzip_image)
        data[off : off + 2] = value.to_bytes(4, "little")[:2]
        if off == 12:
            data[off : off + 4] = value.to_bytes(4, "little")
        assert probe(bytes(data)) is None
        with pytest.raises(SquashFSError):
            SquashFS(bytes(data))
    assert probe(b"") is None and probe(b"hsqs") is None
    with pytest.raises(SquashFSError):
        SquashFS(b"not a squashfs image at all" * 10)


def test_random_garbage_after_magic():
    rnd = random.Random(3)
    for _ in range(200):
        body = bytearray(rnd.randbytes(rnd.choice([120, 600, 5000])))
        body[:4] = rnd.choice([b"hsqs", b"sqsh"])
        body[28:30] = rnd.choice([2, 3, 4]).to_bytes(2, rnd.choice(["little", "big"]))
        survive(bytes(body))


def test_read_rejects_non_files(gzip_image):
    fs = SquashFS(gzip_image)
    entries = {e.path: e for e in fs.walk()}
    with pytest.raises(SquashFSError):
        list(fs.read(entries["/bin"]))
    with pytest.raises(SquashFSError):
        fs.read(SqEntry("/x", "file", 0o644, 0, 0, 0, 1, None, None, 1, (b"x",)))


# --------------------------------------------------------------------------
# real firmware


def corpus_image(name: str) -> bytes:
    path = FIRMWARE / name
    if not path.exists():
        pytest.skip(f"corpus sample {path} absent")
    return path.read_bytes()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.corpus
def test_corpus_tplink_lzma_variant():
    data = corpus_image("tplink-mr3020v1-3.17.2.bin")
    assert probe(data, 0) is None
    assert probe(data, 0x120200) == (4, 0, "little")
    fs = SquashFS(data, 0x120200)
    assert fs.bytes_used == 2597236 and fs.block_size == 131072
    entries, contents, failures = full_scan(fs)
    assert fs.errors == [] and failures == {}
    assert fs.compression == "lzma" and fs.compression_variant == "lzma-props"
    kinds = Counter(e.kind for e in entries)
    assert kinds == {"file": 444, "symlink": 72, "chardev": 59, "dir": 40, "blockdev": 9}
    assert len(entries) == fs.inode_count == 624
    assert_preorder(entries)
    got = {e.path: e for e in entries}
    for e in entries:
        if e.kind == "file":
            assert len(contents[e.path]) == e.size
    busybox = contents["/bin/busybox"]
    assert busybox[:4] == b"\x7fELF" and len(busybox) == 267408
    assert sha(busybox) == "9e9680639f0bd3d30e46faeded685db147be6d605d0fe51cc2ebf0c08a9c338d"
    assert sha(contents["/etc/passwd"]) == "bc7462cd249d5a55d0fb0c8ed040dd37490f437f198a75725e0e76f0f747f4ea"
    assert contents["/etc/passwd"].startswith(b"root:")
    contents["/etc/rc.d/rcS"].decode("ascii")
    assert got["/sbin/init"].target == "../bin/busybox"
    assert got["/lib/libc.so.0"].target == "libuClibc-0.9.30.so"
    assert got["/dev/console"].rdev == (5, 1)
    assert sum(len(c) for c in contents.values()) == 10215877


@pytest.mark.corpus
def test_corpus_broadcom_v2_big_endian_lzma():
    data = corpus_image("broadcom-bcm63xx-squashfs-v2.bin")
    assert probe(data) == (2, 0, "big")
    fs = SquashFS(data)
    assert fs.bytes_used == len(data) == 2587654 and fs.block_size == 65536
    # metadata is stored uncompressed here: found from the first data block
    assert fs.compression == "lzma" and fs.compression_variant == "lzma-props"
    entries, contents, failures = full_scan(fs)
    assert fs.errors == [] and failures == {}
    assert fs.compression == "lzma" and fs.compression_variant == "lzma-props"
    kinds = Counter(e.kind for e in entries)
    assert kinds == {"file": 263, "symlink": 68, "blockdev": 36, "chardev": 34, "dir": 29, "fifo": 1}
    assert len(entries) == fs.inode_count == 431
    assert_preorder(entries, names_sorted=False)  # 2.0 stored directories unsorted
    assert [e.path for e in entries[:3]] == ["/", "/webs", "/webs/scdmz.html"]
    got = {e.path: e for e in entries}
    assert got["/etc/passwd"].kind == "symlink" and got["/etc/passwd"].target == "/var/passwd"
    assert got["/etc/passwd"].size == len("/var/passwd")
    assert got["/bin/sh"].target == "busybox"
    assert got["/dev/console"].rdev == (5, 1)
    for e in entries:
        if e.kind == "file":
            assert len(contents[e.path]) == e.size
    busybox = contents["/bin/busybox"]
    assert busybox[:4] == b"\x7fELF" and len(busybox) == 224756
    assert sha(busybox) == "a891b4b65721232d12b384488e695f3f432d7ac24773c15d03bec75656c46b51"
    assert (
        sha(contents["/lib/libc.so.0"]) == "bbecba705c8ca1a33844e2462767fe6d33676064e69669031ff291978a5f0e1b"
    )
    assert contents["/etc/inittab"].decode("ascii").startswith("::sysinit:")
    assert sum(len(c) for c in contents.values()) == 7775096


@pytest.mark.corpus
def test_corpus_small_sample():
    data = corpus_image("small/squashfs.bin")
    assert probe(data) == (4, 0, "little")
    fs = SquashFS(data)
    entries, contents, failures = full_scan(fs)
    assert [e.path for e in entries] == ["/", "/lsb-release"]
    assert fs.errors == [] and failures == {}
    assert fs.compression == "gzip"
    lsb = contents["/lsb-release"]
    assert len(lsb) == 104 and lsb.startswith(b"DISTRIB_ID=Ubuntu\n")
    assert sha(lsb) == "6dc8ba4242e0e699e3360b84e38ccecfc4dcedaa4701c8ebee3836decd815654"
    assert entries[1].uid == entries[1].gid == 1000
