"""Builders of test firmware images, made on this machine with Debian's own tools.

Every image is built from one small, realistic embedded-Linux root filesystem
(:func:`build_rootfs`): Debian's static busybox with its applet links, a real
dropbear binary, an OpenWrt-like ``/etc`` and the edge cases that break
extractors (empty file, incompressible large file, setuid file, hard link,
symlink chains, dangling and absolute symlinks, empty directories, device
nodes where the packer can describe them without creating them on the host).

:func:`build` packs that tree in one of :data:`FORMATS`; :func:`build_hostile`
makes one of the :data:`HOSTILE` attack files.  Results are cached under
``$VERACITY_FIXTURE_CACHE`` or ``<repo>/.fixture-cache``; the cache key holds
a hash of this file, the name, and the identity of the host binaries copied
into the tree, so any change rebuilds.

The Debian packages needed (the project's CI installs them)::

    apt-get install -y squashfs-tools mtd-utils genext2fs e2fsprogs u-boot-tools \
        util-linux-extra busybox-static dropbear-bin p7zip-full

:func:`tool_missing` names what is missing for a format, so tests can skip.

Only the standard library is used.  Debian tools are run through
:func:`subprocess.run` with argument lists (never a shell) and timeouts.
Builds are deterministic (fixed timestamps, sorted entries, fixed UUIDs)
wherever the tool allows it; see :data:`DETERMINISTIC`.
"""

from __future__ import annotations

import base64
import bz2
import contextlib
import fcntl
import functools
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import stat
import struct
import subprocess
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "DETERMINISTIC",
    "DEVICES",
    "EPOCH",
    "FORMATS",
    "HOSTILE",
    "LAYER2",
    "PACKAGE_FORMATS",
    "FixtureBuildError",
    "build",
    "build_hostile",
    "build_large_rootfs",
    "build_rootfs",
    "formats_with_devices",
    "manifest",
    "merged_rootfs",
    "tool_missing",
    "write_firmware_concat",
]

# --------------------------------------------------------------------------
# Public constants
# --------------------------------------------------------------------------

#: Fixed timestamp of every file in every image (2020-01-01T00:00:00Z).
EPOCH = 1577836800
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)
#: npm pack's own fixed date (1985-10-26T08:15:00Z).
_NPM_EPOCH = 499162500

FORMATS: tuple[str, ...] = (
    "squashfs-gzip",
    "squashfs-xz",
    "squashfs-lzo",
    "squashfs-lz4",
    "squashfs-zstd",
    "jffs2-le",
    "jffs2-be",
    "ubi",
    "ext2",
    "ext4",
    "cramfs",
    "tar",
    "tar.gz",
    "tar.xz",
    "tar.bz2",
    "zip",
    "7z",
    "cpio",
    "uimage",
    "trx",
    "firmware-concat",
    "docker-save",
    "oci",
    "wheel",
    "sdist",
    "npm",
    "nested",
)

#: Formats that hold a software package rather than the rootfs.
PACKAGE_FORMATS: tuple[str, ...] = ("wheel", "sdist", "npm")

HOSTILE: tuple[str, ...] = (
    "tar-traversal",
    "tar-symlink-escape",
    "tar-hardlink-escape",
    "zip-slip",
    "tar-device",
    "symlink-loop",
    "zip-bomb",
    "gzip-bomb",
    "nested-deep",
    "truncated-squashfs",
    "corrupted-squashfs",
    "truncated-jffs2",
    "garbage",
    "empty",
)

#: Device nodes described to the packers (never created on the host):
#: path -> (kind, major, minor, mode).
DEVICES: dict[str, tuple[str, int, int, int]] = {
    "/dev/console": ("chardev", 5, 1, 0o600),
    "/dev/null": ("chardev", 1, 3, 0o666),
    "/dev/mtdblock0": ("blockdev", 31, 0, 0o600),
}

_DEVICE_FORMATS: tuple[str, ...] = (
    "squashfs-gzip",
    "squashfs-xz",
    "squashfs-lzo",
    "squashfs-lz4",
    "squashfs-zstd",
    "jffs2-le",
    "jffs2-be",
    "ubi",
    "ext2",
    "tar",
    "tar.gz",
    "tar.xz",
    "tar.bz2",
    "cpio",
    "uimage",
    "trx",
    "firmware-concat",
    "nested",
)

#: Formats whose two builds give the same bytes (on the same machine).
DETERMINISTIC: tuple[str, ...] = FORMATS

_ROOTFS_SIZE_LIMIT = 3 * 2**20
_UUID = "8f0c1a6e-5b1d-4c2e-9a57-3e1f00c0ffee"

# THIS IS A TEST KEY, generated for veracity's fixtures with
# `openssl genrsa -traditional 2048`.  It protects nothing and is published on
# purpose: images ship it as the dropbear host key and the web server's key,
# exactly as careless vendors do, so that the audit has something to find.
_TEST_RSA_KEY_PEM = """\
-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAw1uU2IOOokE7Vaoq7zjwsxxtYhA+QEh8CsK7o1pQShQH/adj
k771hP2kvhcepg0HDoGCw9mef+44gP3J3ojNV53qmE062fTV4Tdy+8g6DrACuTUt
T05/jQ6791e3EjSK9VVawkPdtOyysJWtwFGmEtY+rEInMnM6qjtLJP0lampr6ete
Xkop5glOYkpgMt+6IoTAl6ZXVL6eA/09Nzw0xyquMEqPiBqbpysXxNLcNnUjMK6G
I3FuQv+k9wYEZp5onItFkO8vocOApZUs2h5vmiKf6Kz7GGI8BvUE6h9i+aoDZKfb
AtFd/DKNRx0oitI9qlaWmlA3OWg4Yjq4QNgzxwIDAQABAoIBAFwJ/zf8z0vxeL90
4zJ+vKReLcioR3Po0owNT/L3v2EPS+59GQSIUMsd5ypp4RYxiBQU/2M/WZYDSZq4
Nw4BnOD9NQQZSrNaTxQDGEi4fmXiFf5lJ9o37Q8rlHJFYKqSl69bTd29tKwjYlKg
ylIUBa7VQoTMzAPQVyDRu6cLH0AhXQvD+a/IunCcLmcITUa6X6/s8zR7WUARgo1z
SjRZZILE6c8yF/eNzLwWe+HZISivEaJa3bveqjXJQ0V5LU791L0RUEbE3j9xs+ug
KRtTSxXBLZw7DjL8JNCCgfDvnM6dL8qcgDTIog8+uOaXJKN9wi43Hn1uk0hAw/d5
AWmVkrECgYEA8zfQpc1p+sodr2S94BGkLMgJdVktHyltWnrppRnNrxR9H8mZrn14
ZIiLt5sTcpRpq6FEYkAYPtz6EnLJABxZgdlZwk8/JFdFM9W0ZA5c5YCffjDg0Mr3
hRf3vFsRk1b/sv3lBGpWhrwcGp1g/HzO6OnvPTLoBZXly283cg8tvtcCgYEAzZ/e
MTUeboQ86kakNNJRFbf/+JlVzmRg9TW1/IgKvoYWzYIF+S8ZjhCrxWUEOXnIBk3y
t/o+vXNEWy4JSDnX5HAKpTZLZOtWPRTCgvsaZ3aU7O73EF8mDsSk42l8jq9r0yqF
C9azotj04VR5JA1+5E7WjUXJPDlFaNsLIHbyRJECgYBtJwt4nauGZdbUtD2Spdgs
UMoN5Cuf5JOzG55n/iCVBnjxHyTdbmntlGo/yFT+AyU5ZXKvNVysObfxN5qFdjOl
Vso1riMESDZCgRIoJVoDlan+lCkRC0XycUM5QRWuLkkrJ070oFScuydRunegWNLz
LKm1qXb/qroqhos3oSBCmQKBgQCZ6v5mdS2naoMylthZ1cjuagJIc3cAfLD7PE5S
jv8D6Nlu0dJo2XHWnvIFW31TDK7G0VhLkR2fsIXNfuNh1jKeA6RkUQUUsPin1j9X
zmDQa7pEtQfpkF+rlFUdCZw8LmGW+vAGkZt73c1IUnQvoY6HleASddeRpgkn2Tc2
APOOkQKBgFsZn6Hr4NFCgRY+ViuTyCWo1Ql9lyD0X+ZbgUpDLuLORkhBgBp4HhXM
yz97zq1hg/ZveoXvhWOzrnHONKnUfstSSTJpbWq0IaVmL55LztqSdb/dsyARJTdL
dhrBPJZWIGdgMcZXXKFBp1IirzQFiQauoLkNXGLgQhgGHDfuKxoK
-----END RSA PRIVATE KEY-----
"""

#: MD5-crypt of the well-known default password "admin"
#: (`openssl passwd -1 -salt vEr4c1ty admin`).
_ROOT_HASH = "$1$vEr4c1ty$v9WnwBLsWxvIKAhtRutR.."


class FixtureBuildError(RuntimeError):
    """A Debian tool failed while building a fixture."""


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

_TOOL_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def _which(tool: str) -> str | None:
    path = os.environ.get("PATH", "")
    return shutil.which(tool, path=os.pathsep.join([path, *_TOOL_DIRS]))


def _stream(seed: str, size: int) -> bytes:
    """Deterministic incompressible bytes: SHA-256 in counter mode."""
    out = bytearray()
    counter = 0
    prefix = b"veracity-fixture:" + seed.encode() + b":"
    while len(out) < size:
        out += hashlib.sha256(prefix + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:size])


def _tool_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LC_ALL="C",
        TZ="UTC",
        SOURCE_DATE_EPOCH=str(EPOCH),
        E2FSPROGS_FAKE_TIME=str(EPOCH),
    )
    return env


