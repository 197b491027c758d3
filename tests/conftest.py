from __future__ import annotations

import json
from pathlib import Path

import pytest

from veracity import report as report_mod
from veracity.limits import Limits
from veracity.scan import scan

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(autouse=True)
def _no_memory_of_cache_reads(monkeypatch):
    """Each test starts as a new process would: no cache reads remembered (see inventory.remember)."""
    from veracity import inventory

    monkeypatch.setattr(inventory, "_MEMO", inventory._Memo(0))


def corpus(rel: str) -> Path:
    path = CORPUS / rel
    if not path.exists():
        pytest.skip(f"shared corpus not available: {path}")
    return path


@pytest.fixture
def run_scan(tmp_path):
    """Scan a target with a private cache; validate the report against the schema and its JSON round trip."""

    def _run(target: Path, **limits) -> dict:
        report = scan(
            Path(target),
            limits=Limits(**limits) if limits else None,
            workdir=tmp_path / "work",
            cache_path=tmp_path / "cache.sqlite",
        )
        problems = report_mod.validate(report)
        assert problems == [], problems
        assert json.loads(report_mod.dumps(report)) == json.loads(json.dumps(report))
        work = tmp_path / "work"
        assert not work.exists() or list(work.iterdir()) == [], "work directory not cleaned up"
        return report

    return _run


def findings(report: dict, rule: str | None = None, category: str | None = None) -> list[dict]:
    return [
        f
        for f in report["findings"]
        if (rule is None or f["rule"] == rule) and (category is None or f["category"] == category)
    ]


def tree_of(report: dict, fmt_suffix: str | None = None) -> dict[str, dict]:
    """path -> file/link record of the report, for trees whose last container ends with ``fmt_suffix``."""
    out: dict[str, dict] = {}
    for rec in report["files"] + report["links"]:
        if fmt_suffix is None or rec["container"][-1].split("@")[0].endswith(fmt_suffix):
            out[rec["path"]] = rec
    return out
