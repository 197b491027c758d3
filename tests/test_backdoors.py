"""Tests of the known-backdoor check (checks/backdoors.py) and its compiled catalogue."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import pytest
from conftest import ROOT, corpus, findings

import veracity.checks.registry
from veracity.checks import backdoors as bd
from veracity.checks.backdoors import BackdoorsCheck
from veracity.patterns import PatternSet
from veracity.testing.memfs import inventory_from

PATTERNS = PatternSet(BackdoorsCheck.PATTERNS)
ELF = b"\x7fELF\x01\x02\x01" + b"\x00" * 9 + b"\x00\x02\x00\x08" + b"\x00" * 40  # truncated MIPS header


def _run(tmp_path: Path, files: dict, sections: dict | None = None, **kw):
    inv = inventory_from(files, tmp_path, patterns=PATTERNS, **kw)
    return list(BackdoorsCheck().run(inv, {"components": []} if sections is None else sections))


def _known(found):
    return sorted((f.rule, f.path, f.backdoor_id) for f in found if f.category == "backdoor.known")


def _crypt(password: str, method: str = "METHOD_MD5") -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        crypt = pytest.importorskip("crypt")
    return crypt.crypt(password, crypt.mksalt(getattr(crypt, method)))


# -- the compiled catalogue -----------------------------------------------------------------------------


def test_data_file_is_up_to_date_with_the_catalogue():
    catalogue = corpus("../knowledge/backdoor_catalogue.json")
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_backdoor_rules", ROOT / "tools" / "build_backdoor_rules.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    fresh = tool.build(catalogue)
    shipped = json.loads((ROOT / "src" / "veracity" / "data" / "backdoor_rules.json").read_text())
    assert fresh == shipped, "run tools/build_backdoor_rules.py"
    source = json.loads(catalogue.read_text())
    assert len(shipped["entries"]) == len(source) == 51
    assert sum(len(e["indicators"]) for e in shipped["entries"]) == sum(len(e["indicators"]) for e in source) == 292


def test_every_indicator_has_a_disposition():
    raw = json.loads((ROOT / "src" / "veracity" / "data" / "backdoor_rules.json").read_text())
    for entry in raw["entries"]:
        assert entry["severity"] in ("critical", "high", "medium") and entry["sources"]
        for ind in entry["indicators"]:
            use = ind["use"]
            assert use in ("alone", "corroborating", "skip", "delegated") or use.startswith("group:"), ind
            if use in ("skip", "delegated"):
                assert ind.get("reason"), ind
            else:
                assert ind.get("match"), ind
            if use == "corroborating":
                assert ind.get("reason"), ind
    # a common port is never matched; an SSH key fingerprint is left to the keys check
    ports = [i for e in raw["entries"] for i in e["indicators"] if i["type"] == "tcp-port" and i["value"] == "23"]
    assert ports and all(i["use"] == "skip" for i in ports)
    fps = [i for e in raw["entries"] for i in e["indicators"] if i["type"] == "ssh-pubkey-fingerprint"]
    assert len(fps) == 18 and all(i["use"] == "delegated" for i in fps)


def test_patterns_compile_and_ids_are_unique():
    ids = [p.id for p in BackdoorsCheck.PATTERNS]
    assert len(ids) == len(set(ids)) and all(i.startswith("VER-BKD-001/") for i in ids)
    assert PATTERNS.scan(b"xx xmlset_roodkcableoj28840ybtide yy")[0]


# -- content indicators ---------------------------------------------------------------------------------


def test_unique_string_alone_is_enough(tmp_path):
    found = _run(tmp_path, {
        "/usr/sbin/httpd": ELF + b"\x00User-Agent\x00xmlset_roodkcableoj28840ybtide\x00",
        "/www/index.html": "<p>no backdoor here, just a page that says backdoor</p>\n",
    })
    assert _known(found) == [("VER-BKD-001", "/usr/sbin/httpd", "dlink-xmlset-useragent-2013")]
    f = found[0]
    assert f.severity == "critical" and f.offset == len(ELF) + 12
    assert "https://www.cve.org/CVERecord?id=CVE-2013-6026" in f.references
    assert f.title.startswith("Known backdoor dlink-xmlset-useragent-2013 (CVE-2013-6026)")


def test_line_of_a_match_in_a_script(tmp_path):
    script = "#!/bin/sh\n# start\ntelnetd -l /usr/sbin/login -u Alphanetworks:$image_sign -i br0 &\n"
    found = _run(tmp_path, {"/etc/scripts/misc/telnetd.sh": script})
    assert [(f.path, f.line, f.backdoor_id) for f in found] == [
        ("/etc/scripts/misc/telnetd.sh", 3, "dlink-alphanetworks-telnet-2013")]


def test_corroborating_indicators_need_each_other(tmp_path):
    found = _run(tmp_path, {
        "/usr/sbin/scfgmgr": ELF + b"\x00ScMM\x00listening on 32764\x00",  # magic + port: Sercomm
        "/usr/sbin/other": ELF + b"\x00ScMM\x00",  # 4 bytes alone: anything
        "/usr/share/ports.txt": "7329 24151 32764 53413\n",  # port numbers only
        "/bin/httpd": ELF + b"\x00build 7329\x00",  # Tenda's httpd path and port, but no content indicator
        "/www/cgi-bin/board.cgi": "#!/bin/sh\nexec /usr/bin/handler\n",  # Vacron's CGI name alone
    })
    assert _known(found) == [
        ("VER-BKD-001", "/usr/sbin/scfgmgr", "sercomm-tcp32764-2013"),
    ]


def test_board_cgi_path_and_parameter_together(tmp_path):
    found = _run(tmp_path, {"/www/cgi-bin/board.cgi": "#!/bin/sh\nexec /usr/bin/handler /board.cgi?cmd=$1\n"})
    assert _known(found) == [("VER-BKD-001", "/www/cgi-bin/board.cgi", "vacron-nvr-board-cgi")]


def test_scope_elf_only(tmp_path):
    found = _run(tmp_path, {
        "/usr/share/doc/rhymes.txt": "Mary had a little lamb\n",
        "/bin/sslvpnd": ELF + b"\x00Mary had a littl\x00",
    })
    assert _known(found) == [("VER-BKD-001", "/bin/sslvpnd", "fortinet-config-enc-key-2019")]
    assert found[0].severity == "high"  # medium confidence


def test_xz_code_patterns_count_only_together(tmp_path):
    ops = [bytes.fromhex(h.replace("??", "00")) for h in (
        "488D7C2408F3AB488D442408 4889D14C89C74889C2E8 00000000 89C2".replace(" ", ""),
        "31C04989FFB9160000004D89C5488D7C24484D89CEF3AB488D442448",
        "4D8B6C2408458B3C244C8B63108985 78F1FFFF31C083BD78F1FFFF00F3AB7907".replace(" ", ""),
    )]
    found = _run(tmp_path, {
        "/usr/lib/liblzma.so.5.6.1": ELF + b"\x90".join(ops) + b"\x00",
        "/usr/lib/liblzma.so.5.4.5": ELF + b"\x90".join(ops[:2]) + b"\x00",
        "/srv/dump.bin": b"\x00" * 64 + b"\x90".join(ops),  # not an ELF program
    })
    assert _known(found) == [("VER-BKD-001", "/usr/lib/liblzma.so.5.6.1", "xz-utils-liblzma-2024")]


def test_utf16_and_caseless_strings(tmp_path):
    found = _run(tmp_path, {
        "/opt/orion/SolarWinds.Orion.Core.BusinessLayer.dll": b"MZ\x00\x00" + "OrionImprovementBusinessLayer".encode("utf-16-le"),
        "/etc/hosts.bad": "0.0.0.0 AVSVMCLOUD.COM\n",
    })
    assert _known(found) == [
        ("VER-BKD-001", "/etc/hosts.bad", "solarwinds-sunburst-2020"),
        ("VER-BKD-001", "/opt/orion/SolarWinds.Orion.Core.BusinessLayer.dll", "solarwinds-sunburst-2020"),
    ]


def test_secret_indicators_are_masked(tmp_path):
    found = _run(tmp_path, {"/usr/sbin/zysh": ELF + b"\x00zyfwp\x00PrOw!aN_fXp\x00"})
    assert _known(found) == [("VER-BKD-001", "/usr/sbin/zysh", "zyxel-zyfwp-2020")]
    assert "PrOw!aN_fXp" not in found[0].evidence and "P*******" in found[0].evidence


# -- hashes and paths -----------------------------------------------------------------------------------


def _with_entry(monkeypatch, **indicator):
    cat = dict(bd.catalogue())
    entry = bd.Entry("test-implant", "Test", "Test product", "critical", ("https://example.org/t",), None)
    entry.indicators.append(bd.Indicator(entry="test-implant", index=0, use="alone", **indicator))
    cat["test-implant"] = entry
    monkeypatch.setattr(bd, "catalogue", lambda: cat)


def test_hash_of_a_known_sample(tmp_path, monkeypatch):
    payload = b"\x7fELF not really an implant"
    _with_entry(monkeypatch, type="hash-sha256", value="x", sha256=hashlib.sha256(payload).hexdigest())
    found = _run(tmp_path, {"/tmp/.x/implant": payload, "/tmp/other": payload + b"!"})
    assert _known(found) == [("VER-BKD-002", "/tmp/.x/implant", "test-implant")]
    assert found[0].references == ("https://example.org/t",)


def test_real_sample_hashes_are_lowercase_sha256():
    hashes = [i.sha256 for e in bd.catalogue().values() for i in e.indicators if i.sha256]
    assert len(hashes) == 8 and all(len(h) == 64 and h == h.lower() for h in hashes)


def test_file_paths(tmp_path):
    found = _run(tmp_path, {
        "/usr/sbin/telnetenabled": ELF,
        "/etc/devel-login": "",
        "/usr/sbin/telnetd": ELF,
        "/usr/lib/python3/site-packages/litellm_init.pth": "import os\n",
        "/bin/httpd": ELF,  # Tenda's path alone
    })
    assert _known(found) == [
        ("VER-BKD-003", "/etc/devel-login", "mikrotik-devel-login"),
        ("VER-BKD-003", "/usr/lib/python3/site-packages/litellm_init.pth", "pypi-litellm-2026"),
        ("VER-BKD-003", "/usr/sbin/telnetenabled", "netgear-telnetenable"),
    ]


def test_symlink_named_like_an_implant(tmp_path):
    found = _run(tmp_path, {"/usr/sbin/utelnetd": ELF}, links={"/usr/sbin/telnetenabled": "utelnetd"})
    assert _known(found) == [("VER-BKD-003", "/usr/sbin/telnetenabled", "netgear-telnetenable")]


# -- accounts -------------------------------------------------------------------------------------------

PASSWD = "root:x:0:0:root:/root:/bin/sh\nAdmin:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"


def test_botnet_credential_in_shadow(tmp_path):
    shadow = f"root:{_crypt('xc3511')}:10933:0:99999:7:::\nAdmin:!:10933::::::\nnobody:*:10933::::::\n"
    found = _run(tmp_path, {"/etc/passwd": PASSWD, "/etc/shadow": shadow})
    got = sorted((f.rule, f.path, f.line, f.backdoor_id, f.severity) for f in found if f.category == "backdoor.known")
    assert got == [
        ("VER-BKD-004", "/etc/shadow", 1, "mirai-credential-table-2016", "critical"),
        ("VER-BKD-004", "/etc/shadow", 1, "xiongmai-dahua-telnet-defaults-2016", "high"),
    ]
    assert all("xc3511" not in f.evidence and "x*****" in f.evidence for f in found)


def test_vendor_backdoor_secret_on_any_account(tmp_path):
    """TP-Link's osteam:5up debug-page secret, used as the root (and Admin) password."""
    h = _crypt("5up")
    shadow = f"root:{h}:10933:0:99999:7:::\nAdmin:{h}:10933:0:99999:7:::\nnobody::10933::::::\n"
    found = _run(tmp_path, {"/etc/passwd": PASSWD, "/etc/shadow": shadow})
    got = sorted((f.rule, f.line, f.backdoor_id) for f in found if f.category == "backdoor.known")
    assert got == [("VER-BKD-004", 1, "tplink-debug-page-2013"), ("VER-BKD-004", 2, "tplink-debug-page-2013")]
    assert "vendor backdoor password 5**" in found[0].evidence


