"""Component identification: versions, signatures (the table of real version strings), package databases,
BusyBox applets, end of life, the check's rules, and the real images."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import corpus

from veracity.checks import registry
from veracity.checks.components import ComponentsCheck
from veracity.components import busybox, eol, identify, signatures, versions
from veracity.components.vulndb import VulnDB
from veracity.options import ScanOptions
from veracity.patterns import PatternSet
from veracity.testing.memfs import inventory_from

DATA = Path(__file__).parent / "data" / "components"
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "knowledge" / "sources"
TABLE = json.loads((DATA / "version_strings.json").read_text())
PATTERNS = PatternSet(ComponentsCheck.PATTERNS)


def binary(text: str) -> bytes:
    return b"\x00\x01\x02\x03binary\x00" + text.encode("latin-1") + b"\x00tail\x00"


def inv_of(files, tmp_path, **kw):
    return inventory_from(files, tmp_path, patterns=PATTERNS, **kw)


def comps_of(files, tmp_path, **kw):
    return {(c.name, c.version): c for c in identify.identify(inv_of(files, tmp_path, **kw)).components}


# -- versions ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("1.0.2", "1.0.2a"), ("1.0.2j", "1.0.2k"), ("1.0.2k", "1.0.2za"), ("0.9.8z", "0.9.8za"), ("0.9.8zg", "0.9.8zh"),
        ("1.0.2zk", "1.1.0"), ("1.1.0-pre5", "1.1.0"), ("2.6.36", "2.6.36.4"), ("2.6.9", "2.6.36"),
        ("2.6.36-rc1", "2.6.36"), ("0.46", "0.52"), ("0.53", "2011.54"), ("2019.78", "2022.83"), ("1_30_1", "1.31.0"),
        ("1.29.3", "1_30_1"), ("8.4p1", "8.5"), ("7.4p1", "7.4p2"), ("2.80test2", "2.80"), ("1.2.11", "1.2.13"),
        ("1.01", "1.1.0"), ("v2.9", "2.10"), ("4.2.8p10", "4.2.8p15"), ("2.10-devel", "2.10"),
    ],
)
def test_version_order(older, newer):
    assert versions.compare(older, newer) == -1
    assert versions.compare(newer, older) == 1


@pytest.mark.parametrize(("a", "b"), [("1_30_1", "1.30.1"), ("v1.2", "1.2"), ("1.0.2K", "1.0.2k")])
def test_version_equal(a, b):
    assert versions.compare(a, b) == 0


@pytest.mark.parametrize(
    ("packaged", "upstream"),
    [("1.36.1-r2", "1.36.1"), ("1:2.36-9+deb12u4", "2.36"), ("1.1.1w-1", "1.1.1w"), ("2022.83-1", "2022.83"),
     ("3.0.13-0ubuntu3.1", "3.0.13"), ("1.2.11.dfsg-2+deb11u2", "1.2.11.dfsg")],
)
def test_upstream_version(packaged, upstream):
    assert versions.upstream(packaged) == upstream


def test_ranges_inclusive_and_exclusive():
    assert versions.in_range("1.24.2", end_incl="1.24.2")
    assert not versions.in_range("1.25.0", end_incl="1.24.2")
    assert not versions.in_range("2.90", end_excl="2.90")
    assert versions.in_range("2.89", end_excl="2.90")
    assert versions.in_range("1.16.0", start_incl="1.16.0", end_incl="1.33.1")
    assert not versions.in_range("1.15.3", start_incl="1.16.0", end_incl="1.33.1")
    assert not versions.in_range("1.16.0", start_excl="1.16.0")
    assert versions.in_range("1.0.2k", exact="1.0.2k") and not versions.in_range("1.0.2", exact="1.0.2k")


# -- signatures ----------------------------------------------------------------------------------------------


def test_table_is_large_enough():
    names = {r["name"] for r in TABLE}
    assert len(TABLE) >= 150
    assert len(names) >= 60
    assert names <= set(signatures.knowledge())


def test_every_signature_has_source_and_compiles():
    know = signatures.knowledge()
    with_signatures = [i for i in know.values() if i.signatures]
    assert len(with_signatures) >= 60
    for info in know.values():
        assert info.source, info.key
        for part, vendor, product in info.cpes:
            assert part in ("a", "o", "h") and vendor and product
    PatternSet(signatures.patterns())._build()  # every anchor compiles in Hyperscan


def test_version_string_table(tmp_path):
    """Every real version string of the table is identified with the right name and version, and nothing else."""
    files, where = {}, {}
    for i, row in enumerate(TABLE):
        if "path" in row:
            path = row["path"]
            files[path] = b"\x00\x01\x02junk\x00" * 4
        elif row.get("kind") == "text":
            path = f"/www/js/lib{i}.js"
            files[path] = row["text"]
        else:
            path = f"/bin/prog{i}"
            files[path] = binary(row["text"])
        where[path] = row
    inv = inv_of(files, tmp_path)
    found: dict[str, set] = {}
    for hit in signatures.Identifier(inv).hits():
        found.setdefault(hit.item.node.path, set()).add((hit.component, hit.version))
    wrong = {p: (r["name"], r["version"], found.get(p)) for p, r in where.items()
             if found.get(p) != {(r["name"], r["version"])}}
    assert wrong == {}


@pytest.mark.parametrize(
    "text",
    ["OpenSSL 1.0.0 or later is required", "BusyBox is a multi-call binary", "Linux version %s (%s)",
     "dropbear_exit", "U-Boot environment", "uses zlib 1.2.11", "nginx/", "vermagic=%s"],
)
def test_look_alikes_are_not_components(tmp_path, text):
    assert comps_of({"/bin/x": binary(text)}, tmp_path) == {}


def test_signatures_ignore_text_files_unless_declared(tmp_path):
    comps = comps_of({"/etc/motd": "Welcome. BusyBox v1.30.1 (2019) built-in shell\n",
                      "/www/jquery.js": "/*! jQuery v1.12.4 | (c) jQuery Foundation */\n"}, tmp_path)
    assert set(comps) == {("jquery", "1.12.4")}


# -- package databases ---------------------------------------------------------------------------------------

OPKG_STATUS = """Package: busybox
Version: 1.36.1-1
Depends: libc
Status: install user installed
Architecture: mips_24kc
Installed-Time: 1700000000

