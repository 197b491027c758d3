"""Tests over the registry: every check and rule is documented, unique, referenced and tested."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from veracity.checks import registry
from veracity.findings import CATEGORIES, SEVERITIES
from veracity.options import ScanOptions

TESTS = Path(__file__).parent
_STANDARD = re.compile(r"^(EN303645|TS33117|GDSI):[0-9A-Za-z.\-]+$")


def test_rule_ids_unique_and_well_formed():
    rules = list(registry.all_rules())
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    for r in rules:
        assert re.fullmatch(r"VER-[A-Z]{3}-\d{3}", r.id), r.id
        assert r.category in CATEGORIES and r.severity in SEVERITIES
        assert r.title and r.title[0].isupper(), r.id
        assert r.description, f"{r.id} has no description"
        for ref in r.references:
            assert ref.startswith(("https://", "http://")), (r.id, ref)
        for std in r.standards:
            assert _STANDARD.match(std), (r.id, std)


def test_every_check_is_documented_and_has_rules():
    checks = registry.checks(ScanOptions())
    assert len({c.ID for c in checks}) == len(checks)
    for c in checks:
        assert c.ID and c.TITLE and c.RULES, c
        doc = (type(c).__doc__ or "") + (sys.modules[type(c).__module__].__doc__ or "")
        assert len(doc) > 80, f"{c.ID} has no documentation"


def test_patterns_compile_into_one_database():
    ps = registry.patterns()
    assert len(ps) > 0
    assert ps.scan(b"nothing to see here") is not None


def test_every_rule_is_exercised_by_a_test():
    text = "\n".join(p.read_text(errors="replace") for p in TESTS.glob("test_*.py") if p.name != Path(__file__).name)
    from veracity.checks import yara

    # the YARA rules of each category are one rule instantiated per category: one test covers the family
    family = {r.id for r in yara.BY_CATEGORY.values()}
    untested = [r.id for r in registry.all_rules() if r.id not in text and r.id not in family]
    assert any(i in text for i in family)
    assert untested == [], f"rules no test names: {untested}"


def test_findings_categories_cover_the_contract():
    used = {r.category for r in registry.all_rules()}
    # categories whose checks exist today; the rest arrive with their issues
    assert {"backdoor.known", "account.hidden", "credential.default", "key.private", "service.remote-access",
            "code.reverse-shell", "analysis.incomplete"} <= used