def test_strong_and_locked_passwords_stay_quiet(tmp_path):
    shadow = (f"root:{_crypt('k7#Vq9!xZ2mW', 'METHOD_SHA512')}:1::::::\nAdmin:!{_crypt('admin')}:1::::::\n"
              "nobody:*:1::::::\n")
    found = _run(tmp_path, {"/etc/passwd": PASSWD, "/etc/shadow": shadow})
    assert _known(found) == []


def test_empty_password_of_a_backdoor_account(tmp_path):
    passwd = PASSWD + "messagebus:x:100:101::/var/run/dbus:/bin/sh\n"
    shadow = "root:*:1::::::\nmessagebus::1::::::\n"
    found = _run(tmp_path, {"/etc/passwd": passwd, "/etc/shadow": shadow})
    assert _known(found) == [("VER-BKD-004", "/etc/shadow", "dlink-dns-nas-messagebus-2024")]


def test_backdoor_only_account_name(tmp_path):
    passwd = PASSWD + "zyfwp:x:0:0::/:/bin/zysh\nsync:x:4:65534:sync:/bin:/bin/sync\n"
    found = _run(tmp_path, {"/etc/passwd": passwd})
    assert [(f.rule, f.path, f.line, f.backdoor_id) for f in found if f.category == "backdoor.known"] == [
        ("VER-BKD-005", "/etc/passwd", 4, "zyxel-zyfwp-2020")]


