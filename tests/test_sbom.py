"""SBOM output (CycloneDX 1.6 validated strictly against cyclonedx-python-lib's shipped schema, SPDX 2.3 against
the SPDX 2.3 JSON schema in tests/data) and VEX round trips."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import corpus
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from veracity.checks import registry
from veracity.checks.components import ComponentsCheck
from veracity.components.vulndb import VulnDB
from veracity.options import ScanOptions
from veracity.render import cyclonedx, spdx

DATA = Path(__file__).parent / "data" / "components"
NVD = Path(__file__).resolve().parents[2] / "shared" / "knowledge" / "sources" / "nvd-cve-fixtures" / "nvd-2.0"
SPDX_SCHEMA = json.loads((DATA / "spdx-2.3.schema.json").read_text())


def valid_cyclonedx(text: str) -> dict:
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, str(error)
    return json.loads(text)


def valid_spdx(text: str) -> dict:
    doc = json.loads(text)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft201909Validator(SPDX_SCHEMA).iter_errors(doc)]
    assert errors == []
    return doc


@pytest.fixture(scope="module")
def db_path(tmp_path_factory) -> Path:
    if not NVD.is_dir():
        pytest.skip("shared knowledge fixtures not available")
    path = tmp_path_factory.mktemp("db") / "vulndb.sqlite"
    with VulnDB(path) as d:
        d.import_files(sorted(NVD.glob("*.json")))
    return path


def _bin(text: str) -> bytes:
    return b"\x00\x01\x02\x03binary\x00" + text.encode() + b"\x00tail\x00"


@pytest.fixture
def rootfs(tmp_path) -> Path:
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "lib").mkdir()
    (root / "usr/lib/opkg").mkdir(parents=True)
    applets = b"\x00".join(sorted([b"[", b"cat", b"echo", b"ls", b"mount", b"ps", b"sh", b"test", b"udhcpc"]))
    (root / "bin/busybox").write_bytes(_bin("BusyBox v1.24.1 (2016-01-01) multi-call binary.") + applets + b"\x00\x00")
    (root / "bin/dropbear").write_bytes(_bin("SSH-2.0-dropbear_2016.72"))
    (root / "lib/libuClibc-0.9.33.2.so").write_bytes(_bin("uClibc"))
    (root / "usr/lib/opkg/status").write_text(
        "Package: dnsmasq\nVersion: 2.80-1\nDepends: libc\nStatus: install user installed\nArchitecture: mips\n")
    return root


def scan_with(monkeypatch, run_scan, target: Path, **options) -> dict:
    monkeypatch.setattr(registry, "CHECKS", (ComponentsCheck(ScanOptions(**options)),))
    return run_scan(target)


def test_cyclonedx_and_spdx_validate(monkeypatch, run_scan, rootfs, db_path):
    report = scan_with(monkeypatch, run_scan, rootfs, vulndb=db_path)
    bom = valid_cyclonedx(cyclonedx.render(report))
    assert bom["specVersion"] == "1.6"
    assert bom["metadata"]["component"]["name"] == "rootfs"
    refs = {c["bom-ref"]: c for c in bom["components"]}
    assert set(refs) == {"busybox@1.24.1", "dropbear@2016.72", "uclibc@0.9.33.2", "dnsmasq@2.80-1"}
    assert refs["dropbear@2016.72"]["purl"] == "pkg:generic/dropbear@2016.72"
    assert refs["dropbear@2016.72"]["cpe"] == "cpe:2.3:a:dropbear_ssh_project:dropbear_ssh:2016.72:*:*:*:*:*:*:*"
    assert refs["dropbear@2016.72"]["evidence"]["occurrences"] == [{"location": "/bin/dropbear", "offset": 19}]
    assert refs["dropbear@2016.72"]["hashes"][0]["alg"] == "SHA-256"
    assert refs["dnsmasq@2.80-1"]["evidence"]["identity"][0]["methods"][0]["technique"] == "manifest-analysis"
    root_deps = next(d for d in bom["dependencies"] if d["ref"] == "veracity:target")
    assert set(root_deps["dependsOn"]) == set(refs)
    vulns = {(v["id"], v["affects"][0]["ref"]): v for v in bom["vulnerabilities"]}
    assert set(vulns) == {
        ("CVE-2016-2147", "busybox@1.24.1"), ("CVE-2021-42386", "busybox@1.24.1"), ("CVE-2022-48174", "busybox@1.24.1"),
        ("CVE-2016-7406", "dropbear@2016.72"), ("CVE-2018-15599", "dropbear@2016.72"),
        ("CVE-2017-9728", "uclibc@0.9.33.2"), ("CVE-2023-28450", "dnsmasq@2.80-1"),
    }
    assert vulns[("CVE-2016-2147", "busybox@1.24.1")]["analysis"]["state"] == "in_triage"
    awk = vulns[("CVE-2021-42386", "busybox@1.24.1")]["analysis"]
    assert awk["state"] == "not_affected" and awk["justification"] == "code_not_present"
    assert vulns[("CVE-2016-7406", "dropbear@2016.72")]["ratings"][0]["score"] == 9.8

    doc = valid_spdx(spdx.render(report))
    assert doc["spdxVersion"] == "SPDX-2.3"
    names = {p["name"]: p for p in doc["packages"]}
    assert set(names) == {"rootfs", "busybox", "dropbear", "uclibc", "dnsmasq"}
    refs = {r["referenceType"]: r["referenceLocator"] for r in names["dropbear"]["externalRefs"] if r["referenceType"] != "advisory"}
    assert refs == {"purl": "pkg:generic/dropbear@2016.72",
                    "cpe23Type": "cpe:2.3:a:dropbear_ssh_project:dropbear_ssh:2016.72:*:*:*:*:*:*:*"}
    advisories = {r["referenceLocator"] for r in names["busybox"]["externalRefs"] if r["referenceType"] == "advisory"}
    assert advisories == {"https://nvd.nist.gov/vuln/detail/CVE-2016-2147"}  # not the applets not compiled in
    assert {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-Target"} in doc["relationships"]
    assert sum(r["relationshipType"] == "CONTAINS" for r in doc["relationships"]) == 4


def test_renderers_are_pure_and_deterministic(monkeypatch, run_scan, rootfs, db_path):
    report = scan_with(monkeypatch, run_scan, rootfs, vulndb=db_path)
    copy = json.loads(json.dumps(report))
    assert cyclonedx.render(report) == cyclonedx.render(copy)
    assert spdx.render(report) == spdx.render(copy)
    assert report == copy


def test_empty_report_renders(monkeypatch, run_scan, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty/readme.txt").write_text("nothing here\n")
    report = scan_with(monkeypatch, run_scan, tmp_path / "empty", vulndb=tmp_path / "none.sqlite")
    assert valid_cyclonedx(cyclonedx.render(report)).get("components", []) == []
    assert len(valid_spdx(spdx.render(report))["packages"]) == 1


def _cdx_vex(tmp_path: Path, cve: str, refs: list[str]) -> Path:
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "vulnerabilities": [{
        "id": cve, "analysis": {"state": "not_affected", "justification": "requires_configuration",
                                "detail": "udhcpc is never started on this product"},
        "affects": [{"ref": r} for r in refs]}]}
    path = tmp_path / "vex.cdx.json"
    path.write_text(json.dumps(doc))
    return path


def test_cyclonedx_vex_marks_not_affected(monkeypatch, run_scan, rootfs, db_path, tmp_path):
    vex = _cdx_vex(tmp_path, "CVE-2016-2147", ["pkg:generic/busybox@1.24.1"])
    report = scan_with(monkeypatch, run_scan, rootfs, vulndb=db_path, vex=(vex,))
    assert not [f for f in report["findings"] if "CVE-2016-2147" in f["title"]]
    assert sorted(f["title"] for f in report["findings"] if f["rule"] == "VER-CMP-001") == [
        "dnsmasq 2.80-1: CVE-2023-28450", "dropbear 2016.72: CVE-2016-7406", "dropbear 2016.72: CVE-2018-15599",
        "uclibc 0.9.33.2: CVE-2017-9728"]
    bom = valid_cyclonedx(cyclonedx.render(report))
    v = next(v for v in bom["vulnerabilities"] if v["id"] == "CVE-2016-2147")
    assert v["analysis"] == {"state": "not_affected", "justification": "requires_configuration",
                             "detail": "VEX vex.cdx.json: udhcpc is never started on this product"}
    # The CycloneDX output is itself a VEX document: fed back, it keeps the analysis
    out = tmp_path / "out.cdx.json"
    out.write_text(cyclonedx.render(report))
    again = scan_with(monkeypatch, run_scan, rootfs, vulndb=db_path, vex=(out,))
    assert not [f for f in again["findings"] if "CVE-2016-2147" in f["title"]]


def test_vex_for_another_component_does_not_apply(monkeypatch, run_scan, rootfs, db_path, tmp_path):
    vex = _cdx_vex(tmp_path, "CVE-2016-2147", ["pkg:generic/dropbear@2016.72"])
    report = scan_with(monkeypatch, run_scan, rootfs, vulndb=db_path, vex=(vex,))
    assert [f["path"] for f in report["findings"] if "CVE-2016-2147" in f["title"]] == ["/bin/busybox"]


def test_openvex(monkeypatch, run_scan, rootfs, db_path, tmp_path):
    doc = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.invalid/vex-1", "statements": [
        {"vulnerability": {"name": "CVE-2016-7406"}, "products": [{"@id": "pkg:generic/dropbear@2016.72"}],
         "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
        {"vulnerability": "CVE-2018-15599", "status": "affected"}]}
    path = tmp_path / "vex.openvex.json"
    path.write_text(json.dumps(doc))
    report = scan_with(monkeypatch, run_scan, rootfs, vulndb=db_path, vex=(path,))
    titles = {f["title"] for f in report["findings"] if f["rule"] == "VER-CMP-001"}
    assert "dropbear 2016.72: CVE-2016-7406" not in titles
    assert "dropbear 2016.72: CVE-2018-15599" in titles
    states = {v["id"]: v["state"] for c in report["components"] for v in c["vulnerabilities"]}
    assert states["CVE-2016-7406"] == "not_affected" and states["CVE-2018-15599"] == "exploitable"
    valid_cyclonedx(cyclonedx.render(report))


@pytest.mark.corpus
def test_real_image_sboms_validate(monkeypatch, run_scan, db_path):
    report = scan_with(monkeypatch, run_scan, corpus("firmware/tplink-mr3020v1-3.17.2.bin"), vulndb=db_path)
    bom = valid_cyclonedx(cyclonedx.render(report))
    assert {c["name"] for c in bom["components"]} >= {"busybox", "linux", "uclibc", "u-boot"}
    assert bom["metadata"]["component"]["hashes"][0]["content"] == (
        "f05cedd0002f9c235c78ff93f4e3cefe82debba951e4abc721d7097d2936ae27")
    doc = valid_spdx(spdx.render(report))
    assert {p["name"] for p in doc["packages"]} >= {"busybox", "linux", "uclibc"}
