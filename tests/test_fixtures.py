"""Tests of the fixture builder itself (veracity.testing.fixtures).

Images are built once into the shared fixture cache (``$VERACITY_FIXTURE_CACHE``
or ``<repo>/.fixture-cache``); determinism is checked by building again into
a fresh cache and comparing bytes.  A format whose Debian tool is missing is
skipped, naming the tool.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest

try:
    from veracity.testing import fixtures as fx
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from veracity.testing import fixtures as fx

REPO = Path(__file__).resolve().parents[1]


def need(name: str) -> None:
    missing = fx.tool_missing(name)
    if missing:
        pytest.skip(f"{missing} is not installed")


def built(fmt: str) -> Path:
    need(fmt)
    return fx.build(fmt)


def hostile(name: str) -> Path:
    need(name)
    return fx.build_hostile(name)


# --------------------------------------------------------------------------
# Constants and the rootfs tree
# --------------------------------------------------------------------------


def test_constants():
    assert len(set(fx.FORMATS)) == len(fx.FORMATS) == 27
    assert len(set(fx.HOSTILE)) == len(fx.HOSTILE) == 14
    assert set(fx.formats_with_devices()) <= set(fx.FORMATS)
    assert set(fx.PACKAGE_FORMATS) <= set(fx.FORMATS)
    for path, (kind, major, minor, mode) in fx.DEVICES.items():
        assert path.startswith("/dev/")
        assert kind in ("chardev", "blockdev")
        assert major >= 0 and minor >= 0 and 0 < mode <= 0o777
    with pytest.raises(ValueError):
        fx.build("no-such-format")
    with pytest.raises(ValueError):
        fx.build_hostile("no-such-attack")
    with pytest.raises(ValueError):
        fx.tool_missing("no-such-format")


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory) -> Path:
    need("tar")  # busybox and dropbear present
    return fx.build_rootfs(tmp_path_factory.mktemp("rootfs") / "root")


@pytest.fixture(scope="module")
def ref(rootfs) -> dict[str, dict]:
    return fx.manifest(rootfs)


def test_rootfs_binaries_and_links(rootfs, ref):
    assert ref["/bin/busybox"]["kind"] == "file"
    assert (rootfs / "bin/busybox").read_bytes()[:4] == b"\x7fELF"
    assert (rootfs / "usr/sbin/dropbear").read_bytes()[:4] == b"\x7fELF"
    assert ref["/bin/sh"] == {
        "kind": "symlink",
        "mode": 0o777,
        "target": "busybox",
        "sha256": None,
        "size": 7,
    }
    assert ref["/sbin/init"]["target"] == "../bin/busybox"
    assert ref["/usr/sbin/telnetd"]["target"] == "/bin/busybox"
    for applet in ("/bin/ls", "/bin/cat", "/bin/mount", "/sbin/udhcpc", "/usr/sbin/httpd"):
        assert ref[applet]["kind"] == "symlink"
    # hard link
    a, b = os.stat(rootfs / "bin/busybox"), os.stat(rootfs / "bin/busybox-hardlink")
    assert (a.st_ino, a.st_nlink) == (b.st_ino, 2)
    # symlink chain, dangling and absolute links
    assert ref["/lib/libc.so"]["target"] == "libc.so.0"
    assert ref["/lib/libc.so.0"]["target"] == "libuClibc-0.9.33.so"
    assert ref["/lib/libuClibc-0.9.33.so"]["kind"] == "file"
    assert ref["/usr/lib/libssl.so"]["kind"] == "symlink" and not (rootfs / "usr/lib/libssl.so").exists()
    assert ref["/etc/resolv.conf"]["target"] == "/tmp/resolv.conf"


def test_rootfs_edge_cases(rootfs, ref):
    assert "/" not in ref and "" not in ref
    assert ref["/etc/config/firewall"]["size"] == 0
    big = ref["/usr/share/firmware/wifi-cal.bin"]
    assert big["size"] > 128 * 1024
    data = (rootfs / "usr/share/firmware/wifi-cal.bin").read_bytes()
    assert len(zlib.compress(data)) > len(data) * 0.99  # incompressible
    assert ref["/usr/sbin/nvram"]["mode"] == 0o4755
    assert ref["/etc/shadow"]["mode"] == 0o600
    for d in ("/tmp", "/var", "/proc", "/dev"):
        assert ref[d]["kind"] == "dir" and not any((rootfs / d.lstrip("/")).iterdir())
    assert not any(v["kind"] in ("chardev", "blockdev") for v in ref.values())
    # small: unique bytes of the tree
    inodes = {
        os.lstat(rootfs / p.lstrip("/")).st_ino: v["size"] for p, v in ref.items() if v["kind"] == "file"
    }
    assert sum(inodes.values()) <= 3 * 2**20


def test_rootfs_configuration(rootfs):
    passwd = (rootfs / "etc/passwd").read_text().splitlines()
    uid0 = [line.split(":")[0] for line in passwd if line.split(":")[2] == "0"]
    assert uid0 == ["root", "admin"]
    assert passwd[0].endswith(":/bin/sh")
    assert any(line.startswith("nobody:") and line.endswith("/bin/false") for line in passwd)
    shadow = dict(line.split(":", 2)[:2] for line in (rootfs / "etc/shadow").read_text().splitlines())
    assert shadow["root"].startswith("$1$") and shadow["admin"] == ""
    assert "::sysinit:/etc/init.d/rcS" in (rootfs / "etc/inittab").read_text()
    rcs = rootfs / "etc/init.d/rcS"
    assert stat.S_IMODE(rcs.stat().st_mode) == 0o755
    text = rcs.read_text()
    assert "telnetd -l /bin/sh" in text and "dropbear -p 22" in text and "/etc/init.d/S*" in text
    assert "mqtt://iot.example-vendor.cn:1883" in (rootfs / "etc/config/system").read_text()
    for f in ("etc/group", "etc/hosts", "etc/banner", "www/index.html", "usr/share/udhcpc/default.script",
              "etc/init.d/S50httpd"):  # fmt: skip
        assert (rootfs / f).is_file()


def test_dropbear_host_key(rootfs):
    key = (rootfs / "etc/dropbear/dropbear_rsa_host_key").read_bytes()
    assert key[4:11] == b"ssh-rsa"
    tool = shutil.which("dropbearkey") or shutil.which("dropbearkey", path="/usr/bin:/usr/sbin")
    if tool:
        out = subprocess.run([tool, "-y", "-f", str(rootfs / "etc/dropbear/dropbear_rsa_host_key")],
                             capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
        assert "ssh-rsa AAAA" in out.stdout


def test_rootfs_is_reproducible(tmp_path, ref):
    again = fx.build_rootfs(tmp_path / "again")
    assert fx.manifest(again) == ref


def test_manifest_never_follows_links(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d/f").write_bytes(b"x")
    os.symlink("d", tmp_path / "dl")
    os.symlink("/etc/passwd", tmp_path / "abs")
    m = fx.manifest(tmp_path)
    assert set(m) == {"/d", "/d/f", "/dl", "/abs"}
    assert m["/d/f"]["sha256"] == hashlib.sha256(b"x").hexdigest() and m["/d/f"]["size"] == 1
    assert m["/abs"] == {
        "kind": "symlink",
        "mode": 0o777,
        "target": "/etc/passwd",
        "sha256": None,
        "size": 11,
    }


# --------------------------------------------------------------------------
# Every format builds and is recognised
# --------------------------------------------------------------------------


def _is_tar(data: bytes) -> bool:
    return data[257:262] == b"ustar"


MAGIC = {
    "squashfs-gzip": lambda d: d[:4] == b"hsqs" and struct.unpack_from("<H", d, 20)[0] == 1,
    "squashfs-lzo": lambda d: d[:4] == b"hsqs" and struct.unpack_from("<H", d, 20)[0] == 3,
    "squashfs-xz": lambda d: d[:4] == b"hsqs" and struct.unpack_from("<H", d, 20)[0] == 4,
    "squashfs-lz4": lambda d: d[:4] == b"hsqs" and struct.unpack_from("<H", d, 20)[0] == 5,
    "squashfs-zstd": lambda d: d[:4] == b"hsqs" and struct.unpack_from("<H", d, 20)[0] == 6,
    "jffs2-le": lambda d: d[:2] == b"\x85\x19",
    "jffs2-be": lambda d: d[:2] == b"\x19\x85",
    "ubi": lambda d: d[:4] == b"UBI#" and b"UBI!" in d[:4096] and b"\x31\x18\x10\x06" in d,
    "ext2": lambda d: d[1080:1082] == b"\x53\xef" and not struct.unpack_from("<I", d, 1024 + 0x60)[0] & 0x40,
    "ext4": lambda d: d[1080:1082] == b"\x53\xef" and struct.unpack_from("<I", d, 1024 + 0x60)[0] & 0x40,
    "cramfs": lambda d: d[:4] == b"\x45\x3d\xcd\x28" and d[16:32] == b"Compressed ROMFS",
    "tar": _is_tar,
    "tar.gz": lambda d: d[:2] == b"\x1f\x8b" and _is_tar(gzip.decompress(d)[:512]),
    "tar.xz": lambda d: d[:6] == b"\xfd7zXZ\x00",
    "tar.bz2": lambda d: d[:3] == b"BZh",
    "zip": lambda d: d[:4] == b"PK\x03\x04",
    "7z": lambda d: d[:6] == b"7z\xbc\xaf\x27\x1c",
    "cpio": lambda d: d[:6] == b"070701" and b"TRAILER!!!" in d,
    "uimage": lambda d: d[:4] == b"\x27\x05\x19\x56" and d[29] == 5 and d[30] == 5 and d[64:68] == b"hsqs",
    "trx": lambda d: d[:4] == b"HDR0",
    "firmware-concat": lambda d: d[0x10000:0x10004] == b"\x27\x05\x19\x56" and b"hsqs" in d,
    "docker-save": lambda d: _is_tar(d) and b"manifest.json" in d,
    "oci": lambda d: _is_tar(d) and b"oci-layout" in d,
    "wheel": lambda d: d[:4] == b"PK\x03\x04",
    "sdist": lambda d: d[:2] == b"\x1f\x8b",
    "npm": lambda d: d[:2] == b"\x1f\x8b",
    "nested": lambda d: d[:2] == b"\x1f\x8b",
}


def test_magic_table_covers_formats():
    assert set(MAGIC) == set(fx.FORMATS)


@pytest.mark.parametrize("fmt", fx.FORMATS)
def test_build_recognised(fmt):
    path = built(fmt)
    assert path.is_file()
    assert fx.build(fmt) == path  # cached: same path, no rebuild
    data = path.read_bytes()
    assert MAGIC[fmt](data), f"{fmt}: {path} not recognised"
    if fmt not in fx.PACKAGE_FORMATS:
        assert 100_000 < len(data) < 16 * 2**20


# Determinism: a fresh build in another cache gives the same bytes.
@pytest.mark.parametrize(
    "fmt",
    ["tar", "tar.gz", "tar.bz2", "zip", "cpio", "squashfs-gzip", "squashfs-xz", "ext4", "ubi", "docker-save"],
)
def test_deterministic(fmt, tmp_path):
    first = built(fmt)
    again = fx.build(fmt, cache_dir=tmp_path)
    assert again != first
    assert hashlib.sha256(again.read_bytes()).digest() == hashlib.sha256(first.read_bytes()).digest()


# --------------------------------------------------------------------------
# Contents of the formats Python can read
# --------------------------------------------------------------------------


def _tar_view(tf: tarfile.TarFile) -> dict[str, tuple]:
    out = {}
    for m in tf.getmembers():
        key = "/" + m.name.rstrip("/")
        if m.isdir():
            out[key] = ("dir", m.mode)
        elif m.issym():
            out[key] = ("symlink", m.linkname)
        elif m.islnk():
            out[key] = ("hardlink", m.linkname)
        elif m.ischr() or m.isblk():
            out[key] = ("chardev" if m.ischr() else "blockdev", m.devmajor, m.devminor, m.mode)
        else:
            out[key] = ("file", m.mode, hashlib.sha256(tf.extractfile(m).read()).hexdigest())
        assert m.uid == 0 and m.gid == 0 and m.mtime == fx.EPOCH
    return out


def _expected_view(ref: dict[str, dict], devices: bool) -> dict[str, tuple]:
    out = {}
    for path, e in ref.items():
        if e["kind"] == "dir":
            out[path] = ("dir", e["mode"])
        elif e["kind"] == "symlink":
            out[path] = ("symlink", e["target"])
        else:
            out[path] = ("file", e["mode"], e["sha256"])
    out["/bin/busybox-hardlink"] = ("hardlink", "bin/busybox")
    if devices:
        for path, (kind, major, minor, mode) in fx.DEVICES.items():
            out[path] = (kind, major, minor, mode)
    return out


@pytest.mark.parametrize("fmt", ["tar", "tar.gz", "tar.xz", "tar.bz2"])
def test_tar_contents(fmt, ref):
    with tarfile.open(built(fmt)) as tf:
        names = tf.getnames()
        assert names == sorted(names)
        assert _tar_view(tf) == _expected_view(ref, devices=True)


def test_zip_contents(ref):
    with zipfile.ZipFile(built("zip")) as zf:
        seen = {}
        for zi in zf.infolist():
            mode = zi.external_attr >> 16
            assert zi.create_system == 3 and zi.date_time == (2020, 1, 1, 0, 0, 0)
            key = "/" + zi.filename.rstrip("/")
            if stat.S_ISLNK(mode):
                seen[key] = ("symlink", zf.read(zi).decode())
            elif stat.S_ISDIR(mode):
                seen[key] = ("dir", stat.S_IMODE(mode))
            else:
                seen[key] = ("file", stat.S_IMODE(mode), hashlib.sha256(zf.read(zi)).hexdigest())
    expected = _expected_view(ref, devices=False)
    expected["/bin/busybox-hardlink"] = expected["/bin/busybox"]
    assert seen == expected


def _read_cpio(data: bytes) -> list[tuple]:
    out, pos = [], 0
    while True:
        assert data[pos : pos + 6] == b"070701"
        f = [int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        ino, mode, nlink, size, rmaj, rmin, namesize = f[0], f[1], f[4], f[6], f[9], f[10], f[11]
        name = data[pos + 110 : pos + 110 + namesize - 1].decode()
        pos = (pos + 110 + namesize + 3) & ~3
        body = data[pos : pos + size]
        pos = (pos + size + 3) & ~3
        if name == "TRAILER!!!":
            return out
        out.append((name, ino, mode, nlink, body, rmaj, rmin))


def test_cpio_contents(ref):
    entries = _read_cpio(built("cpio").read_bytes())
    by_name = {e[0]: e for e in entries}
    assert {"/" + n for n in by_name} == set(ref) | set(fx.DEVICES)
    bb, hl = by_name["bin/busybox"], by_name["bin/busybox-hardlink"]
    assert bb[1] == hl[1] and bb[3] == hl[3] == 2  # one inode, two names
    assert hashlib.sha256(bb[4] + hl[4]).hexdigest() == ref["/bin/busybox"]["sha256"]
    assert stat.S_IMODE(by_name["usr/sbin/nvram"][2]) == 0o4755
    assert by_name["sbin/init"][4] == b"../bin/busybox"
    for path, (kind, major, minor, mode) in fx.DEVICES.items():
        e = by_name[path.lstrip("/")]
        assert stat.S_ISCHR(e[2]) if kind == "chardev" else stat.S_ISBLK(e[2])
        assert (e[5], e[6], stat.S_IMODE(e[2])) == (major, minor, mode)


def test_squashfs_devices():
    path = built("squashfs-xz")
    tool = shutil.which("unsquashfs", path=os.environ.get("PATH", "") + ":/usr/bin:/usr/sbin")
    if not tool:
        pytest.skip("unsquashfs is not installed")
    out = subprocess.run(
        [tool, "-lls", str(path)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "squashfs-root/dev/console" in out and "squashfs-root/dev/mtdblock0" in out
    assert "-rwsr-xr-x root/root" in out  # setuid kept, all owned by root


def test_trx_header():
    data = built("trx").read_bytes()
    magic, length, crc, _flags, version, off0, off1, off2 = struct.unpack_from("<4sIIHH3I", data)
    assert (magic, version, length) == (b"HDR0", 1, len(data))
    assert crc == zlib.crc32(data[12:length]) ^ 0xFFFFFFFF
    assert data[off0] == 0x5D  # LZMA properties byte of the kernel
    assert data[off1 : off1 + 4] == b"hsqs" and off2 == 0


def test_uimage_header():
    data = built("uimage").read_bytes()
    header = bytearray(data[:64])
    hcrc = struct.unpack_from(">I", header, 4)[0]
    header[4:8] = b"\0\0\0\0"
    assert zlib.crc32(bytes(header)) == hcrc
    size, dcrc = struct.unpack_from(">I", data, 12)[0], struct.unpack_from(">I", data, 24)[0]
    assert size == len(data) - 64 and zlib.crc32(data[64:]) == dcrc


def test_firmware_concat_layout(tmp_path):
    need("firmware-concat")
    layout = fx.write_firmware_concat(tmp_path / "a.bin")
    fx.write_firmware_concat(tmp_path / "b.bin")
    data = (tmp_path / "a.bin").read_bytes()
    assert data == (tmp_path / "b.bin").read_bytes() == built("firmware-concat").read_bytes()
    assert layout["bootloader"] == (0, 0x10000) and b"U-Boot" in data[:0x10000]
    koff, _klen = layout["kernel"]
    roff, rlen = layout["rootfs"]
    assert data[koff : koff + 4] == b"\x27\x05\x19\x56" and data[koff + 30] == 2  # IH_TYPE_KERNEL
    assert data[koff + 31] == 3  # IH_COMP_LZMA
    assert roff % 0x10000 == 0 and data[roff : roff + 4] == b"hsqs"
    assert len(data) % 0x10000 == 0 and set(data[roff + rlen :]) <= {0xFF}


def _apply_layer(dest: Path, layer: bytes) -> None:
    with tarfile.open(fileobj=io.BytesIO(layer)) as tf:
        for m in tf.getmembers():
            head, _, name = m.name.rpartition("/")
            parent = dest / head
            if name == ".wh..wh..opq":
                for child in parent.iterdir():
                    shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
            elif name.startswith(".wh."):
                victim = parent / name[4:]
                shutil.rmtree(victim) if victim.is_dir() and not victim.is_symlink() else victim.unlink()
            elif m.isdir():
                (dest / m.name).mkdir(parents=True, exist_ok=True)
                os.chmod(dest / m.name, m.mode)
            elif m.issym():
                os.symlink(m.linkname, dest / m.name)
            elif m.islnk():
                os.link(dest / m.linkname, dest / m.name)
            else:
                target = dest / m.name
                if target.exists():
                    target.unlink()
                target.write_bytes(tf.extractfile(m).read())
                os.chmod(target, m.mode)


def test_docker_save(tmp_path):
    with tarfile.open(built("docker-save")) as tf:
        man = json.loads(tf.extractfile("manifest.json").read())
        assert len(man) == 1 and man[0]["RepoTags"]
        config = json.loads(tf.extractfile(man[0]["Config"]).read())
        layers = [tf.extractfile(p).read() for p in man[0]["Layers"]]
    assert config["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(x).hexdigest()}" for x in layers]
    with tarfile.open(fileobj=io.BytesIO(layers[1])) as tf:
        names2 = tf.getnames()
    assert "etc/.wh.banner" in names2 and "www/.wh..wh..opq" in names2 and "etc/passwd" in names2
    got = tmp_path / "got"
    got.mkdir()
    for layer in layers:
        _apply_layer(got, layer)
    want = fx.merged_rootfs(tmp_path / "want")
    assert "/etc/banner" not in fx.manifest(want) and "/usr/bin/vendor-agent" in fx.manifest(want)
    strip = lambda m: {k: {**v, "mode": v["mode"] if v["kind"] != "dir" else 0} for k, v in m.items()}
    assert strip(fx.manifest(got)) == strip(fx.manifest(want))


def test_oci_layout():
    with tarfile.open(built("oci")) as tf:
        blobs = {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}
    assert json.loads(blobs["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    for name, data in blobs.items():
        if name.startswith("blobs/sha256/"):
            assert name.rsplit("/", 1)[1] == hashlib.sha256(data).hexdigest()
    index = json.loads(blobs["index.json"])
    mdesc = index["manifests"][0]
    man = json.loads(blobs["blobs/sha256/" + mdesc["digest"].split(":")[1]])
    assert len(man["layers"]) == 2
    config = json.loads(blobs["blobs/sha256/" + man["config"]["digest"].split(":")[1]])
    for layer, diff_id in zip(man["layers"], config["rootfs"]["diff_ids"]):
        raw = gzip.decompress(blobs["blobs/sha256/" + layer["digest"].split(":")[1]])
        assert diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
        assert layer["mediaType"].endswith("tar+gzip")


def test_packages():
    with zipfile.ZipFile(built("wheel")) as zf:
        assert zf.testzip() is None
        record = zf.read("vendor_agent-1.0.dist-info/RECORD").decode().splitlines()
        assert "Tag: py3-none-any" in zf.read("vendor_agent-1.0.dist-info/WHEEL").decode()
        assert "Name: vendor-agent" in zf.read("vendor_agent-1.0.dist-info/METADATA").decode()
        for line in record:
            name, digest, size = line.rsplit(",", 2)
            if digest:
                data = zf.read(name)
                assert (
                    digest
                    == "sha256="
                    + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                )
                assert int(size) == len(data)
    assert built("wheel").name == "vendor_agent-1.0-py3-none-any.whl"
    with tarfile.open(built("sdist")) as tf:
        names = tf.getnames()
        assert {
            "vendor_agent-1.0/PKG-INFO",
            "vendor_agent-1.0/setup.py",
            "vendor_agent-1.0/pyproject.toml",
        } <= set(names)
    with tarfile.open(built("npm")) as tf:
        pkg = json.loads(tf.extractfile("package/package.json").read())
        assert pkg["name"] == "vendor-agent" and "package/index.js" in tf.getnames()


def test_nested():
    with tarfile.open(built("nested")) as tf:
        inner = tf.extractfile("update/firmware-update.zip").read()
    with zipfile.ZipFile(io.BytesIO(inner)) as zf:
        sq = zf.read("firmware/rootfs.squashfs")
    assert sq == built("squashfs-xz").read_bytes()


def test_example_image():
    path = REPO / "examples" / "router-firmware.bin"
    assert path.is_file()
    data = path.read_bytes()
    assert 2**20 <= len(data) <= 8 * 2**20 and len(data) % 0x10000 == 0
    assert data[0x10000:0x10004] == b"\x27\x05\x19\x56"
    roff = data.find(b"hsqs")
    assert roff > 0x10000 and roff % 0x10000 == 0


# --------------------------------------------------------------------------
# Hostile fixtures
# --------------------------------------------------------------------------


def _raw_tar(path: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(path) as tf:
        return tf.getmembers()


def test_hostile_all_build():
    for name in fx.HOSTILE:
        if fx.tool_missing(name):
            continue
        path = fx.build_hostile(name)
        assert path.is_file() and path.stat().st_size < 10 * 2**20


def test_tar_attacks():
    names = {m.name for m in _raw_tar(hostile("tar-traversal"))}
    assert {"../../evil.sh", "/etc/cron.d/evil", "ok.txt"} <= names
    members = _raw_tar(hostile("tar-symlink-escape"))
    assert next((m.name, m.linkname) for m in members if m.issym()) == ("link", "/tmp")
    assert [m.name for m in members].index("link/pwned") > [m.name for m in members].index("link")
    members = _raw_tar(hostile("tar-hardlink-escape"))
    assert any(m.islnk() and m.linkname == "../../../etc/shadow" for m in members)
    assert any(m.ischr() for m in _raw_tar(hostile("tar-device")))
    links = {m.name: m.linkname for m in _raw_tar(hostile("symlink-loop")) if m.issym()}
    assert links["a"] == "b" and links["b"] == "a"


def test_zip_slip():
    with zipfile.ZipFile(hostile("zip-slip")) as zf:
        assert "../../evil" in zf.namelist()


def test_zip_bomb():
    path = hostile("zip-bomb")
    assert path.stat().st_size < 10 * 2**20
    with zipfile.ZipFile(path) as zf:
        (zi,) = zf.infolist()
        assert zi.file_size >= 4 * 2**30
        with zf.open(zi) as f:  # the stream really is zeros (read only the start)
            assert f.read(2**20) == bytes(2**20)


def test_gzip_bomb():
    path = hostile("gzip-bomb")
    assert path.stat().st_size < 10 * 2**20
    with gzip.open(path) as f:
        header = f.read(512)
        assert f.read(2**20) == bytes(2**20)
    ti = tarfile.TarInfo.frombuf(header, "utf-8", "surrogateescape")
    assert ti.size >= 4 * 2**30


def test_nested_deep():
    data = hostile("nested-deep").read_bytes()
    depth = 0
    while True:
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            (m,) = tf.getmembers()
            depth += 1
            data = tf.extractfile(m).read()
            if not m.name.endswith(".tar"):
                break
    assert depth == 40 and b"bottom" in data


def test_broken_filesystems():
    good = built("squashfs-xz").read_bytes()
    trunc = hostile("truncated-squashfs").read_bytes()
    assert trunc == good[: len(trunc)] and len(trunc) == len(good) * 60 // 100
    bad = hostile("corrupted-squashfs").read_bytes()
    assert len(bad) == len(good) and bad[:96] == good[:96]
    diff = [i for i in range(len(good)) if good[i] != bad[i]]
    inode_start, _dir_start, frag_start = struct.unpack_from("<3Q", good, 64)
    assert 200 < len(diff) <= 256 and inode_start <= diff[0] and diff[-1] < frag_start
    j = hostile("truncated-jffs2").read_bytes()
    full = built("jffs2-le").read_bytes()
    assert j[:2] == b"\x85\x19" and full.startswith(j) and len(j) < len(full.rstrip(b"\xff"))


def test_garbage_and_empty():
    g = hostile("garbage").read_bytes()
    assert len(g) == 2**20 and len(zlib.compress(g)) > len(g) * 0.99
    assert hostile("empty").stat().st_size == 0


# --------------------------------------------------------------------------
# Large tree for the benchmark
# --------------------------------------------------------------------------


def test_build_large_rootfs(tmp_path):
    a = fx.build_large_rootfs(tmp_path / "a", min_bytes=8 * 2**20)
    b = fx.build_large_rootfs(tmp_path / "b", min_bytes=8 * 2**20)
    ma, mb = fx.manifest(a), fx.manifest(b)
    assert ma == mb  # deterministic selection
    assert sum(v["size"] for v in ma.values() if v["kind"] == "file") >= 8 * 2**20
    assert {v["kind"] for v in ma.values()} <= {"file", "symlink", "dir"}
    assert any(k.startswith("/usr/bin/") for k in ma)
    elf = [
        k for k, v in ma.items() if v["kind"] == "file" and (a / k.lstrip("/")).read_bytes()[:4] == b"\x7fELF"
    ]
    assert len(elf) > 5