def _run(
    args: list[str], *, cwd: Path | None = None, timeout: float = 600, epoch_env: bool = True
) -> subprocess.CompletedProcess:
    """Run a Debian tool (argument list, no shell); raise FixtureBuildError on failure.

    ``epoch_env=False`` leaves SOURCE_DATE_EPOCH out, for tools that refuse it
    next to their own timestamp options (mksquashfs).
    """
    exe = _which(args[0])
    if exe is None:
        raise FixtureBuildError(f"tool not found: {args[0]}")
    env = _tool_env()
    if not epoch_env:
        env.pop("SOURCE_DATE_EPOCH", None)
    try:
        proc = subprocess.run(
            [exe, *args[1:]],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise FixtureBuildError(f"{args[0]} timed out after {timeout}s") from exc
    if proc.returncode != 0:
        err = (proc.stderr or proc.stdout or b"").decode(errors="replace")[-2000:]
        raise FixtureBuildError(f"{' '.join(args)} exited {proc.returncode}: {err}")
    return proc


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _write(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    os.chmod(path, mode)


def _fix_times(root: Path, when: int = EPOCH) -> None:
    """Set every mtime under root (links not followed), children before parents."""
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (when, when), follow_symlinks=False)
    os.utime(root, (when, when))


# --------------------------------------------------------------------------
# Host inputs of the rootfs
# --------------------------------------------------------------------------


def _first_existing(*paths: str) -> Path | None:
    for p in paths:
        if os.path.isfile(p) and os.access(p, os.R_OK):
            return Path(p)
    return None


def _busybox() -> Path | None:
    return _first_existing("/bin/busybox", "/usr/bin/busybox")


def _dropbear() -> Path | None:
    return _first_existing("/usr/sbin/dropbear", "/sbin/dropbear")


def _small_lib() -> Path | None:
    return _first_existing("/lib/x86_64-linux-gnu/libutil.so.1", "/usr/lib/x86_64-linux-gnu/libutil.so.1")


def _small_exe() -> Path | None:
    return _first_existing("/usr/bin/true", "/bin/true")


def _host_fingerprint() -> str:
    parts = []
    for p in (_busybox(), _dropbear(), _small_lib(), _small_exe()):
        if p is None:
            parts.append("-")
        else:
            st = p.stat()
            parts.append(f"{p}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


# --------------------------------------------------------------------------
# The rootfs
# --------------------------------------------------------------------------


def _der_ints(pem: str) -> list[int]:
    """The INTEGERs of a PKCS#1 RSAPrivateKey (a flat DER SEQUENCE)."""
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    der = base64.b64decode(body)

    def length(pos: int) -> tuple[int, int]:
        first = der[pos]
        if first < 0x80:
            return first, pos + 1
        n = first & 0x7F
        return int.from_bytes(der[pos + 1 : pos + 1 + n], "big"), pos + 1 + n

    if der[0] != 0x30:
        raise ValueError("not a DER SEQUENCE")
    _, pos = length(1)
    ints = []
    while pos < len(der):
        if der[pos] != 0x02:
            raise ValueError("unexpected DER tag")
        n, pos = length(pos + 1)
        ints.append(int.from_bytes(der[pos : pos + n], "big", signed=True))
        pos += n
    return ints


def _ssh_string(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def _ssh_mpint(v: int) -> bytes:
    if v == 0:
        return _ssh_string(b"")
    raw = v.to_bytes((v.bit_length() + 8) // 8, "big", signed=True)
    return _ssh_string(raw)


def _dropbear_rsa_key() -> bytes:
    """The test key in dropbear's own host-key format."""
    _version, n, e, d, p, q, *_ = _der_ints(_TEST_RSA_KEY_PEM)
    return b"".join(
        [_ssh_string(b"ssh-rsa"), _ssh_mpint(e), _ssh_mpint(n), _ssh_mpint(d), _ssh_mpint(p), _ssh_mpint(q)]
    )


_PASSWD = """\
root:x:0:0:root:/root:/bin/sh
admin:x:0:0:admin:/root:/bin/sh
daemon:*:1:1:daemon:/var:/bin/false
ftp:*:55:55:ftp:/home/ftp:/bin/false
network:*:101:101:network:/var:/bin/false
nobody:*:65534:65534:nobody:/var:/bin/false
"""

_SHADOW = f"""\
root:{_ROOT_HASH}:18262:0:99999:7:::
admin::18262:0:99999:7:::
daemon:*:0:0:99999:7:::
ftp:*:0:0:99999:7:::
network:*:0:0:99999:7:::
nobody:*:0:0:99999:7:::
"""

_GROUP = """\
root:x:0:
daemon:x:1:
adm:x:4:
tty:x:5:
dialout:x:20:
ftp:x:55:
users:x:100:
network:x:101:
nogroup:x:65534:
"""

_INITTAB = """\
::sysinit:/etc/init.d/rcS
ttyS0::respawn:/bin/sh
::askconsole:/usr/libexec/login.sh
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
"""

_RCS = """\
#!/bin/sh
# System start-up, run once by init (see /etc/inittab).
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
mkdir -p /tmp/run /var/log
hostname -F /etc/hostname 2>/dev/null

# Remote access for support staff.
/usr/sbin/telnetd -l /bin/sh
/usr/sbin/dropbear -p 22 -r /etc/dropbear/dropbear_rsa_host_key

udhcpc -b -i eth0 -s /usr/share/udhcpc/default.script

for s in /etc/init.d/S*; do
    [ -x "$s" ] && $s start
done
"""

_S50HTTPD = """\
#!/bin/sh
# Web management interface.
case "$1" in
  start)
    /usr/sbin/httpd -p 80 -h /www -c /etc/httpd.conf
    ;;
  stop)
    killall httpd
    ;;
  *)
    echo "usage: $0 {start|stop}"
    ;;
esac
"""

_UCI_SYSTEM = """\
config system
\toption hostname 'VR-2000'
\toption timezone 'CST-8'
\toption zonename 'Asia/Shanghai'
\toption log_size '64'

config timeserver 'ntp'
\toption enabled '1'
\toption enable_server '0'
\tlist server 'pool.ntp.org'
\tlist server 'time.example-vendor.cn'

config cloud 'cloud'
\toption enabled '1'
\toption server 'mqtt://iot.example-vendor.cn:1883'
\toption username 'device'
\toption password 'vendor123'
\toption upgrade_url 'http://update.example-vendor.cn/fw/VR-2000/latest.bin'
"""

_UCI_NETWORK = """\
config interface 'loopback'
\toption ifname 'lo'
\toption proto 'static'
\toption ipaddr '127.0.0.1'
\toption netmask '255.0.0.0'

config interface 'lan'
\toption ifname 'eth0'
\toption proto 'static'
\toption ipaddr '192.168.1.1'
\toption netmask '255.255.255.0'

config interface 'wan'
\toption ifname 'eth1'
\toption proto 'dhcp'
"""

_HOSTS = """\
127.0.0.1 localhost
192.168.1.1 router.lan router
"""

_BANNER = """\
  _    __             __              ____  _____
 | |  / /__  ____  ___/ /__  _____   / __ \\/ ___/
 | | / / _ \\/ __ \\/ __  / _ \\/ ___/  / / / /\\__ \\
 | |/ /  __/ / / / /_/ /  __/ /     / /_/ /___/ /
 |___/\\___/_/ /_/\\__,_/\\___/_/      \\____//____/
 VendorOS 1.2.3 (VR-2000), r4711
"""

_RELEASE = """\
DISTRIB_ID='VendorOS'
DISTRIB_RELEASE='1.2.3'
DISTRIB_REVISION='r4711'
DISTRIB_TARGET='ramips/mt7621'
DISTRIB_ARCH='mipsel_24kc'
DISTRIB_DESCRIPTION='VendorOS 1.2.3 r4711'
"""

_HTTPD_CONF = """\
A:*
/cgi-bin:admin:admin
.cgi:/bin/sh
"""

_INDEX_HTML = """\
<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>VR-2000 Router</title></head>
<body>
<h1>VR-2000 Web Management</h1>
<form action="/cgi-bin/login.cgi" method="post">
  <input name="username" value="admin">
  <input name="password" type="password">
  <input type="submit" value="Login">
</form>
<!-- default credentials: admin / admin -->
</body>
</html>
"""

_UDHCPC_SCRIPT = """\
#!/bin/sh
# udhcpc event script: configure the interface from the DHCP lease.
[ -z "$1" ] && echo "Error: should be called from udhcpc" && exit 1
RESOLV_CONF="/tmp/resolv.conf"
case "$1" in
  deconfig)
    ifconfig $interface 0.0.0.0
    ;;
  renew|bound)
    ifconfig $interface $ip ${subnet:+netmask $subnet}
    if [ -n "$router" ]; then
      while route del default gw 0.0.0.0 dev $interface 2>/dev/null; do :; done
      for i in $router; do route add default gw $i dev $interface; done
    fi
    echo -n > $RESOLV_CONF
    [ -n "$domain" ] && echo "search $domain" >> $RESOLV_CONF
    for i in $dns; do echo "nameserver $i" >> $RESOLV_CONF; done
    ;;
esac
exit 0
"""

_FSTAB = """\
proc /proc proc defaults 0 0
sysfs /sys sysfs defaults 0 0
tmpfs /tmp tmpfs defaults 0 0
"""

# Applet links: (path, target).  Relative and absolute on purpose.
_APPLET_LINKS: tuple[tuple[str, str], ...] = (
    ("bin/sh", "busybox"),
    ("bin/ash", "busybox"),
    ("bin/ls", "busybox"),
    ("bin/cat", "busybox"),
    ("bin/mount", "busybox"),
    ("bin/umount", "busybox"),
    ("bin/ps", "busybox"),
    ("bin/login", "busybox"),
    ("bin/false", "busybox"),
    ("sbin/init", "../bin/busybox"),
    ("sbin/reboot", "../bin/busybox"),
    ("sbin/udhcpc", "../bin/busybox"),
    ("sbin/ifconfig", "../bin/busybox"),
    ("sbin/route", "../bin/busybox"),
    ("usr/sbin/telnetd", "/bin/busybox"),
    ("usr/sbin/httpd", "/bin/busybox"),
    ("usr/bin/wget", "../../bin/busybox"),
    ("usr/bin/killall", "../../bin/busybox"),
)

_LARGE_FILE = "usr/share/firmware/wifi-cal.bin"
_LARGE_SIZE = 160 * 1024


def build_rootfs(dest: Path) -> Path:
    """Write the realistic embedded-Linux tree into ``dest`` (created if needed); return ``dest``.

    No device node is created (see :data:`DEVICES`).  All files are owned by
    the caller (root when run as root) and stamped with :data:`EPOCH`.
    """
    dest = Path(dest)
    busybox = _busybox()
    dropbear = _dropbear()
    if busybox is None:
        raise FixtureBuildError("busybox not found (apt-get install busybox-static)")
    if dropbear is None:
        raise FixtureBuildError("dropbear not found (apt-get install dropbear-bin)")
    dest.mkdir(parents=True, exist_ok=True)
    os.chmod(dest, 0o755)

    for d in (
        "bin", "sbin", "lib", "usr", "usr/bin", "usr/sbin", "usr/lib", "usr/share",
        "etc", "etc/init.d", "etc/config", "etc/dropbear", "etc/ssl", "etc/ssl/private",
        "www", "www/cgi-bin", "dev", "proc", "sys", "tmp", "var", "mnt", "root",
    ):  # fmt: skip
        (dest / d).mkdir(parents=True, exist_ok=True)
        os.chmod(dest / d, 0o755)
    os.chmod(dest / "tmp", 0o1777)
    os.chmod(dest / "root", 0o700)

    # Binaries.
    _write(dest / "bin/busybox", busybox.read_bytes(), 0o755)
    os.link(dest / "bin/busybox", dest / "bin/busybox-hardlink")
    for path, target in _APPLET_LINKS:
        os.symlink(target, dest / path)
    _write(dest / "usr/sbin/dropbear", dropbear.read_bytes(), 0o755)
    exe = _small_exe()
    nvram = exe.read_bytes() if exe else b"#!/bin/sh\necho nvram\n"
    _write(dest / "usr/sbin/nvram", nvram, 0o4755)  # setuid root

    # Library and its symlink chain; one dangling library link.
    lib = _small_lib()
    libdata = lib.read_bytes() if lib else b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x03\x00>\x00" + bytes(44)
    _write(dest / "lib/libuClibc-0.9.33.so", libdata, 0o755)
    os.symlink("libuClibc-0.9.33.so", dest / "lib/libc.so.0")
    os.symlink("libc.so.0", dest / "lib/libc.so")
    os.symlink("libssl.so.1.0.0", dest / "usr/lib/libssl.so")

    # /etc.
    _write(dest / "etc/passwd", _PASSWD)
    _write(dest / "etc/shadow", _SHADOW, 0o600)
    _write(dest / "etc/group", _GROUP)
    _write(dest / "etc/inittab", _INITTAB)
    _write(dest / "etc/init.d/rcS", _RCS, 0o755)
    _write(dest / "etc/init.d/S50httpd", _S50HTTPD, 0o755)
    _write(dest / "etc/config/system", _UCI_SYSTEM)
    _write(dest / "etc/config/network", _UCI_NETWORK)
    _write(dest / "etc/config/firewall", b"")  # the empty file
    _write(dest / "etc/hosts", _HOSTS)
    _write(dest / "etc/hostname", "VR-2000\n")
    _write(dest / "etc/banner", _BANNER)
    _write(dest / "etc/openwrt_release", _RELEASE)
    _write(dest / "etc/fstab", _FSTAB)
    _write(dest / "etc/httpd.conf", _HTTPD_CONF)
    _write(dest / "etc/dropbear/dropbear_rsa_host_key", _dropbear_rsa_key(), 0o600)
    _write(dest / "etc/ssl/private/httpd.key", _TEST_RSA_KEY_PEM, 0o600)
    os.symlink("/tmp/resolv.conf", dest / "etc/resolv.conf")

    # Web root and scripts.
    _write(dest / "www/index.html", _INDEX_HTML)
    _write(
        dest / "www/cgi-bin/login.cgi", "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho OK\n", 0o755
    )
    _write(dest / "usr/share/udhcpc/default.script", _UDHCPC_SCRIPT, 0o755)

    # Incompressible calibration data, larger than a squashfs block.
    _write(dest / _LARGE_FILE, _stream("wifi-cal", _LARGE_SIZE))
    for d in ("usr/share/udhcpc", "usr/share/firmware"):
        os.chmod(dest / d, 0o755)

    _fix_times(dest)
    return dest


# --------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISCHR(mode):
        return "chardev"
    if stat.S_ISBLK(mode):
        return "blockdev"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "unknown"


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest(rootfs: Path) -> dict[str, dict]:
    """Describe the tree at ``rootfs``: "/"-rooted path -> kind, mode, target, sha256, size.

    Links are never followed; the root itself is not listed.  ``size`` is the
    file size, the length of a symlink's target, and 0 for anything else.
    """
    rootfs = Path(rootfs)
    out: dict[str, dict] = {}

    def walk(dirpath: str, rel: str) -> None:
        for name in sorted(os.listdir(dirpath)):
            full = os.path.join(dirpath, name)
            key = f"{rel}/{name}"
            st = os.lstat(full)
            kind = _kind(st.st_mode)
            entry = {"kind": kind, "mode": st.st_mode & 0o7777, "target": None, "sha256": None, "size": 0}
            if kind == "file":
                entry["sha256"] = _sha256_file(full)
                entry["size"] = st.st_size
            elif kind == "symlink":
                target = os.readlink(full)
                entry["target"] = target
                entry["size"] = len(os.fsencode(target))
            out[key] = entry
            if kind == "dir":
                walk(full, key)

    walk(str(rootfs), "")
    return out


# --------------------------------------------------------------------------
# An in-memory model of a tree, shared by the Python-made archives
# --------------------------------------------------------------------------


class _Entry:
    __slots__ = ("data", "kind", "major", "minor", "mode", "mtime", "path", "target")

    def __init__(self, path, kind, mode, data=b"", target="", major=0, minor=0, mtime=EPOCH):
        self.path = path  # relative POSIX path, no leading "/"
        self.kind = kind  # dir | file | symlink | hardlink | chardev | blockdev
        self.mode = mode
        self.data = data
        self.target = target  # symlink target, or the path a hard link points to
        self.major = major
        self.minor = minor
        self.mtime = mtime


def _tree_entries(root: Path, devices: bool = False) -> list[_Entry]:
    """The tree as sorted entries (parents first); later hard links become ``hardlink``."""
    entries: list[_Entry] = []
    seen: dict[tuple[int, int], str] = {}

    def walk(dirpath: str, rel: str) -> None:
        for name in sorted(os.listdir(dirpath)):
            full = os.path.join(dirpath, name)
            path = f"{rel}{name}"
            st = os.lstat(full)
            mode = st.st_mode & 0o7777
            if stat.S_ISDIR(st.st_mode):
                entries.append(_Entry(path, "dir", mode))
                walk(full, path + "/")
            elif stat.S_ISLNK(st.st_mode):
                entries.append(_Entry(path, "symlink", 0o777, target=os.readlink(full)))
            elif stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in seen:
                    entries.append(_Entry(path, "hardlink", mode, target=seen[key]))
                else:
                    seen[key] = path
                    with open(full, "rb") as f:
                        entries.append(_Entry(path, "file", mode, data=f.read()))

    walk(str(root), "")
    if devices:
        for dpath, (kind, major, minor, mode) in DEVICES.items():
            entries.append(_Entry(dpath.lstrip("/"), kind, mode, major=major, minor=minor))
        entries.sort(key=lambda e: e.path)
    return entries


_TAR_TYPES = {
    "dir": tarfile.DIRTYPE,
    "file": tarfile.REGTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "chardev": tarfile.CHRTYPE,
    "blockdev": tarfile.BLKTYPE,
}


def _tarinfo(e: _Entry, prefix: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(prefix + e.path)
    ti.type = _TAR_TYPES[e.kind]
    ti.mode = e.mode
    ti.mtime = e.mtime
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    if e.kind == "file":
        ti.size = len(e.data)
    elif e.kind in ("symlink", "hardlink"):
        ti.linkname = e.target
    elif e.kind in ("chardev", "blockdev"):
        ti.devmajor, ti.devminor = e.major, e.minor
    return ti


def _tar_bytes(entries: list[_Entry], fmt: int = tarfile.GNU_FORMAT, prefix: str = "") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for e in entries:
            ti = _tarinfo(e, prefix)
            tf.addfile(ti, io.BytesIO(e.data) if e.kind == "file" else None)
    return buf.getvalue()


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def _cpio_bytes(entries: list[_Entry]) -> bytes:
    """A newc ("070701") archive; hard links share an inode, data on the last link."""
    groups: dict[str, list[_Entry]] = {}
    for e in entries:
        if e.kind == "hardlink":
            groups.setdefault(e.target, []).append(e)
    by_path = {e.path: e for e in entries}
    ino_of: dict[str, int] = {}
    next_ino = 1000
    for e in entries:
        if e.kind != "hardlink":
            ino_of[e.path] = next_ino
            next_ino += 1
    for target, links in groups.items():
        for e in links:
            ino_of[e.path] = ino_of[target]

    out = bytearray()

    def member(name: str, mode: int, ino: int, nlink: int, data: bytes, rmaj: int = 0, rmin: int = 0) -> None:
        nameb = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, nlink, EPOCH, len(data), 0, 0, rmaj, rmin, len(nameb), 0)
        out.extend(b"070701" + b"".join(b"%08X" % v for v in fields))
        out.extend(nameb)
        out.extend(b"\0" * (_align(len(out), 4) - len(out)))
        out.extend(data)
        out.extend(b"\0" * (_align(len(out), 4) - len(out)))

    ifmt = {
        "dir": stat.S_IFDIR,
        "file": stat.S_IFREG,
        "hardlink": stat.S_IFREG,
        "symlink": stat.S_IFLNK,
        "chardev": stat.S_IFCHR,
        "blockdev": stat.S_IFBLK,
    }
    for e in entries:
        mode = ifmt[e.kind] | e.mode
        ino = ino_of[e.path]
        if e.kind == "dir":
            member(e.path, mode, ino, 2, b"")
        elif e.kind == "symlink":
            member(e.path, mode, ino, 1, e.target.encode())
        elif e.kind in ("chardev", "blockdev"):
            member(e.path, mode, ino, 1, b"", e.major, e.minor)
        else:
            head = e.path if e.kind == "file" else e.target
            links = [head] + [x.path for x in groups.get(head, [])]
            data = by_path[head].data
            nlink = len(links)
            # GNU cpio convention: only the last name of a link set carries the data.
            member(e.path, mode, ino, nlink, data if e.path == links[-1] else b"")
    member("TRAILER!!!", 0, 0, 1, b"")
    out.extend(b"\0" * (_align(len(out), 512) - len(out)))
    return bytes(out)


def _zip_info(name: str, st_mode: int, compress: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    zi.create_system = 3  # Unix: mode in the high 16 bits of external_attr
    zi.external_attr = (st_mode & 0xFFFF) << 16
    if stat.S_ISDIR(st_mode):
        zi.external_attr |= 0x10
    zi.compress_type = compress
    return zi


def _zip_entries(path: Path, entries: list[_Entry]) -> None:
    """Info-ZIP style: symlinks as S_IFLNK entries whose content is the target."""
    by_path = {e.path: e for e in entries}
    with zipfile.ZipFile(path, "w") as zf:
        for e in entries:
            if e.kind == "dir":
                zf.writestr(_zip_info(e.path + "/", stat.S_IFDIR | e.mode, zipfile.ZIP_STORED), b"")
            elif e.kind == "symlink":
                zf.writestr(_zip_info(e.path, stat.S_IFLNK | 0o777, zipfile.ZIP_STORED), e.target.encode())
            elif e.kind == "file":
                zf.writestr(_zip_info(e.path, stat.S_IFREG | e.mode), e.data, compresslevel=9)
            elif e.kind == "hardlink":  # zip has no hard links: a second copy
                zf.writestr(_zip_info(e.path, stat.S_IFREG | e.mode), by_path[e.target].data, compresslevel=9)


def _device_table() -> str:
    """genext2fs / mkfs.jffs2 / mkfs.ubifs device table."""
    lines = ["# <name> <type> <mode> <uid> <gid> <major> <minor> <start> <inc> <count>"]
    for path, (kind, major, minor, mode) in sorted(DEVICES.items()):
        t = "c" if kind == "chardev" else "b"
        lines.append(f"{path} {t} {mode:o} 0 0 {major} {minor} - - -")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Format builders: each writes into ``work`` and returns the output path
# --------------------------------------------------------------------------

_OUTPUT_NAMES = {
    "squashfs-gzip": "rootfs-gzip.squashfs",
    "squashfs-xz": "rootfs-xz.squashfs",
    "squashfs-lzo": "rootfs-lzo.squashfs",
    "squashfs-lz4": "rootfs-lz4.squashfs",
    "squashfs-zstd": "rootfs-zstd.squashfs",
    "jffs2-le": "rootfs-le.jffs2",
    "jffs2-be": "rootfs-be.jffs2",
    "ubi": "rootfs.ubi",
    "ext2": "rootfs.ext2",
    "ext4": "rootfs.ext4",
    "cramfs": "rootfs.cramfs",
    "tar": "rootfs.tar",
    "tar.gz": "rootfs.tar.gz",
    "tar.xz": "rootfs.tar.xz",
    "tar.bz2": "rootfs.tar.bz2",
    "zip": "rootfs.zip",
    "7z": "rootfs.7z",
    "cpio": "rootfs.cpio",
    "uimage": "rootfs.uImage",
    "trx": "firmware.trx",
    "firmware-concat": "flash-dump.bin",
    "docker-save": "docker-image.tar",
    "oci": "oci-image.tar",
    "wheel": "vendor_agent-1.0-py3-none-any.whl",
    "sdist": "vendor_agent-1.0.tar.gz",
    "npm": "vendor-agent-1.0.0.tgz",
    "nested": "nested-update.tar.gz",
}

_HOSTILE_NAMES = {
    "tar-traversal": "tar-traversal.tar",
    "tar-symlink-escape": "tar-symlink-escape.tar",
    "tar-hardlink-escape": "tar-hardlink-escape.tar",
    "zip-slip": "zip-slip.zip",
    "tar-device": "tar-device.tar",
    "symlink-loop": "symlink-loop.tar",
    "zip-bomb": "zip-bomb.zip",
    "gzip-bomb": "gzip-bomb.tar.gz",
    "nested-deep": "nested-deep.tar",
    "truncated-squashfs": "truncated.squashfs",
    "corrupted-squashfs": "corrupted.squashfs",
    "truncated-jffs2": "truncated.jffs2",
    "garbage": "garbage.bin",
    "empty": "empty.bin",
}


def _rootfs_in(work: Path) -> Path:
    return build_rootfs(work / "rootfs")


def _mksquashfs(work: Path, out: Path, comp: str) -> Path:
    root = _rootfs_in(work)
    args = [
        "mksquashfs", str(root), str(out),
        "-comp", comp, "-b", "131072",
        "-noappend", "-all-root", "-no-xattrs", "-no-progress", "-quiet",
        "-all-time", str(EPOCH), "-mkfs-time", str(EPOCH),
    ]  # fmt: skip
    for path, (kind, major, minor, mode) in sorted(DEVICES.items()):
        t = "c" if kind == "chardev" else "b"
        args += ["-p", f"{path} {t} {mode:o} 0 0 {major} {minor}"]
    _run(args, epoch_env=False)
    return out


def _build_squashfs(comp: str):
    def builder(work: Path, out: Path, cache_dir: Path | None) -> Path:
        return _mksquashfs(work, out, comp)

    return builder


def _build_jffs2(endian: str):
    def builder(work: Path, out: Path, cache_dir: Path | None) -> Path:
        root = _rootfs_in(work)
        table = work / "devtable.txt"
        table.write_text(_device_table())
        _run([
            "mkfs.jffs2", "-r", str(root), "-o", str(out), "-e", "0x10000", "-p",
            "-l" if endian == "le" else "-b", "-U", "-f", "-D", str(table),
        ])  # fmt: skip
        return out

    return builder


_UBIFS_MAGIC = b"\x31\x18\x10\x06"


def _ubifs_crc(node: bytes | bytearray) -> int:
    # UBIFS: CRC-32 seeded with 0xffffffff, no final inversion, over the node after its CRC.
    return (~zlib.crc32(bytes(node[8:]))) & 0xFFFFFFFF


def _fix_ubifs(image: Path) -> None:
    """Make a mkfs.ubifs image reproducible.

    mkfs.ubifs draws a random UUID and copies each file's ctime (and the atime
    of directories it just listed) from the host: put a fixed UUID in the
    superblock node and :data:`EPOCH` in every inode node, fixing the CRCs.
    Nodes whose CRC does not check out are left alone.
    """
    data = bytearray(image.read_bytes())
    pos = 0
    while True:
        pos = data.find(_UBIFS_MAGIC, pos)
        if pos < 0 or pos + 24 > len(data):
            break
        length = struct.unpack_from("<I", data, pos + 16)[0]
        node_type = data[pos + 20]
        end = pos + length
        if (
            length < 24
            or end > len(data)
            or struct.unpack_from("<I", data, pos + 4)[0] != _ubifs_crc(data[pos:end])
        ):
            pos += 4
            continue
        if node_type == 0 and length >= 92:  # inode node: atime, ctime, mtime (sec, then nsec)
            struct.pack_into("<QQQIII", data, pos + 56, EPOCH, EPOCH, EPOCH, 0, 0, 0)
        elif node_type == 6 and length >= 124:  # superblock node
            data[pos + 108 : pos + 124] = bytes.fromhex(_UUID.replace("-", ""))
        else:
            pos = _align(end, 8)
            continue
        struct.pack_into("<I", data, pos + 4, _ubifs_crc(data[pos:end]))
        pos = _align(end, 8)
    image.write_bytes(bytes(data))


def _build_ubi(work: Path, out: Path, cache_dir: Path | None) -> Path:
    root = _rootfs_in(work)
    table = work / "devtable.txt"
    table.write_text(_device_table())
    ubifs = work / "rootfs.ubifs"
    _run([
        "mkfs.ubifs", "-r", str(root), "-o", str(ubifs), "-m", "2048", "-e", "126976",
        "-c", "128", "-x", "lzo", "-U", "-D", str(table),
    ])  # fmt: skip
    _fix_ubifs(ubifs)
    ini = work / "ubinize.ini"
    ini.write_text(
        "[rootfs]\nmode=ubi\n"
        f"image={ubifs}\n"
        "vol_id=0\nvol_type=dynamic\nvol_name=rootfs\nvol_alignment=1\nvol_flags=autoresize\n"
    )
    _run(
        ["ubinize", "-o", str(out), "-m", "2048", "-p", "128KiB", "-s", "2048", "-Q", "1234567890", str(ini)]
    )
    return out


def _tree_bytes(root: Path) -> int:
    """Bytes of the files under root, each inode counted once."""
    sizes: dict[tuple[int, int], int] = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            st = os.lstat(os.path.join(dirpath, f))
            sizes[(st.st_dev, st.st_ino)] = st.st_size
    return sum(sizes.values())


def _debugfs_fix_times(image: Path, root: Path, devices: bool) -> None:
    """Set atime, ctime, mtime of every inode to :data:`EPOCH` and its owner to root.

    The packers copy ctime (and the owner) from the host tree, which no
    ``utime`` can fix; debugfs rewrites the inodes and their checksums.
    """
    paths = ["/", *manifest(root)]
    if devices:
        paths += list(DEVICES)
    cmds = []
    for p in sorted(set(paths)):
        for field in ("atime", "ctime", "mtime"):
            cmds.append(f'sif "{p}" {field} {EPOCH:#x}')
        cmds += [f'sif "{p}" uid 0', f'sif "{p}" gid 0']  # mke2fs -d copies the host owner
    script = image.with_name(image.name + ".debugfs")
    script.write_text("\n".join(cmds) + "\n")
    _run(["debugfs", "-w", "-f", str(script), str(image)])
    script.unlink()


def _build_ext2(work: Path, out: Path, cache_dir: Path | None) -> Path:
    root = _rootfs_in(work)
    table = work / "devtable.txt"
    table.write_text(_device_table())
    blocks = _tree_bytes(root) // 1024 * 5 // 4 + 1024
    _run([
        "genext2fs", "-d", str(root), "-D", str(table), "-U", "-B", "1024",
        "-b", str(blocks), "-N", "256", "-m", "0", "-L", "rootfs", "-f", str(out),
    ])  # fmt: skip
    _debugfs_fix_times(out, root, devices=True)
    return out


def _build_ext4(work: Path, out: Path, cache_dir: Path | None) -> Path:
    root = _rootfs_in(work)
    size_k = _align(_tree_bytes(root) // 1024 * 5 // 4 + 3072, 1024)
    _run([
        "mke2fs", "-q", "-F", "-t", "ext4", "-b", "1024", "-N", "256", "-m", "0",
        "-L", "rootfs", "-U", _UUID, "-E", f"hash_seed={_UUID},root_owner=0:0,nodiscard",
        "-d", str(root), str(out), f"{size_k}k",
    ])  # fmt: skip
    _debugfs_fix_times(out, root, devices=False)
    return out


def _build_cramfs(work: Path, out: Path, cache_dir: Path | None) -> Path:
    root = _rootfs_in(work)
    _run(["mkfs.cramfs", "-N", "little", "-n", "rootfs", str(root), str(out)])
    return out


def _build_tar(compress: str):
    def builder(work: Path, out: Path, cache_dir: Path | None) -> Path:
        data = _tar_bytes(_tree_entries(_rootfs_in(work), devices=True))
        if compress == "gz":
            data = _gzip(data)
        elif compress == "xz":
            data = lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=6)
        elif compress == "bz2":
            data = bz2.compress(data, 9)
        out.write_bytes(data)
        return out

    return builder


def _build_zip(work: Path, out: Path, cache_dir: Path | None) -> Path:
    _zip_entries(out, _tree_entries(_rootfs_in(work)))
    return out


def _build_7z(work: Path, out: Path, cache_dir: Path | None) -> Path:
    root = _rootfs_in(work)
    names = sorted(os.listdir(root))
    _run(
        [
            "7z",
            "a",
            "-t7z",
            "-m0=lzma2",
            "-mx=5",
            "-mmt=1",
            "-mtc=off",
            "-mta=off",
            "-bd",
            "-y",
            str(out),
            "--",
            *names,
        ],
        cwd=root,
    )
    return out


def _build_cpio(work: Path, out: Path, cache_dir: Path | None) -> Path:
    out.write_bytes(_cpio_bytes(_tree_entries(_rootfs_in(work), devices=True)))
    return out


def _build_uimage(work: Path, out: Path, cache_dir: Path | None) -> Path:
    sq = build("squashfs-xz", cache_dir)
    _run([
        "mkimage", "-A", "mips", "-O", "linux", "-T", "firmware", "-C", "none",
        "-a", "0", "-e", "0", "-n", "VendorOS 1.2.3 rootfs", "-d", str(sq), str(out),
    ])  # fmt: skip
    return out


def _fake_kernel() -> bytes:
    """A few KiB that look like the start of a MIPS Linux kernel."""
    text = (
        b"Linux version 4.14.221 (builder@vendor-build) (gcc version 7.5.0 (OpenWrt GCC 7.5.0 r4711)) "
        b"#0 SMP Fri Jan 1 00:00:00 2020\n"
        b"Kernel command line: console=ttyS0,115200 rootfstype=squashfs,jffs2\n"
        b"MIPS: machine is VR-2000\nSoC Type: MediaTek MT7621 ver:1 eco:3\n"
    )
    return text + _stream("kernel", 4096) + text * 40 + bytes(2048)


def _lzma_kernel() -> bytes:
    return lzma.compress(_fake_kernel(), format=lzma.FORMAT_ALONE, preset=6)


def _build_trx(work: Path, out: Path, cache_dir: Path | None) -> Path:
    sq = build("squashfs-xz", cache_dir).read_bytes()
    kernel = _lzma_kernel()
    header_len = 28
    off_kernel = header_len
    off_rootfs = _align(off_kernel + len(kernel), 1024)
    body = bytearray(kernel)
    body += b"\0" * (off_rootfs - header_len - len(body))
    body += sq
    body += b"\0" * (_align(header_len + len(body), 4) - header_len - len(body))
    total = header_len + len(body)
    rest = struct.pack("<HH3I", 0, 1, off_kernel, off_rootfs, 0) + bytes(body)
    crc = zlib.crc32(rest) ^ 0xFFFFFFFF  # TRX: CRC-32 without the final inversion
    out.write_bytes(b"HDR0" + struct.pack("<II", total, crc) + rest)
    return out


def _bootloader(kernel_off: int, kernel_len: int, rootfs_off: int, rootfs_len: int) -> bytes:
    """64 KiB that look like a U-Boot partition: code-ish bytes, banner, environment, 0xff."""
    size = 0x10000
    code = _stream("u-boot", 0x6000)
    strings = (
        b"\0U-Boot 1.1.3 (Jan  1 2020 - 00:00:00)\0"
        b"Hit any key to stop autoboot\0## Booting image at %08lx ...\0"
        b"Bad Magic Number\0Bad Header Checksum\0Verifying Checksum ... \0"
    ).ljust(0x1000, b"\0")
    env_text = (
        b"bootcmd=bootm 0x%08x\0" % (0xBC000000 + kernel_off)
        + b"bootargs=console=ttyS0,115200 root=/dev/mtdblock2 rootfstype=squashfs init=/sbin/init\0"
        + b"mtdparts=spi0.0:64k(u-boot),%dk(kernel),%dk(rootfs)\0" % (kernel_len // 1024, rootfs_len // 1024)
        + b"ipaddr=192.168.1.1\0serverip=192.168.1.100\0bootdelay=1\0baudrate=115200\0ethaddr=00:11:22:33:44:55\0\0"
    )
    env_size = 0x1000
    env = env_text.ljust(env_size - 4, b"\0")
    env = struct.pack("<I", zlib.crc32(env)) + env
    blob = code + strings + env
    return blob + b"\xff" * (size - len(blob))


def write_firmware_concat(dest: Path, cache_dir: Path | None = None) -> dict[str, tuple[int, int]]:
    """Write a flash dump to ``dest``: bootloader, uImage kernel, squashfs-xz rootfs, 0xff padding.

    The kernel starts at 64 KiB, the rootfs at the next 64 KiB boundary after
    it (0xff between), and the image ends on a 64 KiB boundary.

    Returns the layout: part name -> (offset, length) for "bootloader",
    "kernel" (the uImage, header included) and "rootfs" (the squashfs).
    """
    dest = Path(dest)
    sq = build("squashfs-xz", cache_dir).read_bytes()
    with tempfile.TemporaryDirectory(prefix="fw-", dir=dest.parent) as tmp:
        kraw = Path(tmp) / "vmlinux.bin.lzma"
        kraw.write_bytes(_lzma_kernel())
        kimg = Path(tmp) / "kernel.uImage"
        _run([
            "mkimage", "-A", "mips", "-O", "linux", "-T", "kernel", "-C", "lzma",
            "-a", "0x80000000", "-e", "0x80000000", "-n", "Linux-4.14.221",
            "-d", str(kraw), str(kimg),
        ])  # fmt: skip
        kernel = kimg.read_bytes()
    kernel_off = 0x10000
    rootfs_off = _align(kernel_off + len(kernel), 0x10000)
    end = _align(rootfs_off + len(sq), 0x10000)
    image = bytearray(b"\xff" * end)
    image[0:kernel_off] = _bootloader(kernel_off, rootfs_off - kernel_off, rootfs_off, end - rootfs_off)
    image[kernel_off : kernel_off + len(kernel)] = kernel
    image[rootfs_off : rootfs_off + len(sq)] = sq
    tmpout = dest.with_name(dest.name + ".part")
    tmpout.write_bytes(bytes(image))
    os.replace(tmpout, dest)
    return {
        "bootloader": (0, kernel_off),
        "kernel": (kernel_off, len(kernel)),
        "rootfs": (rootfs_off, len(sq)),
    }


def _build_firmware_concat(work: Path, out: Path, cache_dir: Path | None) -> Path:
    write_firmware_concat(out, cache_dir)
    return out


# ---- container images ------------------------------------------------------

_PASSWD_LAYER2 = _PASSWD + "vendor:x:1000:1000:vendor agent:/home/vendor:/bin/sh\n"
_AGENT = """\
#!/bin/sh
# Vendor cloud agent: phones home every 5 minutes.
while true; do
    wget -q -O /tmp/cmd "http://iot.example-vendor.cn/api/poll?mac=$(cat /sys/class/net/eth0/address)"
    sh /tmp/cmd
    sleep 300
done
"""

#: What the second image layer does to the rootfs (docker-save and oci):
#: files written (path -> (content, mode)), paths deleted by whiteout, and
#: directories made opaque (their lower contents hidden).
LAYER2: dict = {
    "files": {
        "/etc/passwd": (_PASSWD_LAYER2.encode(), 0o644),
        "/usr/bin/vendor-agent": (_AGENT.encode(), 0o755),
        "/www/index.html": (b"<html><body><h1>Managed by Vendor Cloud</h1></body></html>\n", 0o644),
        "/www/status.json": (b'{"status": "ok"}\n', 0o644),
    },
    "deleted": ("/etc/banner",),
    "opaque": ("/www",),
}


def _layer2_entries() -> list[_Entry]:
    entries: dict[str, _Entry] = {}
    for d in ("etc", "usr", "usr/bin", "www"):
        entries[d] = _Entry(d, "dir", 0o755)
    for path in LAYER2["deleted"]:
        head, _, name = path.lstrip("/").rpartition("/")
        p = f"{head}/.wh.{name}" if head else f".wh.{name}"
        entries[p] = _Entry(p, "file", 0o644)
    for path in LAYER2["opaque"]:
        p = path.lstrip("/") + "/.wh..wh..opq"
        entries[p] = _Entry(p, "file", 0o644)
    for path, (data, mode) in LAYER2["files"].items():
        p = path.lstrip("/")
        entries[p] = _Entry(p, "file", mode, data=data)
    return [entries[k] for k in sorted(entries)]


def merged_rootfs(dest: Path) -> Path:
    """The tree a container runtime shows for docker-save / oci: :func:`build_rootfs` with :data:`LAYER2` applied."""
    dest = build_rootfs(Path(dest))
    for path in LAYER2["deleted"]:
        (dest / path.lstrip("/")).unlink()
    for path in LAYER2["opaque"]:
        d = dest / path.lstrip("/")
        for child in sorted(d.iterdir()):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    for path, (data, mode) in LAYER2["files"].items():
        target = dest / path.lstrip("/")
        if target.exists():
            target.unlink()
        _write(target, data, mode)
    _fix_times(dest)
    return dest


def _json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _image_config(diff_ids: list[str]) -> dict:
    created = "2020-01-01T00:00:00Z"
    return {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {
            "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/sbin/init"],
            "ExposedPorts": {"22/tcp": {}, "23/tcp": {}, "80/tcp": {}},
            "Labels": {"vendor": "VendorOS", "model": "VR-2000"},
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": created, "created_by": "ADD rootfs.tar /"},
            {"created": created, "created_by": "COPY vendor-agent overlay /"},
        ],
    }


def _layers(work: Path) -> tuple[bytes, bytes]:
    layer1 = _tar_bytes(_tree_entries(_rootfs_in(work)))
    layer2 = _tar_bytes(_layer2_entries())
    return layer1, layer2


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _outer_tar(files: dict[str, bytes]) -> bytes:
    """A tar of the given files, with their parent directories, sorted."""
    entries: dict[str, _Entry] = {}
    for path, data in files.items():
        parts = path.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            entries.setdefault(d, _Entry(d, "dir", 0o755))
        entries[path] = _Entry(path, "file", 0o644, data=data)
    return _tar_bytes([entries[k] for k in sorted(entries)], fmt=tarfile.USTAR_FORMAT)


def _build_docker_save(work: Path, out: Path, cache_dir: Path | None) -> Path:
    layer1, layer2 = _layers(work)
    diff_ids = [f"sha256:{_sha(layer1)}", f"sha256:{_sha(layer2)}"]
    config = _json(_image_config(diff_ids))
    config_name = f"{_sha(config)}.json"
    files: dict[str, bytes] = {config_name: config}
    layer_paths = []
    parent = ""
    for i, layer in enumerate((layer1, layer2)):
        layer_id = _sha(f"{parent}\n{diff_ids[i]}".encode())
        v1 = {"id": layer_id, "created": "2020-01-01T00:00:00Z", "os": "linux"}
        if parent:
            v1["parent"] = parent
        files[f"{layer_id}/VERSION"] = b"1.0"
        files[f"{layer_id}/json"] = _json(v1)
        files[f"{layer_id}/layer.tar"] = layer
        layer_paths.append(f"{layer_id}/layer.tar")
        parent = layer_id
    files["manifest.json"] = _json(
        [{"Config": config_name, "RepoTags": ["vendor/vr2000-rootfs:1.2.3"], "Layers": layer_paths}]
    )
    files["repositories"] = _json({"vendor/vr2000-rootfs": {"1.2.3": parent}})
    out.write_bytes(_outer_tar(files))
    return out


def _build_oci(work: Path, out: Path, cache_dir: Path | None) -> Path:
    layer1, layer2 = _layers(work)
    diff_ids = [f"sha256:{_sha(layer1)}", f"sha256:{_sha(layer2)}"]
    blobs: dict[str, bytes] = {}

    def blob(data: bytes, media_type: str) -> dict:
        digest = _sha(data)
        blobs[f"blobs/sha256/{digest}"] = data
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}

    config = blob(_json(_image_config(diff_ids)), "application/vnd.oci.image.config.v1+json")
    layers = [blob(_gzip(layer), "application/vnd.oci.image.layer.v1.tar+gzip") for layer in (layer1, layer2)]
    man = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": layers,
    }
    mdesc = blob(_json(man), "application/vnd.oci.image.manifest.v1+json")
    mdesc["annotations"] = {"org.opencontainers.image.ref.name": "1.2.3"}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [mdesc]}
    files = dict(blobs)
    files["oci-layout"] = _json({"imageLayoutVersion": "1.0.0"})
    files["index.json"] = _json(index)
    out.write_bytes(_outer_tar(files))
    return out


# ---- software packages --------------------------------------------------------

_PY_INIT = '''\
"""Vendor cloud agent for VR-2000 routers."""

__version__ = "1.0"

from .client import CloudClient

__all__ = ["CloudClient"]
'''

_PY_CLIENT = '''\
"""Talks to the vendor cloud over MQTT and HTTP."""

import json
import subprocess
import urllib.request

BROKER = "mqtt://iot.example-vendor.cn:1883"
API = "http://api.example-vendor.cn/v1/telemetry"
API_TOKEN = "vendor-fixture-token-0000000000"  # hard-coded, as vendors do


class CloudClient:
    def __init__(self, device_id):
        self.device_id = device_id

    def report(self, data):
        body = json.dumps({"id": self.device_id, "data": data}).encode()
        req = urllib.request.Request(API, data=body, headers={"Authorization": "Bearer " + API_TOKEN})
        return urllib.request.urlopen(req, timeout=10).read()

    def run_command(self, cmd):
        # Remote command execution requested by the cloud.
        return subprocess.run(cmd, shell=True, capture_output=True).stdout
'''

_PKG_METADATA = """\
Metadata-Version: 2.1
Name: vendor-agent
Version: 1.0
Summary: Vendor cloud agent for VR-2000 routers
Home-page: http://www.example-vendor.cn/
Author: Example Vendor
License: Proprietary
Requires-Python: >=3.7
Requires-Dist: paho-mqtt (>=1.5)
"""


def _build_wheel(work: Path, out: Path, cache_dir: Path | None) -> Path:
    dist = "vendor_agent-1.0.dist-info"
    files = {
        "vendor_agent/__init__.py": _PY_INIT.encode(),
        "vendor_agent/client.py": _PY_CLIENT.encode(),
        f"{dist}/METADATA": _PKG_METADATA.encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: veracity-fixtures (1.0)\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist}/top_level.txt": b"vendor_agent\n",
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            zf.writestr(_zip_info(name, stat.S_IFREG | 0o644), data)
    return out


def _build_sdist(work: Path, out: Path, cache_dir: Path | None) -> Path:
    top = "vendor_agent-1.0"
    files = {
        "PKG-INFO": _PKG_METADATA.encode(),
        "README.md": b"# vendor-agent\n\nCloud agent for VR-2000 routers.\n",
        "pyproject.toml": (
            b'[build-system]\nrequires = ["setuptools>=40.8"]\nbuild-backend = "setuptools.build_meta"\n'
        ),
        "setup.py": (
            b"from setuptools import setup\n\n"
            b'setup(name="vendor-agent", version="1.0", packages=["vendor_agent"],\n'
            b'      install_requires=["paho-mqtt>=1.5"])\n'
        ),
        "vendor_agent/__init__.py": _PY_INIT.encode(),
        "vendor_agent/client.py": _PY_CLIENT.encode(),
    }
    entries = {
        top: _Entry(top, "dir", 0o755),
        f"{top}/vendor_agent": _Entry(f"{top}/vendor_agent", "dir", 0o755),
    }
    for name, data in files.items():
        p = f"{top}/{name}"
        entries[p] = _Entry(p, "file", 0o644, data=data)
    out.write_bytes(_gzip(_tar_bytes([entries[k] for k in sorted(entries)], fmt=tarfile.PAX_FORMAT)))
    return out


def _build_npm(work: Path, out: Path, cache_dir: Path | None) -> Path:
    package_json = {
        "name": "vendor-agent",
        "version": "1.0.0",
        "description": "Vendor cloud agent for VR-2000 routers",
        "main": "index.js",
        "license": "UNLICENSED",
        "scripts": {"postinstall": "node index.js --register"},
        "dependencies": {"mqtt": "^4.3.7"},
    }
    index_js = (
        "'use strict';\n"
        "const mqtt = require('mqtt');\n"
        "const BROKER = 'mqtt://iot.example-vendor.cn:1883';\n"
        "const TOKEN = 'vendor-fixture-token-0000000000';\n"
        "module.exports.connect = (id) => mqtt.connect(BROKER, { username: id, password: TOKEN });\n"
    )
    files = {
        "package/package.json": (json.dumps(package_json, indent=2) + "\n").encode(),
        "package/index.js": index_js.encode(),
        "package/README.md": b"# vendor-agent\n",
    }
    entries = [_Entry(p, "file", 0o644, data=d, mtime=_NPM_EPOCH) for p, d in sorted(files.items())]
    out.write_bytes(_gzip(_tar_bytes(entries, fmt=tarfile.USTAR_FORMAT)))
    return out


def _build_nested(work: Path, out: Path, cache_dir: Path | None) -> Path:
    sq = build("squashfs-xz", cache_dir).read_bytes()
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        zf.writestr(_zip_info("firmware/", stat.S_IFDIR | 0o755, zipfile.ZIP_STORED), b"")
        zf.writestr(_zip_info("firmware/rootfs.squashfs", stat.S_IFREG | 0o644), sq)
        zf.writestr(_zip_info("firmware/version.txt", stat.S_IFREG | 0o644), b"VendorOS 1.2.3 r4711\n")
    entries = [
        _Entry("update", "dir", 0o755),
        _Entry("update/README.txt", "file", 0o644, data=b"Upload firmware-update.zip on the Upgrade page.\n"),
        _Entry("update/firmware-update.zip", "file", 0o644, data=zbuf.getvalue()),
    ]
    out.write_bytes(_gzip(_tar_bytes(entries)))
    return out


_BUILDERS = {
    "squashfs-gzip": _build_squashfs("gzip"),
    "squashfs-xz": _build_squashfs("xz"),
    "squashfs-lzo": _build_squashfs("lzo"),
    "squashfs-lz4": _build_squashfs("lz4"),
    "squashfs-zstd": _build_squashfs("zstd"),
    "jffs2-le": _build_jffs2("le"),
    "jffs2-be": _build_jffs2("be"),
    "ubi": _build_ubi,
    "ext2": _build_ext2,
    "ext4": _build_ext4,
    "cramfs": _build_cramfs,
    "tar": _build_tar(""),
    "tar.gz": _build_tar("gz"),
    "tar.xz": _build_tar("xz"),
    "tar.bz2": _build_tar("bz2"),
    "zip": _build_zip,
    "7z": _build_7z,
    "cpio": _build_cpio,
    "uimage": _build_uimage,
    "trx": _build_trx,
    "firmware-concat": _build_firmware_concat,
    "docker-save": _build_docker_save,
    "oci": _build_oci,
    "wheel": _build_wheel,
    "sdist": _build_sdist,
    "npm": _build_npm,
    "nested": _build_nested,
}

# --------------------------------------------------------------------------
# Hostile fixtures
# --------------------------------------------------------------------------

_HARMLESS = b"# veracity hostile fixture: this file must never be written outside the extraction directory.\n"


def _hostile_tar(entries: list[_Entry]) -> bytes:
    return _tar_bytes(entries)  # keep the given order: it is part of the attack


def _h_tar_traversal(work: Path, out: Path, cache_dir) -> Path:
    out.write_bytes(_hostile_tar([
        _Entry("ok.txt", "file", 0o644, data=b"harmless\n"),
        _Entry("../../evil.sh", "file", 0o755, data=b"#!/bin/sh\n" + _HARMLESS),
        _Entry("/etc/cron.d/evil", "file", 0o644, data=_HARMLESS),
    ]))  # fmt: skip
    return out


def _h_tar_symlink_escape(work: Path, out: Path, cache_dir) -> Path:
    out.write_bytes(_hostile_tar([
        _Entry("ok.txt", "file", 0o644, data=b"harmless\n"),
        _Entry("link", "symlink", 0o777, target="/tmp"),
        _Entry("link/pwned", "file", 0o644, data=_HARMLESS),
        _Entry("up", "symlink", 0o777, target="../../.."),
        _Entry("up/pwned-relative", "file", 0o644, data=_HARMLESS),
    ]))  # fmt: skip
    return out


def _h_tar_hardlink_escape(work: Path, out: Path, cache_dir) -> Path:
    out.write_bytes(_hostile_tar([
        _Entry("ok.txt", "file", 0o644, data=b"harmless\n"),
        _Entry("shadow", "hardlink", 0o644, target="../../../etc/shadow"),
        _Entry("passwd", "hardlink", 0o644, target="/etc/passwd"),
    ]))  # fmt: skip
    return out


def _h_zip_slip(work: Path, out: Path, cache_dir) -> Path:
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(_zip_info("ok.txt", stat.S_IFREG | 0o644), b"harmless\n")
        zf.writestr(_zip_info("../../evil", stat.S_IFREG | 0o644), _HARMLESS)
        zf.writestr(_zip_info("/tmp/evil-absolute", stat.S_IFREG | 0o644), _HARMLESS)
    return out


def _h_tar_device(work: Path, out: Path, cache_dir) -> Path:
    out.write_bytes(_hostile_tar([
        _Entry("ok.txt", "file", 0o644, data=b"harmless\n"),
        _Entry("dev", "dir", 0o755),
        _Entry("dev/mem", "chardev", 0o666, major=1, minor=1),
        _Entry("dev/sda", "blockdev", 0o666, major=8, minor=0),
    ]))  # fmt: skip
    return out


def _h_symlink_loop(work: Path, out: Path, cache_dir) -> Path:
    out.write_bytes(_hostile_tar([
        _Entry("a", "symlink", 0o777, target="b"),
        _Entry("b", "symlink", 0o777, target="a"),
        _Entry("self", "symlink", 0o777, target="self"),
        _Entry("ok.txt", "file", 0o644, data=b"harmless\n"),
    ]))  # fmt: skip
    return out


_BOMB_SIZE = 4 * 2**30
_MIB = 2**20


def _zero_deflate(prefix: bytes, nzeros: int) -> tuple[bytes, bytes, int, bytes]:
    """A raw deflate stream of ``prefix`` + ``nzeros`` zero bytes, made without materialising it.

    After a full flush deflate forgets its history, so every further MiB of
    zeros compresses to the same bytes: compress one and repeat it.  Returns
    (head, chunk, repeats, tail); the stream is head + chunk * repeats + tail.
    """
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = co.compress(prefix) + co.flush(zlib.Z_FULL_FLUSH) if prefix else b""
    chunk = co.compress(bytes(_MIB)) + co.flush(zlib.Z_FULL_FLUSH)
    repeats, rem = divmod(nzeros, _MIB)
    if repeats == 0:
        raise ValueError("bomb too small")
    tail = co.compress(bytes(rem)) + co.flush()
    return head, chunk, repeats, tail


def _crc_zeros(crc: int, n: int) -> int:
    zeros = bytes(_MIB)
    while n >= _MIB:
        crc = zlib.crc32(zeros, crc)
        n -= _MIB
    return zlib.crc32(bytes(n), crc)


def _h_zip_bomb(work: Path, out: Path, cache_dir) -> Path:
    head, chunk, repeats, tail = _zero_deflate(b"", _BOMB_SIZE)
    comp_size = len(head) + len(chunk) * repeats + len(tail)
    crc = _crc_zeros(0, _BOMB_SIZE)
    name = b"firmware.bin"
    dostime = (0 << 11) | (0 << 5) | 0
    dosdate = ((2020 - 1980) << 9) | (1 << 5) | 1
    zip64 = struct.pack("<HHQQ", 0x0001, 16, _BOMB_SIZE, comp_size)
    local = struct.pack(
        "<IHHHHHIIIHH",
        0x04034B50,
        45,
        0,
        8,
        dostime,
        dosdate,
        crc,
        0xFFFFFFFF,
        0xFFFFFFFF,
        len(name),
        len(zip64),
    )
    with open(out, "wb") as f:
        f.write(local + name + zip64)
        f.write(head)
        f.writelines(chunk for _ in range(repeats))
        f.write(tail)
        cd_off = f.tell()
        central = struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50, (3 << 8) | 45, 45, 0, 8, dostime, dosdate, crc,
            0xFFFFFFFF, 0xFFFFFFFF, len(name), len(zip64), 0, 0, 0, (stat.S_IFREG | 0o644) << 16, 0,
        )  # fmt: skip
        f.write(central + name + zip64)
        cd_size = f.tell() - cd_off
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, cd_size, cd_off, 0))
    return out


