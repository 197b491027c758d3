"""The three real device images of ../shared/corpus unpack completely (skipped when the corpus is absent)."""

from __future__ import annotations

import collections

import pytest
from conftest import corpus, findings


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    from veracity import report as report_mod
    from veracity.scan import scan

    done: dict[str, dict] = {}

    def get(name: str) -> dict:
        if name not in done:
            tmp = tmp_path_factory.mktemp(name.replace(".", "_"))
            report = scan(corpus(f"firmware/{name}"), workdir=tmp / "work", cache_path=tmp / "cache.sqlite")
            assert report_mod.validate(report) == []
            done[name] = report
        return done[name]

    return get


def _tree(report, fmt):
    files = {f["path"]: f for f in report["files"] if f["container"][-1].startswith(fmt)}
    links = {link["path"]: link["target"] for link in report["links"] if link["container"][-1].startswith(fmt)}
    return files, links


def test_tplink_mr3020(scans):
    r = scans("tplink-mr3020v1-3.17.2.bin")
    assert r["target"]["kind"] == "firmware"
    assert r["target"]["sha256"] == "f05cedd0002f9c235c78ff93f4e3cefe82debba951e4abc721d7097d2936ae27"
    containers = [(c["format"], c["offset"]) for c in r["extraction"]["containers"]]
    assert ("squashfs", 0x120200) in containers and ("lzma", 0x20400) in containers
    files, links = _tree(r, "squashfs@0x120200")
    assert len(files) == 444
    kinds = collections.Counter(f["kind"] for f in files.values())
    assert kinds == {"text": 254, "elf": 165, "data": 19, "script": 5, "empty": 1}, kinds
    assert files["/bin/busybox"]["type"] == "ELF 32-bit MSB mips executable"
    assert files["/bin/busybox"]["size"] == 267408 and files["/bin/busybox"]["mode"] == "0755"
    assert files["/etc/passwd"]["sha256"].startswith("bc7462cd249d5a55")
    assert files["/etc/rc.d/rcS"]["kind"] == "script"
    assert links["/bin/sh"] == "busybox" and links["/sbin/init"] == "../bin/busybox"
    assert links["/etc/resolv.conf"] == "../tmp/resolv.conf"
    # an absolute link into the vendor's build machine, kept exactly as stored
    assert links["/bin/iptables-xml"].startswith("/workspace/jenkins/workspace/hornet_model_qca9331/")
    assert len(links) == 72
    unpacking = [f for f in findings(r, category="analysis.incomplete") if f["rule"].startswith("VER-UNP-")]
    assert unpacking == findings(r, rule="VER-UNP-006")  # only the boot loader gaps
    assert r["extraction"]["errors"] == []


def test_broadcom_bcm63xx_squashfs_v2(scans):
    r = scans("broadcom-bcm63xx-squashfs-v2.bin")
    assert r["target"]["kind"] == "filesystem"
    files, links = _tree(r, "squashfs@0x0")
    assert len(files) == 263
    assert links["/etc/passwd"] == "/var/passwd"
    assert links["/bin/sh"] == "busybox"
    assert files["/bin/busybox"]["type"] == "ELF 32-bit MSB mips executable"
    assert files["/etc/inittab"]["mode"] == "0777"
    assert len(links) == 68
    assert r["findings"] == [] or all(f["severity"] != "critical" or f["category"] != "analysis.incomplete"
                                      for f in r["findings"])
    assert r["extraction"]["errors"] == []


def test_alcatel_jffs2_big_endian_overlay(scans):
    r = scans("alcatel-g010s-a-mtd4.jffs2")
    assert r["target"]["kind"] == "filesystem"
    files, _links = _tree(r, "jffs2")
    # 25 regular files: the two dropbear host keys were re-created after their overlay whiteouts (the latest
    # node version wins); jefferson loses the RSA one and misnames the DSS one "(overlay-whiteout)".
    assert len(files) == 25
    assert {"/etc/dropbear/dropbear_rsa_host_key", "/etc/dropbear/dropbear_dss_host_key"} <= set(files)
    assert files["/etc/shadow"]["mode"] == "0600"
    assert files["/etc/passwd"]["sha256"].startswith("82c9592cc8813c48")
    assert r["extraction"]["errors"] == []
    assert [f for f in findings(r, category="analysis.incomplete") if f["rule"].startswith("VER-UNP-")] == []
    whiteouts = sorted(s["path"] for s in r["specials"] if s["kind"] == "whiteout")
    assert len(whiteouts) == 17 and "/etc/uci-defaults/migrate-shadow" in whiteouts