def test_unsupported_hash_scheme_is_reported(tmp_path):
    found = _run(tmp_path, {"/etc/passwd": PASSWD, "/etc/shadow": "root:$9$weird$hash:1::::::\n"})
    assert [(f.rule, f.path, f.category) for f in found] == [("VER-BKD-009", "/etc/shadow", "analysis.incomplete")]


# -- packages -------------------------------------------------------------------------------------------


def test_package_versions_from_components(tmp_path):
    components = [
        {"name": "xz-utils", "version": "5.6.1", "paths": ["/usr/bin/xz"]},
        {"name": "liblzma", "version": "5.4.5", "paths": ["/usr/lib/liblzma.so.5"]},
        {"name": "RomPager", "version": "4.07", "paths": ["/bin/httpd"]},
        {"name": "RomPager", "version": "4.51", "paths": ["/bin/httpd2"]},
    ]
    found = _run(tmp_path, {"/etc/version": "1\n"}, sections={"components": components})
    assert _known(found) == [
        ("VER-BKD-007", "/bin/httpd", "allegro-rompager-misfortune-2014"),
        ("VER-BKD-007", "/usr/bin/xz", "xz-utils-liblzma-2024"),
    ]
    assert not [f for f in found if f.rule == "VER-BKD-008"]


def test_package_manifests_without_components(tmp_path):
    found = _run(tmp_path, {
        "/usr/lib/node_modules/event-stream/package.json": json.dumps({"name": "event-stream", "version": "3.3.6"}),
        "/usr/lib/node_modules/flatmap-stream/package.json": json.dumps({"name": "flatmap-stream", "version": "0.1.2"}),
        "/usr/lib/node_modules/ua-parser-js/package.json": json.dumps({"name": "ua-parser-js", "version": "0.7.30"}),
        "/usr/lib/python3/site-packages/litellm-1.82.8.dist-info/METADATA": "Metadata-Version: 2.1\nName: litellm\nVersion: 1.82.8\n",
        "/usr/lib/python3/site-packages/jellyfish-0.7.1.dist-info/METADATA": "Name: jellyfish\nVersion: 0.7.1\n",
    }, sections={}, dirs=("/usr/lib/python3/site-packages/jeIlyfish-0.7.1.dist-info",))
    assert _known(found) == [
        ("VER-BKD-007", "/usr/lib/node_modules/event-stream/package.json", "npm-event-stream-flatmap-2018"),
        ("VER-BKD-007", "/usr/lib/python3/site-packages/jeIlyfish-0.7.1.dist-info", "pypi-jeilyfish-2019"),
        ("VER-BKD-007", "/usr/lib/python3/site-packages/litellm-1.82.8.dist-info/METADATA", "pypi-litellm-2026"),
    ]
    notes = [f for f in found if f.rule == "VER-BKD-008"]
    assert len(notes) == 1 and "rompager" in notes[0].evidence and notes[0].severity == "info"