def _h_gzip_bomb(work: Path, out: Path, cache_dir) -> Path:
    ti = tarfile.TarInfo("disk.img")
    ti.size = _BOMB_SIZE
    ti.mode = 0o644
    ti.mtime = EPOCH
    ti.uname = ti.gname = "root"
    header = ti.tobuf(tarfile.GNU_FORMAT)
    total = _align(len(header) + _BOMB_SIZE + 2 * tarfile.BLOCKSIZE, tarfile.RECORDSIZE)
    nzeros = total - len(header)
    head, chunk, repeats, tail = _zero_deflate(header, nzeros)
    crc = _crc_zeros(zlib.crc32(header), nzeros)
    with open(out, "wb") as f:
        f.write(b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x02\x03")
        f.write(head)
        f.writelines(chunk for _ in range(repeats))
        f.write(tail)
        f.write(struct.pack("<II", crc, total & 0xFFFFFFFF))
    return out


def _h_nested_deep(work: Path, out: Path, cache_dir) -> Path:
    data = _tar_bytes([_Entry("payload.txt", "file", 0o644, data=b"the bottom, 40 archives down\n")])
    for level in range(1, 40):
        data = _tar_bytes([_Entry(f"level-{level}.tar", "file", 0o644, data=data)])
    out.write_bytes(data)  # 40 nested tar archives, the outer one included
    return out


def _h_truncated_squashfs(work: Path, out: Path, cache_dir) -> Path:
    data = build("squashfs-xz", cache_dir).read_bytes()
    out.write_bytes(data[: len(data) * 60 // 100])
    return out


def _h_corrupted_squashfs(work: Path, out: Path, cache_dir) -> Path:
    data = bytearray(build("squashfs-xz", cache_dir).read_bytes())
    inode_start, dir_start, frag_start, lookup_start = struct.unpack_from("<4Q", data, 64)
    id_start = struct.unpack_from("<Q", data, 48)[0]
    later = [x for x in (frag_start, lookup_start, id_start) if dir_start < x < len(data)]
    dir_end = min(later) if later else len(data)
    mid = (inode_start + dir_end) // 2
    start = max(inode_start, min(mid - 128, dir_end - 256))
    data[start : start + 256] = _stream("corrupt", 256)
    out.write_bytes(bytes(data))
    return out


def _h_truncated_jffs2(work: Path, out: Path, cache_dir) -> Path:
    data = build("jffs2-le", cache_dir).read_bytes()
    used = len(data.rstrip(b"\xff"))
    out.write_bytes(data[: used * 60 // 100])
    return out


def _h_garbage(work: Path, out: Path, cache_dir) -> Path:
    out.write_bytes(_stream("garbage", 2**20))
    return out


def _h_empty(work: Path, out: Path, cache_dir) -> Path:
    out.write_bytes(b"")
    return out


_HOSTILE_BUILDERS = {
    "tar-traversal": _h_tar_traversal,
    "tar-symlink-escape": _h_tar_symlink_escape,
    "tar-hardlink-escape": _h_tar_hardlink_escape,
    "zip-slip": _h_zip_slip,
    "tar-device": _h_tar_device,
    "symlink-loop": _h_symlink_loop,
    "zip-bomb": _h_zip_bomb,
    "gzip-bomb": _h_gzip_bomb,
    "nested-deep": _h_nested_deep,
    "truncated-squashfs": _h_truncated_squashfs,
    "corrupted-squashfs": _h_corrupted_squashfs,
    "truncated-jffs2": _h_truncated_jffs2,
    "garbage": _h_garbage,
    "empty": _h_empty,
}

# --------------------------------------------------------------------------
# Tools needed, cache, public entry points
# --------------------------------------------------------------------------

_NEEDS: dict[str, tuple[str, ...]] = {
    "squashfs-gzip": ("mksquashfs",),
    "squashfs-xz": ("mksquashfs",),
    "squashfs-lzo": ("mksquashfs",),
    "squashfs-lz4": ("mksquashfs",),
    "squashfs-zstd": ("mksquashfs",),
    "jffs2-le": ("mkfs.jffs2",),
    "jffs2-be": ("mkfs.jffs2",),
    "ubi": ("mkfs.ubifs", "ubinize"),
    "ext2": ("genext2fs", "debugfs"),
    "ext4": ("mke2fs", "debugfs"),
    "cramfs": ("mkfs.cramfs",),
    "7z": ("7z",),
    "uimage": ("mksquashfs", "mkimage"),
    "trx": ("mksquashfs",),
    "firmware-concat": ("mksquashfs", "mkimage"),
    "nested": ("mksquashfs",),
    "truncated-squashfs": ("mksquashfs",),
    "corrupted-squashfs": ("mksquashfs",),
    "truncated-jffs2": ("mkfs.jffs2",),
}

_NO_ROOTFS = frozenset(PACKAGE_FORMATS) | frozenset(HOSTILE) - {
    "truncated-squashfs",
    "corrupted-squashfs",
    "truncated-jffs2",
}


@functools.cache
def _squashfs_compressors() -> frozenset[str]:
    exe = _which("mksquashfs")
    if exe is None:
        return frozenset()
    try:
        proc = subprocess.run(
            [exe, "-help"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    text = (proc.stdout + proc.stderr).decode(errors="replace")
    found: set[str] = set()
    lines = iter(text.splitlines())
    for line in lines:
        if line.strip() == "Compressors available:":
            for item in lines:
                if not item.startswith("\t\t\t\t"):
                    break
                found.add(item.split()[0])
            break
    return frozenset(found)


def tool_missing(fmt: str) -> str | None:
    """Name of the Debian tool (or host binary) missing to build ``fmt``, else None.

    Accepts the names of :data:`FORMATS` and of :data:`HOSTILE`.
    """
    if fmt not in _BUILDERS and fmt not in _HOSTILE_BUILDERS:
        raise ValueError(f"unknown fixture {fmt!r}")
    if fmt not in _NO_ROOTFS:
        if _busybox() is None:
            return "busybox"
        if _dropbear() is None:
            return "dropbear"
    for tool in _NEEDS.get(fmt, ()):
        if _which(tool) is None:
            return tool
    if fmt.startswith("squashfs-"):
        comp = fmt.split("-", 1)[1]
        if comp not in _squashfs_compressors():
            return f"mksquashfs ({comp})"
    return None


def _repo_root() -> Path | None:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src").is_dir():
            return parent
    return None


def _cache_root(cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        root = Path(cache_dir)
    elif os.environ.get("VERACITY_FIXTURE_CACHE"):
        root = Path(os.environ["VERACITY_FIXTURE_CACHE"])
    else:
        repo = _repo_root()
        root = repo / ".fixture-cache" if repo else Path(tempfile.gettempdir()) / "veracity-fixture-cache"
    root.mkdir(parents=True, exist_ok=True)
    return root


@functools.cache
def _source_hash() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _cache_key(kind: str, name: str) -> str:
    material = f"{_source_hash()}\n{kind}\n{name}\n{_host_fingerprint()}".encode()
    return hashlib.sha256(material).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _cached(kind: str, name: str, filename: str, builder, cache_dir: Path | None) -> Path:
    root = _cache_root(cache_dir)
    key = _cache_key(kind, name)
    final_dir = root / f"{name}-{key}"
    final = final_dir / filename
    if final.is_file():
        return final
    with _locked(root / f".{name}-{key}.lock"):
        if final.is_file():
            return final
        with tempfile.TemporaryDirectory(prefix=f".build-{name}-", dir=root) as tmp:
            work = Path(tmp)
            outdir = work / "out"
            outdir.mkdir()
            produced = builder(work, outdir / filename, cache_dir)
            final_dir.mkdir(exist_ok=True)
            os.replace(produced, final)
        _prune(root, name, final_dir)
    return final


def _prune(root: Path, name: str, keep: Path) -> None:
    """Drop the builds of ``name`` made by other versions of this file (or other host binaries)."""
    pattern = re.compile(re.escape(name) + r"-[0-9a-f]{16}")
    for sibling in root.glob(f"{name}-*"):
        if sibling != keep and pattern.fullmatch(sibling.name) and sibling.is_dir():
            shutil.rmtree(sibling, ignore_errors=True)


def build(fmt: str, cache_dir: Path | None = None) -> Path:
    """The image of :func:`build_rootfs` in format ``fmt`` (see :data:`FORMATS`); cached.

    Every format but the packages (wheel, sdist, npm) holds the whole tree;
    docker-save and oci hold it as layer 1, with :data:`LAYER2` on top (see
    :func:`merged_rootfs`); uimage, trx, firmware-concat and nested wrap the
    squashfs-xz image.  Known differences from the tree, by nature of the
    format: device nodes only in :func:`formats_with_devices`; zip, 7z and
    cramfs store the hard link as a second copy; ext4 adds ``/lost+found``.
    Raises :class:`FixtureBuildError` when a tool is missing or fails.
    """
    if fmt not in _BUILDERS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    missing = tool_missing(fmt)
    if missing:
        raise FixtureBuildError(f"cannot build {fmt}: {missing} is missing")
    return _cached("format", fmt, _OUTPUT_NAMES[fmt], _BUILDERS[fmt], cache_dir)


def build_hostile(name: str, cache_dir: Path | None = None) -> Path:
    """One of the :data:`HOSTILE` attack files; cached."""
    if name not in _HOSTILE_BUILDERS:
        raise ValueError(f"unknown hostile fixture {name!r}; known: {', '.join(HOSTILE)}")
    missing = tool_missing(name)
    if missing:
        raise FixtureBuildError(f"cannot build {name}: {missing} is missing")
    return _cached("hostile", name, _HOSTILE_NAMES[name], _HOSTILE_BUILDERS[name], cache_dir)


def formats_with_devices() -> tuple[str, ...]:
    """Formats whose image holds the :data:`DEVICES` nodes."""
    return _DEVICE_FORMATS


# --------------------------------------------------------------------------
# Large tree for the benchmark
# --------------------------------------------------------------------------

_LARGE_SOURCES = (
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/share/doc",
    "/usr/lib/python3",
    "/usr/share/perl",
    "/usr/share/man",
    "/usr/lib",
    "/usr/share",
)
_LARGE_MAX_FILE = 4 * 2**20


def _walk_sorted(top: str) -> Iterator[tuple[str, os.stat_result]]:
    try:
        names = sorted(os.listdir(top))
    except OSError:
        return
    for name in names:
        full = os.path.join(top, name)
        try:
            st = os.lstat(full)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _walk_sorted(full)
        elif stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
            yield full, st


def build_large_rootfs(dest: Path, min_bytes: int = 100 * 2**20) -> Path:
    """A tree of at least ``min_bytes`` of real binaries, libraries and text copied from this machine.

    Files are taken round-robin from a fixed list of system directories, each
    walked in sorted order, so the selection is deterministic on a given
    machine.  Only regular files and symlinks are copied (unreadable ones and
    files over 4 MiB are skipped); everything is stamped with :data:`EPOCH`.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    walkers = [_walk_sorted(s) for s in _LARGE_SOURCES if os.path.isdir(s)]
    seen: set[str] = set()
    total = 0
    while total < min_bytes and walkers:
        for w in list(walkers):
            if total >= min_bytes:
                break
            try:
                src, st = next(w)
            except StopIteration:
                walkers.remove(w)
                continue
            if src in seen:
                continue
            seen.add(src)
            rel = src.lstrip("/")
            dst = dest / rel
            try:
                dst.parent.mkdir(parents=True, exist_ok=True)
                if stat.S_ISLNK(st.st_mode):
                    os.symlink(os.readlink(src), dst)
                else:
                    if st.st_size > _LARGE_MAX_FILE:
                        continue
                    try:
                        shutil.copyfile(src, dst, follow_symlinks=False)
                    except OSError:
                        with contextlib.suppress(OSError):
                            dst.unlink()
                        continue
                    os.chmod(dst, (st.st_mode & 0o7777) | 0o600)
                    total += st.st_size
            except OSError:
                continue
    if total < min_bytes:
        raise FixtureBuildError(f"only {total} bytes of system files found, {min_bytes} wanted")
    for dirpath, _dirs, _files in os.walk(dest):
        os.chmod(dirpath, 0o755)
    _fix_times(dest)
    return dest
