"""SARIF 2.1.0 output: validated against the official OASIS schema, with what GitHub and DefectDojo read."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from veracity import report as report_mod
from veracity.findings import Finding, Rule
from veracity.render import sarif
from veracity.scan import scan
from veracity.standards import conformance

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())

KEY = Rule("VER-KEY-001", "key.private", "high", "Private key shipped in the image", "A private key.",
           ("EN303645:5.4-3",), ("https://example.org/keys",))
EMPTY = Rule("VER-TST-003", "credential.empty", "critical", "Login account without a password",
             standards=("EN303645:5.1-1",))
LISTENER = Rule("VER-TST-004", "service.listener", "low", "Listener started at boot")
BLOB = Rule("VER-TST-006", "analysis.incomplete", "info", "Unrecognised region kept as a blob")


def make_report(findings: list[Finding], **sections) -> dict:
    """A schema-valid report around hand-made findings (no scan)."""
    ordered = sorted({f.fingerprint: f for f in findings}.values(), key=Finding.sort_key)
    by_sev = {s: 0 for s in ("critical", "high", "medium", "low", "info")}
    by_cat: dict[str, int] = {}
    for f in ordered:
        by_sev[f.severity] += 1
        by_cat[f.category] = by_cat.get(f.category, 0) + 1
    report = {
        "schema_version": "1",
        "tool": {"name": "veracity", "version": "0.1.0", "rules_version": "0.1.0+test"},
        "target": {"name": "fw.bin", "path": "/tmp/fw.bin", "sha256": "a" * 64, "size": 1234, "kind": "firmware"},
        "started_at": "2025-01-01T00:00:00Z",
        "duration_s": 1.5,
        "extraction": {"files": 3, "bytes": 100, "depth": 2, "containers": [], "errors": []},
        "findings": [f.to_dict() for f in ordered],
        "accounts": [],
        "services": [],
        "endpoints": [],
        "components": [],
        "conformance": [],
        "checks": [{"id": "keys", "status": "ran", "reason": None}],
        "summary": {"by_severity": by_sev, "by_category": dict(sorted(by_cat.items()))},
    }
    report.update(sections)
    assert report_mod.validate(report) == [], report_mod.validate(report)
    return report


def _findings() -> list[Finding]:
    return [
        KEY.finding(path="/etc/ssl/private/server key #1.pem", container=("fw.bin", "squashfs@0x120200"),
                    evidence="-----BEGIN RSA PRIVATE KEY----- (redacted)", line=1),
        EMPTY.finding(path="/etc/shadow", container=("fw.bin", "squashfs@0x120200", "/usr/lib/x.tar.gz", "tar.gzip@0x0"),
                      evidence="root::0:0", line=3),
        LISTENER.finding(path="/usr/sbin/d\udc80mon", container=("fw.bin", "squashfs@0x120200"),
                         evidence="listens on 9999/tcp", offset=4096),
        BLOB.finding(path=None, container=("fw.bin",), evidence="0x0-0x200 not recognised"),
    ]


def _validate(log: dict) -> None:
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]]


def test_schema_copy_is_the_official_one():
    assert SCHEMA["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"version": "2.1.0", "runs": [{"tool": {}}]}, SCHEMA, cls=jsonschema.Draft4Validator)


def test_handmade_report_validates_and_carries_what_consumers_read():
    report = make_report(_findings())
    report["conformance"] = conformance(report["findings"], report["checks"], ("etsi",))
    text = sarif.render(report)
    log = json.loads(text)
    _validate(log)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "veracity" and driver["version"] == "0.1.0"
    rules = {r["id"]: r for r in driver["rules"]}
    assert sorted(rules) == ["VER-KEY-001", "VER-TST-003", "VER-TST-004", "VER-TST-006"]
    key = rules["VER-KEY-001"]
    assert key["help"]["text"] and key["help"]["markdown"]
    assert key["properties"]["security-severity"] == "8.0"
    assert {"security", "key.private", "CWE-321", "external/cwe/cwe-321", "EN303645:5.4-3"} <= set(key["properties"]["tags"])
    assert rules["VER-TST-003"]["properties"]["security-severity"] == "9.5"
    assert "CWE-258" in rules["VER-TST-003"]["properties"]["tags"]
    assert "security-severity" not in rules["VER-TST-006"]["properties"]
    assert rules["VER-TST-003"]["defaultConfiguration"]["level"] == "error"
    assert rules["VER-TST-004"]["defaultConfiguration"]["level"] == "note"

    results = run["results"]
    assert len(results) == 4
    for res, f in zip(results, report["findings"], strict=True):
        assert res["ruleId"] == f["rule"]
        assert driver["rules"][res["ruleIndex"]]["id"] == f["rule"]
        assert res["partialFingerprints"] == {"veracity/v1": f["fingerprint"]}
        assert res["locations"][0]["properties"]["container"] == f["container"]
    by_rule = {r["ruleId"]: r for r in results}

    empty = by_rule["VER-TST-003"]["locations"][0]["physicalLocation"]
    assert empty["artifactLocation"]["uri"] == "etc/shadow"
    assert empty["region"] == {"startLine": 3}
    # the container chain as nested artifacts: fw.bin > squashfs@0x120200 > /usr/lib/x.tar.gz > tar.gzip@0x0 > etc/shadow
    arts = run["artifacts"]
    chain = []
    i = empty["artifactLocation"]["index"]
    while i is not None:
        chain.append(arts[i])
        i = arts[i].get("parentIndex")
    assert [a["location"]["uri"] for a in reversed(chain)] == [
        "fw.bin", "squashfs@0x120200", "usr/lib/x.tar.gz", "tar.gzip@0x0", "etc/shadow"]
    assert chain[-1]["hashes"] == {"sha-256": "a" * 64} and chain[-1]["roles"] == ["analysisTarget"]
    assert chain[-2]["offset"] == 0x120200 and chain[-2]["properties"]["format"] == "squashfs"

    key_loc = by_rule["VER-KEY-001"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert key_loc == "etc/ssl/private/server%20key%20%231.pem"
    listener = by_rule["VER-TST-004"]
    assert listener["locations"][0]["physicalLocation"]["region"] == {"byteOffset": 4096}
    assert listener["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "usr/sbin/d%80mon"
    assert listener["level"] == "note"
    blob = by_rule["VER-TST-006"]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert blob["uri"] == "fw.bin"
    assert "squashfs@0x120200" in by_rule["VER-KEY-001"]["message"]["text"]

    props = run["properties"]
    assert {r["clause"] for r in props["conformance"]} >= {"EN303645:5.4-3"}
    assert text.isascii()


def test_empty_report_is_valid_sarif():
    log = json.loads(sarif.render(make_report([])))
    _validate(log)
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []


def test_rule_not_in_registry_falls_back_to_the_finding():
    odd = Rule("VER-ZZZ-999", "code.download-exec", "medium", "Downloads and runs a script")
    log = json.loads(sarif.render(make_report([odd.finding(path="/etc/rc.local", evidence="wget | sh")])))
    _validate(log)
    [rule] = log["runs"][0]["tool"]["driver"]["rules"]
    assert rule["shortDescription"]["text"] == "Downloads and runs a script"
    assert "CWE-494" in rule["properties"]["tags"] and rule["properties"]["security-severity"] == "5.5"


def test_scanned_report_is_valid_sarif(tmp_path):
    root = tmp_path / "img" / "etc"
    root.mkdir(parents=True)
    (root / "app.conf").write_text('password = "Str0ngButHardcoded!"\n')
    report = scan(tmp_path / "img", workdir=tmp_path / "w", cache_path=tmp_path / "c.sqlite")
    report["conformance"] = conformance(report["findings"], report["checks"], ())
    log = json.loads(sarif.render(report))
    _validate(log)
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]]
    assert "etc/app.conf" in uris


def test_rule_security_severity_is_the_worst_in_the_report():
    low = Rule("VER-TST-010", "service.listener", "low", "Listener")
    findings = [low.finding(path="/a", evidence="1"), low.finding(path="/b", evidence="2", severity="high")]
    log = json.loads(sarif.render(make_report(findings)))
    _validate(log)
    [rule] = log["runs"][0]["tool"]["driver"]["rules"]
    assert rule["properties"]["security-severity"] == "8.0"
    assert sorted(r["level"] for r in log["runs"][0]["results"]) == ["error", "note"]


# -- the real images -------------------------------------------------------------------------------------------

# (image, clause, rule, path): a finding of `rule` on `path` must make `clause` fail, established by hand:
# the Alcatel JFFS2 ships two dropbear host keys and a root password from public default lists; the TP-Link
# MR3020 has a default root password and five login accounts with empty passwords; the Broadcom image ships a
# publicly known RSA host key and a root shell on the serial console.
CORPUS_PINS = [
    ("alcatel-g010s-a-mtd4.jffs2", "EN303645:5.4-3", "VER-KEY-001", "/etc/dropbear/dropbear_dss_host_key"),
    ("alcatel-g010s-a-mtd4.jffs2", "EN303645:5.4-3", "VER-KEY-001", "/etc/dropbear/dropbear_rsa_host_key"),
    ("alcatel-g010s-a-mtd4.jffs2", "EN303645:5.1-1", "VER-ACC-004", "/etc/shadow"),
    ("tplink-mr3020v1-3.17.2.bin", "EN303645:5.1-1", "VER-ACC-004", "/etc/shadow"),
    ("tplink-mr3020v1-3.17.2.bin", "TS33117:4.2.3.4.2.1", "VER-ACC-003", "/etc/shadow"),
    ("tplink-mr3020v1-3.17.2.bin", "TS33117:4.2.3.4.2.3", "VER-ACC-004", "/etc/shadow"),
    ("broadcom-bcm63xx-squashfs-v2.bin", "EN303645:5.4-4", "VER-KEY-006", "/etc/rsa_host_key"),
    ("broadcom-bcm63xx-squashfs-v2.bin", "GDSI:7", "VER-KEY-006", "/etc/rsa_host_key"),
    ("broadcom-bcm63xx-squashfs-v2.bin", "EN303645:5.6-4", "VER-SVC-005", "/etc/inittab"),
]


@pytest.mark.corpus
@pytest.mark.parametrize("image", sorted({p[0] for p in CORPUS_PINS}))
def test_real_images_give_valid_sarif_and_pinned_verdicts(image, run_scan):
    from conftest import corpus

    report = run_scan(corpus(f"firmware/{image}"))
    report["conformance"] = conformance(report["findings"], report["checks"], ())
    assert report_mod.validate(report) == []
    log = json.loads(sarif.render(report))
    _validate(log)
    assert len(log["runs"][0]["results"]) == len(report["findings"])
    by_clause = {r["clause"]: r for r in report["conformance"]}
    for img, clause, rule, path in CORPUS_PINS:
        if img != image:
            continue
        fps = {f["fingerprint"] for f in report["findings"] if f["rule"] == rule and f["path"] == path}
        assert fps, f"{image}: no {rule} on {path}"
        assert by_clause[clause]["status"] == "fail" and fps <= set(by_clause[clause]["findings"]), (clause, rule, path)
    # an organisational clause is never decided from an image
    assert by_clause["EN303645:5.2-1"]["status"] == "not-assessed"
