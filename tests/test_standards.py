"""Standards profiles and clause-by-clause conformance."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from veracity import report as report_mod
from veracity import standards
from veracity.checks import registry
from veracity.findings import CATEGORIES, Rule
from veracity.scan import scan
from veracity.standards import RuleSource, UnknownStandard, assess, conformance, profiles, resolve
from veracity.standards.cli import describe, register

ALL_CLAUSES = [(p, c) for p in profiles() for c in p.clauses]


# -- the data ------------------------------------------------------------------------------------------------


def test_three_profiles_ship_with_their_sizes():
    ids = [p.id for p in profiles()]
    assert ids == ["EN303645", "TS33117", "GDSI"]
    by_id = {p.id: p for p in profiles()}
    assert len(by_id["EN303645"].clauses) == 67  # every provision of V2.1.1 clauses 5 and 6
    assert len(by_id["GDSI"].clauses) == 8
    assert len(by_id["TS33117"].clauses) == 72  # every clause of the 33117-g80 general catalogue test stubs
    for p in profiles():
        assert p.url.startswith("https://") and p.source and p.version


def test_clauses_are_well_formed():
    seen = set()
    for p, c in ALL_CLAUSES:
        assert c.id not in seen, c.id
        seen.add(c.id)
        assert c.id.startswith(p.id + ":")
        assert c.static in ("yes", "partly", "no")
        assert c.title and c.title[0].isupper() or c.title[0].isdigit(), c.id
        assert set(c.categories) <= set(CATEGORIES), c.id
        if c.static != "yes":
            assert c.reason, f"{c.id}: a clause not fully decidable must say why"


def test_key_clauses_are_marked_static():
    idx = standards.clause_index()
    for cid in ("EN303645:5.1-1", "EN303645:5.4-3", "EN303645:5.6-1", "TS33117:4.2.3.4.2.2",
                "TS33117:4.2.3.4.2.3", "TS33117:4.3.2.1", "GDSI:7"):
        assert idx[cid].static == "yes", cid
    assert idx["EN303645:5.2-1"].static == "no"
    assert idx["TS33117:4.4.4"].static == "no"
    assert idx["GDSI:6"].static == "no"


def test_every_standard_a_rule_names_is_a_clause_of_a_profile():
    idx = standards.clause_index()
    for rule in registry.all_rules():
        for s in rule.standards:
            assert s in idx, f"{rule.id} names {s}, which no profile has"


def test_every_rule_a_clause_names_exists():
    known = {r.id for r in registry.all_rules()}
    for _, c in ALL_CLAUSES:
        assert set(c.rules) <= known, c.id


def test_resolve_by_id_alias_and_comma_list():
    assert [p.id for p in resolve(("etsi",))] == ["EN303645"]
    assert [p.id for p in resolve(("GDSI", "3gpp"))] == ["TS33117", "GDSI"]
    assert [p.id for p in resolve(("en303645,ts-33-117",))] == ["EN303645", "TS33117"]
    assert [p.id for p in resolve(())] == ["EN303645", "TS33117", "GDSI"]
    assert [p.id for p in resolve(("all",))] == ["EN303645", "TS33117", "GDSI"]
    with pytest.raises(UnknownStandard) as exc:
        resolve(("iso27001",))
    assert "iso27001" in str(exc.value) and "EN303645" in exc.value.diagnostics()


# -- the verdicts, for every clause of every profile ----------------------------------------------------------


class _Probe:
    ID = "probe"


def _probe_rule(clause_id: str, category: str = "config.insecure", severity: str = "high") -> Rule:
    return Rule("VER-TST-001", category, severity, "probe", standards=(clause_id,))


@pytest.mark.parametrize("profile,clause", ALL_CLAUSES, ids=[c.id for _, c in ALL_CLAUSES])
def test_each_clause_passes_fails_and_is_not_assessed(profile, clause):
    rule = _probe_rule(clause.id)
    src = [RuleSource(rule, "probe")]
    finding = rule.finding(path="/etc/x", container=("img",), evidence="e")
    ran = [{"id": "probe", "status": "ran", "reason": None}]

    [row] = assess([finding], ran, src, [_only(profile, clause)])
    assert row["status"] == "fail" and row["findings"] == [finding.fingerprint]
    assert row["standard"] == profile.id and row["clause"] == clause.id and row["title"] == clause.title

    [row] = assess([], ran, src, [_only(profile, clause)])
    if clause.static == "no":
        assert row["status"] == "not-assessed" and row["reason"].startswith("not decidable from an image")
        return
    assert row["status"] == "pass", row
    assert "no finding from probe" in row["reason"]
    if clause.static == "partly":
        assert "static part only" in row["reason"]

    [row] = assess([], [{"id": "probe", "status": "not-applicable", "reason": "no shadow file"}], src,
                   [_only(profile, clause)])
    assert row["status"] == "not-assessed" and "not applicable: probe (no shadow file)" in row["reason"]
    [row] = assess([], [{"id": "probe", "status": "failed", "reason": "boom"}], src, [_only(profile, clause)])
    assert row["status"] == "not-assessed" and "failed: probe" in row["reason"]
    [row] = assess([], [], src, [_only(profile, clause)])
    assert row["status"] == "not-assessed" and "did not run: probe" in row["reason"]
    [row] = assess([], ran, [], [_only(profile, clause)])
    assert row["status"] == "not-assessed" and row["reason"] == "no check of this version supports this clause"


def _only(profile, clause):
    from dataclasses import replace

    return replace(profile, clauses=(clause,))


@pytest.mark.parametrize(
    "profile,clause",
    [(p, c) for p, c in ALL_CLAUSES if c.categories],
    ids=[c.id for _, c in ALL_CLAUSES if c.categories],
)
def test_clause_categories_fail_it_without_a_tag(profile, clause):
    rule = Rule("VER-TST-002", clause.categories[0], "medium", "untagged")
    f = rule.finding(path="/bin/x", evidence="e")
    [row] = assess([f], [{"id": "probe", "status": "ran"}], [RuleSource(rule, "probe")], [_only(profile, clause)])
    assert row["status"] == "fail" and row["findings"] == [f.fingerprint]
    # info findings are evidence, not failures
    info = Rule("VER-TST-003", clause.categories[0], "info", "note").finding(path="/bin/x", evidence="e")
    [row] = assess([info], [{"id": "probe", "status": "ran"}], [RuleSource(rule, "probe")], [_only(profile, clause)])
    assert row["status"] != "fail"


def test_pass_names_checks_that_did_not_apply_and_incomplete_analysis():
    clause = standards.clause_index()["EN303645:5.1-1"]
    profile = resolve(("etsi",))[0]
    a = Rule("VER-TST-004", "credential.default", "high", "a")
    b = Rule("VER-TST-005", "credential.empty", "high", "b")
    incomplete = Rule("VER-TST-006", "analysis.incomplete", "high", "could not unpack").finding(path=None, evidence="x")
    ran = [{"id": "one", "status": "ran"}, {"id": "two", "status": "not-applicable", "reason": "no accounts"}]
    [row] = assess([incomplete], ran, [RuleSource(a, "one"), RuleSource(b, "two")], [_only(profile, clause)])
    assert row["status"] == "pass"
    assert "no finding from one" in row["reason"]
    assert "not applicable: two (no accounts)" in row["reason"]
    assert "1 part(s) of the image could not be analysed" in row["reason"]
    assert row["checks"] == ["one", "two"]


def test_findings_dicts_and_objects_give_the_same_rows():
    rule = _probe_rule("GDSI:7", "backdoor.known", "critical")
    f = rule.finding(path="/bin/telnetd", evidence="x", backdoor_id="cat-1")
    src = [RuleSource(rule, "probe")]
    ran = [{"id": "probe", "status": "ran"}]
    assert assess([f], ran, src, resolve(("gdsi",))) == assess([f.to_dict()], ran, src, resolve(("gdsi",)))


def test_conformance_uses_the_registry_and_selected_standards():
    rows = conformance([], [{"id": c.ID, "status": "ran"} for c in registry.checks()], ("gdsi",))
    assert [r["clause"] for r in rows] == [f"GDSI:{i}" for i in range(1, 9)]
    by = {r["clause"]: r for r in rows}
    assert by["GDSI:7"]["status"] == "pass"  # supported by the keys and services checks at least
    assert by["GDSI:6"]["status"] == "not-assessed"
    with pytest.raises(UnknownStandard):
        conformance([], [], ("nope",))


# -- on a real scan -----------------------------------------------------------------------------------------


def test_scan_of_a_directory_fails_and_passes_the_right_clauses(tmp_path):
    root = tmp_path / "img"
    (root / "etc").mkdir(parents=True)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    (root / "etc" / "server.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                          serialization.NoEncryption())
    )
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    report = scan(root, workdir=tmp_path / "w", cache_path=tmp_path / "c.sqlite")
    report["conformance"] = conformance(report["findings"], report["checks"], ())
    assert report_mod.validate(report) == []
    by = {r["clause"]: r for r in report["conformance"]}
    keyf = [f for f in report["findings"] if f["category"] == "key.private" and f["path"] == "/etc/server.key"]
    assert keyf, report["findings"]
    fp = keyf[0]["fingerprint"]
    for cid in ("EN303645:5.4-3", "EN303645:5.4-1", "TS33117:4.2.3.4.2.3"):
        assert by[cid]["status"] == "fail" and fp in by[cid]["findings"], cid
    assert by["EN303645:5.6-1"]["status"] in ("pass", "not-assessed")
    assert by["EN303645:5.2-1"]["status"] == "not-assessed"
    assert json.loads(report_mod.dumps(report))["conformance"] == report["conformance"]


# -- `veracity standards` -------------------------------------------------------------------------------------


def _cli(argv):
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    handlers = register(sub)
    assert set(handlers) == {"standards"}
    args = p.parse_args(argv)
    out = io.StringIO()
    return args.handler(args, out=out), out.getvalue()


def test_standards_command_lists_profiles_and_clauses(capsys):
    rc, text = _cli(["standards"])
    assert rc == 0
    assert "EN303645" in text and "TS33117" in text and "GDSI" in text and "67 clauses" in text
    rc, text = _cli(["standards", "etsi"])
    assert rc == 0
    assert "EN303645:5.4-3" in text and "VER-KEY-001" in text
    rc, text = _cli(["standards", "gdsi", "--json"])
    data = json.loads(text)
    assert data[0]["id"] == "GDSI" and len(data[0]["clauses"]) == 8
    rc, _ = _cli(["standards", "nope"])
    assert rc == 2
    assert "unknown standard 'nope'" in capsys.readouterr().err


def test_describe_lists_supporting_rules():
    d = describe(resolve(("etsi",))[0])
    c = {x["id"]: x for x in d["clauses"]}
    assert "VER-KEY-001" in c["EN303645:5.4-3"]["rules"]
    assert c["EN303645:5.2-1"]["rules"] == []


def test_profiles_are_package_data():
    folder = Path(standards.__file__).parents[1] / "data" / "standards"
    assert sorted(p.name for p in folder.glob("*.json")) == ["3gpp-ts-33-117.json", "etsi-en-303-645.json", "gdsi.json"]