# -- real images (hand-checked) -------------------------------------------------------------------------


def _scan_only(monkeypatch, run_scan, image):
    monkeypatch.setattr(veracity.checks.registry, "CHECKS", (BackdoorsCheck(),))
    return run_scan(corpus(image))


@pytest.mark.corpus
def test_tplink_root_password_is_the_debug_page_secret(monkeypatch, run_scan):
    """TL-MR3020 3.17.2: /etc/shadow gives root and Admin (both UID 0) md5crypt('5up'), the osteam:5up secret
    of TP-Link's hidden debug page (hand-checked with crypt). No other catalogue indicator is in the image."""
    report = _scan_only(monkeypatch, run_scan, "firmware/tplink-mr3020v1-3.17.2.bin")
    got = sorted((f["rule"], f["path"], f["line"], f["backdoor_id"], f["severity"])
                 for f in findings(report, category="backdoor.known"))
    assert got == [
        ("VER-BKD-004", "/etc/shadow", 1, "tplink-debug-page-2013", "high"),
        ("VER-BKD-004", "/etc/shadow", 2, "tplink-debug-page-2013", "high"),
    ]


@pytest.mark.corpus
def test_alcatel_root_password_is_in_the_mirai_table(monkeypatch, run_scan):
    """G-010S-A overlay: /etc/shadow root is md5crypt('123456'), in Mirai's and Gafgyt's lists; ONTUSER's
    sha512crypt hash matches none of the catalogue's secrets (hand-checked)."""
    report = _scan_only(monkeypatch, run_scan, "firmware/alcatel-g010s-a-mtd4.jffs2")
    got = sorted((f["rule"], f["path"], f["line"], f["backdoor_id"]) for f in findings(report, category="backdoor.known"))
    assert got == [
        ("VER-BKD-004", "/etc/shadow", 1, "gafgyt-qbot-credentials"),
        ("VER-BKD-004", "/etc/shadow", 1, "mirai-credential-table-2016"),
    ]


