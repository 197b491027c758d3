#!/usr/bin/env bash
# Set up veracity on a fresh Debian 12 machine: the Debian tools unblob and the fixture builder call,
# a virtual environment in .venv, and the package with its test dependencies. Idempotent; quick when done.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package
declare -A TOOLS=(
  [mksquashfs]=squashfs-tools [mkfs.jffs2]=mtd-utils [genext2fs]=genext2fs [mkimage]=u-boot-tools
  [mkfs.cramfs]=util-linux-extra [busybox]=busybox-static [7z]=p7zip-full [cpio]=cpio [zip]=zip
  [xz]=xz-utils [bzip2]=bzip2 [debugfs]=e2fsprogs [lz4]=lz4 [lzop]=lzop [zstd]=zstd
  [dropbear]=dropbear-bin [unar]=unar [lziprecover]=lziprecover [simg2img]=android-sdk-libsparse-utils
  [fsck.erofs]=erofs-utils [partclone.restore]=partclone [file]=file [chromium]=chromium
)
missing=()
for cmd in "${!TOOLS[@]}"; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 || missing+=("${TOOLS[$cmd]}")
done
# the store tests run a throwaway PostgreSQL server from Debian's binaries (initdb, postgres)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
# libmagic is needed by unblob's python-magic
[ -e /usr/lib/x86_64-linux-gnu/libmagic.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libmagic.so.1 ] || missing+=(libmagic1)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  }
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.veracity-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  touch "$stamp"
fi
