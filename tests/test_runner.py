"""The check runner: isolated checks on the second core, the same result as in one process, never lost."""

from __future__ import annotations

import os
import time

from veracity.checks.runner import run_checks
from veracity.findings import Rule
from veracity.testing.memfs import inventory_from

RULE = Rule("VER-TST-001", "code.malicious", "low", "test rule")
PARENT = os.getpid()


class _Check:
    ISOLATED = False

    def __init__(self, check_id: str):
        self.ID = check_id

    def run(self, inv, sections):
        if not self.ISOLATED:
            time.sleep(0.3)  # the child takes the isolated checks first
            sections.setdefault("order", []).append(self.ID)
        sections[f"by-{self.ID}"] = [{"where": self._where()}]
        return [RULE.finding(path="/etc/passwd", container=("t",), evidence=f"{self.ID} in {self._where()}",
                             key=self.ID)]

    @staticmethod
    def _where() -> str:
        return "parent" if os.getpid() == PARENT else "child"


class _Isolated(_Check):
    ISOLATED = True


class _DiesInChild(_Isolated):
    def run(self, inv, sections):
        if os.getpid() != PARENT:
            os._exit(9)  # as if the child were killed
        return super().run(inv, sections)


class _Slow(_Isolated):
    def run(self, inv, sections):
        if os.getpid() != PARENT:
            time.sleep(30)
        return super().run(inv, sections)


def _inv(tmp_path):
    return inventory_from({"/etc/passwd": "root:x:0:0::/root:/bin/sh\n"}, tmp_path)


def _evidence(findings):
    return [f.evidence for f in findings]


def test_isolated_checks_run_in_a_child_and_keep_registry_order(tmp_path):
    checks = [_Check("a"), _Isolated("b"), _Check("c")]
    findings, ran, sections = run_checks(checks, _inv(tmp_path), "t", time.monotonic() + 60)
    assert _evidence(findings) == ["a in parent", "b in child", "c in parent"]
    assert [r["id"] for r in ran] == ["a", "b", "c"] and {r["status"] for r in ran} == {"ran"}
    assert sections["order"] == ["a", "c"]
    assert sections["by-b"] == [{"where": "child"}]


def test_the_parent_takes_what_the_child_has_not(tmp_path):
    checks = [_Isolated("x"), _Isolated("y"), _Isolated("z")]
    findings, ran, _ = run_checks(checks, _inv(tmp_path), "t", time.monotonic() + 60)
    assert [f.evidence.split()[0] for f in findings] == ["x", "y", "z"]
    assert [r["status"] for r in ran] == ["ran"] * 3


def test_no_fork_runs_everything_here(tmp_path, monkeypatch):
    monkeypatch.setenv("VERACITY_NO_FORK", "1")
    findings, _, _ = run_checks([_Check("a"), _Isolated("b")], _inv(tmp_path), "t", time.monotonic() + 60)
    assert _evidence(findings) == ["a in parent", "b in parent"]


def test_a_dead_child_costs_time_not_results(tmp_path):
    findings, ran, _ = run_checks([_Check("a"), _DiesInChild("b")], _inv(tmp_path), "t", time.monotonic() + 60)
    assert _evidence(findings) == ["a in parent", "b in parent"]
    assert ran[1]["status"] == "ran"


def test_a_child_past_the_deadline_is_killed_and_reported(tmp_path):
    t0 = time.monotonic()
    findings, ran, _ = run_checks([_Check("a"), _Slow("b")], _inv(tmp_path), "t", time.monotonic() + 1)
    assert time.monotonic() - t0 < 10
    assert ran[1]["status"] == "failed" and "time limit" in ran[1]["reason"]
    assert [(f.rule, f.category) for f in findings] == [("VER-TST-001", "code.malicious"),
                                                        ("VER-CHK-001", "analysis.incomplete")]