Package: libopenssl3
Version: 3.0.13-1
Depends: libc, libatomic1
Status: install user installed
Architecture: mips_24kc

Package: dnsmasq
Version: 2.89-4
Status: install user not-installed
Architecture: mips_24kc
"""

DPKG_STATUS = """Package: libssl3
Status: install ok installed
Priority: optional
Section: libs
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.11-1~deb12u2
Depends: libc6 (>= 2.34)
Description: Secure Sockets Layer toolkit - shared libraries

Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries.

Package: removed-thing
Status: deinstall ok config-files
Version: 1.0
"""

APK_INSTALLED = """C:Q1abc=
P:musl
V:1.2.4-r2
A:x86_64
L:MIT
o:musl
F:lib
R:ld-musl-x86_64.so.1

C:Q1def=
P:busybox
V:1.36.1-r5
A:x86_64
D:so:libc.musl-x86_64.so.1
F:bin
R:busybox
"""


def test_opkg_status_and_control(tmp_path):
    comps = comps_of({
        "/usr/lib/opkg/status": OPKG_STATUS,
        "/usr/lib/opkg/info/busybox.list": "/bin/busybox\n/bin/sh\n",
        "/usr/lib/opkg/info/uhttpd.control": "Package: uhttpd\nVersion: 2023-06-25-34a8a74d-2\nArchitecture: mips_24kc\n",
        "/bin/busybox": binary("BusyBox v1.36.1 (2024-01-01 00:00:00 UTC) multi-call binary."),
    }, tmp_path)
    bb = comps[("busybox", "1.36.1-1")]
    assert bb.source == "package-db:opkg" and bb.confidence == "high"
    assert bb.cpe == "cpe:2.3:a:busybox:busybox:1.36.1:*:*:*:*:*:*:*"
    assert bb.purl == "pkg:generic/openwrt/busybox@1.36.1-1?arch=mips_24kc"
    assert "/bin/busybox" in [loc.path for loc in bb.locations]  # the signature joined the package
    assert ("busybox", "1.36.1") not in comps
    assert comps[("libopenssl3", "3.0.13-1")].cpe.startswith("cpe:2.3:a:openssl:openssl:3.0.13:")
    assert ("uhttpd", "2023-06-25-34a8a74d-2") in comps
    assert not any(name == "dnsmasq" for name, _ in comps)  # not installed


def test_dpkg_status(tmp_path):
    comps = comps_of({"/var/lib/dpkg/status": DPKG_STATUS,
                      "/etc/os-release": 'ID=debian\nVERSION_ID="12"\n'}, tmp_path)
    ssl = comps[("libssl3", "3.0.11-1~deb12u2")]
    assert ssl.key == "openssl" and ssl.ecosystem == "Debian" and ssl.match_version == "3.0.11"
    assert ssl.purl == "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64"
    assert comps[("libc6", "2.36-9+deb12u4")].key == "glibc"
    assert ("debian", "12") in comps
    assert not any(n == "removed-thing" for n, _ in comps)


def test_apk_installed(tmp_path):
    comps = comps_of({"/lib/apk/db/installed": APK_INSTALLED}, tmp_path)
    musl = comps[("musl", "1.2.4-r2")]
    assert musl.purl == "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64" and musl.key == "musl"
    assert "/lib/ld-musl-x86_64.so.1" in [loc.path for loc in musl.locations]
    assert comps[("busybox", "1.36.1-r5")].match_version == "1.36.1"


def test_python_and_npm(tmp_path):
    comps = comps_of({
        "/usr/lib/python3/site-packages/requests-2.28.1.dist-info/METADATA":
            "Metadata-Version: 2.1\nName: requests\nVersion: 2.28.1\nLicense: Apache 2.0\n\nbody\n",
        "/usr/lib/python3/site-packages/six-1.16.0.egg-info/PKG-INFO": "Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\n",
        "/srv/app/node_modules/lodash/package.json": '{"name": "lodash", "version": "4.17.21", "license": "MIT"}',
        "/srv/app/node_modules/@babel/core/package.json": '{"name": "@babel/core", "version": "7.22.5"}',
        "/srv/app/package-lock.json": json.dumps({"lockfileVersion": 3, "packages": {
            "": {"name": "app", "version": "1.0.0"},
            "node_modules/left-pad": {"version": "1.3.0"}}}),
        "/srv/app/package.json": '{"private": true}',
    }, tmp_path)
    assert comps[("requests", "2.28.1")].purl == "pkg:pypi/requests@2.28.1"
    assert comps[("requests", "2.28.1")].ecosystem == "PyPI"
    assert ("six", "1.16.0") in comps
    assert comps[("lodash", "4.17.21")].purl == "pkg:npm/lodash@4.17.21"
    assert comps[("@babel/core", "7.22.5")].purl == "pkg:npm/%40babel/core@7.22.5"
    assert ("left-pad", "1.3.0") in comps


def test_os_release_openwrt(tmp_path):
    comps = comps_of({"/etc/openwrt_release": "DISTRIB_ID='OpenWrt'\nDISTRIB_RELEASE='19.07.7'\n"}, tmp_path)
    assert comps[("openwrt", "19.07.7")].cpe == "cpe:2.3:o:openwrt:openwrt:19.07.7:*:*:*:*:*:*:*"


# -- BusyBox applets -----------------------------------------------------------------------------------------


def _busybox(version: str, applets: list[str]) -> bytes:
    table = b"\x00".join(a.encode() for a in sorted(applets)) + b"\x00"
    return binary(f"BusyBox v{version} (2016-01-01 00:00:00 UTC) multi-call binary.") + b"\x00" + table + b"\x00\x00"


BASIC = ["[", "cat", "echo", "ls", "mount", "ps", "sh", "test", "true", "umount"]


def test_busybox_applets_from_table(tmp_path):
    comps = comps_of({"/bin/busybox": _busybox("1.24.1", [*BASIC, "ash", "udhcpc"])}, tmp_path)
    bb = comps[("busybox", "1.24.1")]
    assert bb.applets == sorted([*BASIC, "ash", "udhcpc"])
    assert bb.applet_source == "applet table of /bin/busybox"


def test_busybox_applets_from_links(tmp_path):
    comps = comps_of({"/bin/busybox": binary("BusyBox v1.24.1 (2016) multi-call binary.")}, tmp_path,
                     links={"/bin/sh": "busybox", "/sbin/udhcpc": "../bin/busybox", "/bin/other": "/bin/x"})
    assert comps[("busybox", "1.24.1")].applets == ["sh", "udhcpc"]


@pytest.mark.parametrize(
    ("cve", "description", "applets"),
    [
        ("CVE-2016-2147", "", ("udhcpc",)),
        ("CVE-2099-0001", "A flaw in networking/udhcp/dhcpc.c in BusyBox", ("udhcpc",)),
        ("CVE-2099-0002", "stack overflow in ash.c:6030 in busybox", ("ash",)),
        ("CVE-2099-0003", "A use-after-free in Busybox's awk applet", ("awk",)),
        ("CVE-2099-0004", "The DHCP client (udhcpc) in BusyBox", ("udhcpc",)),
        ("CVE-2099-0005", "BusyBox before 1.2 mishandles something in libbb", ()),
    ],
)
def test_cve_applets(cve, description, applets):
    assert busybox.cve_applets(cve, description) == applets


# -- end of life ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "version", "branch"),
    [("openssl", "1.0.2k", "1.0.2"), ("openssl", "0.9.7f", "< 0.9.8"), ("openssl", "3.0.13", "3.0"),
     ("linux", "2.6.31", "< 2.6.32"), ("linux", "4.14.221", "4.14"), ("linux", "5.7.1", "5.7"),
     ("uclibc", "0.9.33.2", "all"), ("uclibc", None, "all"), ("python", "2.7", "2.7"), ("php", "7.4.33", "7.4"),
     ("openwrt", "19.07.7", "< 23.05"), ("jquery", "1.12.4", "< 3.0")],
)
def test_end_of_life(key, version, branch):
    end = eol.check(key, version)
    assert end is not None and end.branch == branch


@pytest.mark.parametrize(
    ("key", "version"),
    [("openssl", "3.5.4"), ("linux", "6.1.90"), ("linux", "6.6.30"), ("busybox", "1.01"), ("python", "3.12"),
     ("openssl", None), ("openwrt", "24.10.0")],
)
def test_not_end_of_life(key, version):
    assert eol.check(key, version) is None


# -- the check's rules ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixtures_db(tmp_path_factory) -> Path:
    nvd = FIXTURES / "nvd-cve-fixtures" / "nvd-2.0"
    if not nvd.is_dir():
        pytest.skip("shared knowledge fixtures not available")
    path = tmp_path_factory.mktemp("db") / "vulndb.sqlite"
    with VulnDB(path) as db:
        db.import_files(sorted(nvd.glob("*.json")))
        # A kernel CVE that is neither known exploited nor critical: the real CVE-2010-3904 record with its
        # CISA fields removed, under another id.
        rec = json.loads((nvd / "CVE-2010-3904.json").read_text())
        for key in ("cisaExploitAdd", "cisaActionDue", "cisaRequiredAction", "cisaVulnerabilityName"):
            rec.pop(key, None)
        rec["id"] = "CVE-2010-39040"
        db.import_bytes("kernel-copy.json", json.dumps(rec).encode())
    return path


def run_check(files, tmp_path, options: ScanOptions, **kw):
    inv = inv_of(files, tmp_path, **kw)
    sections: dict = {}
    findings = list(ComponentsCheck(options).run(inv, sections))
    return findings, sections


def rules_on(findings) -> set[tuple[str, str | None]]:
    return {(f.rule, f.path) for f in findings}


def test_vulnerable_positive(tmp_path, fixtures_db):
    findings, sections = run_check({"/bin/busybox": _busybox("1.24.1", [*BASIC, "udhcpc"])}, tmp_path,
                                   ScanOptions(vulndb=fixtures_db))
    vuln = [f for f in findings if f.rule == "VER-CMP-001"]
    assert [(f.path, f.title) for f in vuln] == [("/bin/busybox", "busybox 1.24.1: CVE-2016-2147")]
    assert vuln[0].severity == "high" and "applet udhcpc compiled in" in vuln[0].evidence
    assert "https://nvd.nist.gov/vuln/detail/CVE-2016-2147" in vuln[0].references
    states = {v["id"]: v["state"] for v in sections["components"][0]["vulnerabilities"]}
    # 1.24.1 is in the ranges of the awk and ash CVEs too, but neither applet is compiled in
    assert states == {"CVE-2016-2147": "in_triage", "CVE-2021-42386": "not_affected", "CVE-2022-48174": "not_affected"}


@pytest.mark.parametrize(
    "files",
    [
        {"/bin/busybox": _busybox("1.37.0", [*BASIC, "udhcpc", "ash"])},  # newer than every range
        {"/bin/busybox": _busybox("1.24.1", BASIC)},  # udhcpc and ash not compiled in
        {"/bin/dropbear": binary("SSH-2.0-dropbear_2022.83")},
        {"/usr/sbin/dnsmasq": binary("dnsmasq-2.90")},  # versionEndExcluding 2.90
        {"/usr/sbin/lighttpd": binary("lighttpd/1.4.50")},  # versionEndExcluding 1.4.50
    ],
)
def test_vulnerable_benign(tmp_path, fixtures_db, files):
    findings, _ = run_check(files, tmp_path, ScanOptions(vulndb=fixtures_db))
    assert [f for f in findings if f.category == "component.vulnerable"] == []


def test_kernel_summary_positive_and_kev(tmp_path, fixtures_db):
    findings, sections = run_check({"/boot/vmlinux": binary("Linux version 2.6.31 (a@b) (gcc 4.3.3) #4")}, tmp_path,
                                   ScanOptions(vulndb=fixtures_db))
    assert rules_on(findings) == {("VER-CMP-001", "/boot/vmlinux"), ("VER-CMP-002", "/boot/vmlinux"),
                                  ("VER-CMP-003", "/boot/vmlinux")}
    kev = next(f for f in findings if f.rule == "VER-CMP-001")
    assert "CVE-2010-3904" in kev.title and "known exploited" in kev.evidence and "confidence low" in kev.evidence
    summary = next(f for f in findings if f.rule == "VER-CMP-002")
    assert "CVE-2010-39040" in summary.evidence
    assert {v["confidence"] for v in sections["components"][0]["vulnerabilities"]} == {"low"}


def test_kernel_summary_benign(tmp_path, fixtures_db):
    findings, _ = run_check({"/boot/vmlinux": binary("Linux version 6.1.90 (a@b) (gcc 12) #1")}, tmp_path,
                            ScanOptions(vulndb=fixtures_db))
    assert findings == []


def test_end_of_life_rule(tmp_path, fixtures_db):
    findings, _ = run_check({"/lib/libcrypto.so.1.0.0": binary("OpenSSL 1.0.2k  26 Jan 2017"),
                             "/lib/libcrypto.so.3": binary("OpenSSL 3.5.4 30 Sep 2025")}, tmp_path,
                            ScanOptions(vulndb=fixtures_db))
    assert rules_on(findings) == {("VER-CMP-003", "/lib/libcrypto.so.1.0.0")}
    assert "branch 1.0.2 end of life (since 2019-12-31" in findings[0].evidence


def test_no_database(tmp_path):
    files = {"/bin/busybox": _busybox("1.24.1", BASIC)}
    findings, sections = run_check(files, tmp_path, ScanOptions(vulndb=tmp_path / "missing.sqlite"))
    assert rules_on(findings) == {("VER-CMP-004", None)}
    assert findings[0].severity == "info"
    assert sections["components"][0]["vulnerabilities_checked"] is False


def test_no_database_benign(tmp_path, fixtures_db):
    findings, _ = run_check({"/etc/motd": "hello\n"}, tmp_path, ScanOptions(vulndb=tmp_path / "missing.sqlite"))
    assert findings == []  # nothing identified: nothing to check
    findings, _ = run_check({"/bin/busybox": _busybox("1.37.0", BASIC)}, tmp_path, ScanOptions(vulndb=fixtures_db))
    assert findings == []


def test_broken_manifest(tmp_path):
    findings, _ = run_check({"/usr/lib/node_modules/x/package.json": "{not json",
                             "/usr/lib/node_modules/y/package.json": '{"name": "y", "version": "1.0.0"}'},
                            tmp_path, ScanOptions(vulndb=tmp_path / "none"))
    assert ("VER-CMP-005", "/usr/lib/node_modules/x/package.json") in rules_on(findings)
    assert ("VER-CMP-005", "/usr/lib/node_modules/y/package.json") not in rules_on(findings)


def test_broken_vex_and_database(tmp_path, fixtures_db):
    bad_vex = tmp_path / "vex.json"
    bad_vex.write_text('{"hello": 1}')
    bad_db = tmp_path / "bad.sqlite"
    bad_db.write_bytes(b"this is not sqlite" * 100)
    files = {"/bin/busybox": _busybox("1.24.1", BASIC)}
    findings, _ = run_check(files, tmp_path, ScanOptions(vulndb=bad_db, vex=(bad_vex,)))
    assert rules_on(findings) == {("VER-CMP-006", None), ("VER-CMP-007", None)}
    findings, _ = run_check(files, tmp_path, ScanOptions(vulndb=fixtures_db))
    assert not rules_on(findings) & {("VER-CMP-006", None), ("VER-CMP-007", None)}


def test_components_section_contract(tmp_path, fixtures_db):
    _, sections = run_check({"/usr/sbin/dropbear": binary("SSH-2.0-dropbear_2016.72"),
                             "/lib/libuClibc-0.9.33.2.so": b"\x00\x01\x02junk\x00"}, tmp_path,
                            ScanOptions(vulndb=fixtures_db))
    by_name = {c["name"]: c for c in sections["components"]}
    assert set(by_name) == {"dropbear", "uclibc"}
    for rec in sections["components"]:
        assert {"name", "version", "purl", "cpe", "paths", "evidence", "confidence", "container", "source"} <= set(rec)
    assert by_name["dropbear"]["cpe"] == "cpe:2.3:a:dropbear_ssh_project:dropbear_ssh:2016.72:*:*:*:*:*:*:*"
    assert [v["id"] for v in by_name["dropbear"]["vulnerabilities"]] == ["CVE-2016-7406", "CVE-2018-15599"]
    assert [v["id"] for v in by_name["uclibc"]["vulnerabilities"]] == ["CVE-2017-9728"]
    assert by_name["uclibc"]["source"] == "filename" and by_name["uclibc"]["end_of_life"]["branch"] == "all"


# -- real images ---------------------------------------------------------------------------------------------


@pytest.fixture
def scan_components(monkeypatch, run_scan, fixtures_db):
    def _scan(rel: str, **opts):
        target = corpus(rel)
        monkeypatch.setattr(registry, "CHECKS", (ComponentsCheck(ScanOptions(vulndb=fixtures_db, **opts)),))
        t0 = time.monotonic()
        report = run_scan(target)
        return report, time.monotonic() - t0

    return _scan


def _names(report):
    return {(c["name"], c["version"]) for c in report["components"]}


def _findings(report):
    return {(f["rule"], f["path"], f["title"]) for f in report["findings"] if f["rule"].startswith("VER-CMP")}


@pytest.mark.corpus
def test_tplink_mr3020(scan_components):
    report, _ = scan_components("firmware/tplink-mr3020v1-3.17.2.bin")
    assert _names(report) == {
        ("busybox", "1.01"), ("linux", "2.6.31"), ("uclibc", "0.9.30"), ("u-boot", "1.1.4"), ("hostapd", "0.5.9"),
        ("wpa_supplicant", "0.5.9"), ("ppp", "2.4.3"), ("iptables", "1.4.5"), ("xl2tpd", "1.1.12"),
        ("usb_modeswitch", "1.1.9"), ("wireless-tools", "29"), ("zlib", "1.1.4"),
    }
    comps = {c["name"]: c for c in report["components"]}
    assert "/bin/busybox" in comps["busybox"]["paths"] and "udhcpc" in comps["busybox"]["applets"]
    assert "ash" not in comps["busybox"]["applets"] and "msh" in comps["busybox"]["applets"]
    assert comps["linux"]["paths"][0] == "/lzma.uncompressed" and comps["linux"]["path_count"] >= 60
    assert comps["u-boot"]["container"] == ["tplink-mr3020v1-3.17.2.bin"] or "/0x0-0x3cc0.unknown" in comps["u-boot"]["paths"]
    assert comps["zlib"]["paths"] == ["/usr/bin/httpd"]
    assert comps["uclibc"]["depends_on"] == [] and comps["busybox"]["depends_on"] == ["uclibc@0.9.30"]
    assert _findings(report) == {
        ("VER-CMP-001", "/bin/busybox", "busybox 1.01: CVE-2016-2147"),
        ("VER-CMP-001", "/lzma.uncompressed", "linux 2.6.31: CVE-2010-3904 (known exploited)"),
        ("VER-CMP-003", "/lzma.uncompressed", "linux 2.6.31 is past its end of life"),
        ("VER-CMP-003", "/lib/ld-uClibc-0.9.30.so", "uclibc 0.9.30 is past its end of life"),
        ("VER-CMP-002", "/lzma.uncompressed", "1 further Linux kernel vulnerabilities match 2.6.31"),
    }
    states = {v["id"]: v["state"] for v in comps["busybox"]["vulnerabilities"]}
    assert states == {"CVE-2016-2147": "in_triage", "CVE-2022-48174": "not_affected"}  # msh, no ash


@pytest.mark.corpus
def test_broadcom_bcm63xx(scan_components):
    report, _ = scan_components("firmware/broadcom-bcm63xx-squashfs-v2.bin")
    assert _names(report) == {
        ("busybox", "1.00"), ("linux", "2.6.8.1"), ("uclibc", None), ("dropbear", "0.46"), ("openssl", "0.9.7f"),
        ("ppp", "2.4.1"), ("iptables", "1.2.11"), ("ebtables", "2.0.6"), ("ipsec-tools", "0.5.1"),
        ("net-snmp", "5.0.8"), ("udhcp", "0.9.6"),
    }
    comps = {c["name"]: c for c in report["components"]}
    assert comps["dropbear"]["paths"] == ["/bin/cfm"]  # linked into the configuration manager
    assert comps["openssl"]["paths"] == ["/lib/libcrypto.so.0.9.7", "/lib/libssl.so.0.9.7"]
    assert set(comps["uclibc"]["paths"]) == {"/lib/ld-uClibc.so.0", "/lib/libc.so.0"}
    assert "udhcpc" not in comps["busybox"]["applets"]
    assert _findings(report) == {
        ("VER-CMP-001", "/bin/cfm", "dropbear 0.46: CVE-2016-7406"),
        ("VER-CMP-001", "/bin/cfm", "dropbear 0.46: CVE-2018-15599"),
        ("VER-CMP-001", "/lib/modules/2.6.8.1/extra/adsldd.ko", "linux 2.6.8.1: CVE-2010-3904 (known exploited)"),
        ("VER-CMP-003", "/lib/modules/2.6.8.1/extra/adsldd.ko", "linux 2.6.8.1 is past its end of life"),
        ("VER-CMP-003", "/lib/libcrypto.so.0.9.7", "openssl 0.9.7f is past its end of life"),
        ("VER-CMP-003", "/lib/ld-uClibc.so.0", "uclibc (version unknown) is past its end of life"),
        ("VER-CMP-002", "/lib/modules/2.6.8.1/extra/adsldd.ko", "1 further Linux kernel vulnerabilities match 2.6.8.1"),
    }
    states = {v["id"]: v["state"] for v in comps["busybox"]["vulnerabilities"]}
    assert states == {"CVE-2016-2147": "not_affected", "CVE-2022-48174": "not_affected"}


@pytest.mark.corpus
def test_alcatel_overlay_has_no_components(scan_components):
    """The writable overlay holds configuration only (no programs, no opkg database)."""
    report, _ = scan_components("firmware/alcatel-g010s-a-mtd4.jffs2")
    assert report["components"] == []
    assert _findings(report) == set()


def test_section_feeds_the_backdoor_catalogue(monkeypatch, run_scan, tmp_path):
    """The backdoors check compares catalogue package versions (xz-utils 5.6.0/5.6.1, RomPager < 4.34) with this
    section, so components runs before it."""
    from veracity.checks.backdoors import BackdoorsCheck

    root = tmp_path / "fs"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/xz").write_bytes(binary("xz (XZ Utils) 5.6.1"))
    monkeypatch.setattr(registry, "CHECKS", (ComponentsCheck(ScanOptions(vulndb=tmp_path / "none")), BackdoorsCheck))
    report = run_scan(root)
    assert ("xz-utils", "5.6.1") in {(c["name"], c["version"]) for c in report["components"]}
    assert [(f["rule"], f["path"], f["backdoor_id"]) for f in report["findings"] if f["category"] == "backdoor.known"] == [
        ("VER-BKD-007", "/usr/bin/xz", "xz-utils-liblzma-2024")]


def test_path_signatures_found_in_one_pass_as_by_each_regex(tmp_path, monkeypatch):
    """The one Hyperscan pass over every path finds the files whose names carry a version exactly as one regex
    search per signature per file would: on look-alikes, on non-ASCII names and on names holding a newline."""
    paths = ["/lib/libuClibc-0.9.33.2.so", "/lib/ld-uClibc.so.0", "/lib/libc.so.0", "/lib/libc-2.31.so",
             "/usr/lib/libxml2.so.2.9.14", "/usr/lib/libxml2.so.2.9.14.bak", "/usr/lib/python3.11/os.py",
             "/opt/usr/lib/python3.11/os.py", "/usr/sbin/uhttpd", "/usr/sbin/uhttpd2", "/lib/ld-musl-armhf.so.1",
             "/lib/liblzma.so.5.4.1", "/usr/lib/perl5/5.36.0/strict.pm", "/x/libc.so.0\n/y", "/lib/é/libc.so.0",
             "/lib/libncursesw.so.6.4", "/lib/libreadline.so.8.2", "/lib/libiw.so.30", "/lib/notlibc.so.0"]
    inv = inv_of({p: b"\x00\x01\x02 no banner here \x00" for p in paths}, tmp_path)

    def found() -> list[tuple[str, str, str | None]]:
        return sorted((h.item.node.path, h.component, h.version) for h in signatures.Identifier(inv).hits())

    one_pass = found()
    monkeypatch.setattr(signatures, "_named", lambda items, sigs: None)
    assert one_pass == found()
    names = {p for p, _c, _v in one_pass}
    assert "/lib/libuClibc-0.9.33.2.so" in names and "/lib/é/libc.so.0" in names
    assert "/usr/sbin/uhttpd2" not in names and "/opt/usr/lib/python3.11/os.py" not in names