@pytest.mark.corpus
def test_broadcom_has_no_known_backdoor(monkeypatch, run_scan):
    """BCM63xx: /etc/passwd is a link into /var (made at run time); no catalogue string in any file."""
    report = _scan_only(monkeypatch, run_scan, "firmware/broadcom-bcm63xx-squashfs-v2.bin")
    assert findings(report, category="backdoor.known") == []


@pytest.mark.corpus
@pytest.mark.parametrize("package", ["npm/axios-1.7.7.tgz", "npm/lodash-4.17.21.tgz", "pypi/requests-2.32.3.tar.gz",
                                     "pypi/paramiko-3.4.0.tar.gz", "pypi/urllib3-2.8.0-py3-none-any.whl"])
def test_benign_packages(monkeypatch, run_scan, package):
    report = _scan_only(monkeypatch, run_scan, f"packages/benign/{package}")
    assert findings(report, category="backdoor.known") == []


def test_corroborating_strings_must_be_near_each_other(tmp_path):
    filler = "\n".join(f"package-{n}\t{n}" for n in range(20000))
    found = _run(tmp_path, {
        "/usr/share/lists/names.tsv": "netcore-client\t1\n" + filler + "\nmisc\t53413\n",  # 300 KB apart
        "/usr/sbin/igdmptd": ELF + b"\x00netcore\x00bind udp 53413\x00Login succeeded!\x00",
    })
    assert _known(found) == [("VER-BKD-001", "/usr/sbin/igdmptd", "netcore-netis-udp53413-2014")]


def test_account_files_found_by_the_accounts_check(tmp_path):
    """A default copy of passwd (where /etc/passwd is a link into /var made at boot) is read when the
    accounts section names it; an htpasswd scheme crypt() cannot compute is skipped silently there."""
    files = {
        "/etc_ro/passwd": f"root:{_crypt('xc3511')}:0:0:root:/:/bin/sh\n",
        "/www/.htpasswd": "admin:$apr1$abc$defghijklmnopqrstuvwx0\n",
    }
    sections = {"components": [], "accounts": [{"name": "root", "source": "/etc_ro/passwd"},
                                               {"name": "admin", "source": "/www/.htpasswd"}]}
    found = _run(tmp_path, files, sections=sections, links={"/etc/passwd": "/var/passwd"})
    assert sorted((f.rule, f.path, f.backdoor_id) for f in found) == [
        ("VER-BKD-004", "/etc_ro/passwd", "mirai-credential-table-2016"),
        ("VER-BKD-004", "/etc_ro/passwd", "xiongmai-dahua-telnet-defaults-2016"),
    ]
