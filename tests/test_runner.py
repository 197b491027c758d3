"""The check runner: isolated checks on the second core, the same result as in one process, never lost."""

from __future__ import annotations

import os
import time

from veracity.checks.runner import PARTS, run_checks
from veracity.findings import Rule
from veracity.parallel import share
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


class _Sharing(_Isolated):
    """Per-file work in shares: each share records which process worked it out; run() recalls them."""

    FILES = 64

    def prefetch(self, inv, part, parts):
        if os.getpid() != PARENT and getattr(self, "broken", False):
            raise RuntimeError("a share that fails")
        out = {}
        for i in share(list(range(self.FILES)), [1.0] * self.FILES, part, parts):
            time.sleep(0.005)
            out[("t", str(i))] = self._where()
        return out

    def run(self, inv, sections):
        sections["files"] = [{"by": inv.recall("t", str(i)) or f"run in {self._where()}"} for i in range(self.FILES)]
        return []


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


def test_per_file_work_is_shared_by_both_processes_and_recalled_by_the_run(tmp_path):
    inv = _inv(tmp_path)
    _, ran, sections = run_checks([_Check("a"), _Sharing("s")], inv, "t", time.monotonic() + 60)
    by = [f["by"] for f in sections["files"]]
    assert ran[1]["status"] == "ran" and "child" in by and set(by) <= {"parent", "child"}  # none left for run
    assert not inv.prefetched  # what the shares found lives as long as the checks


def test_a_failed_share_is_worked_out_by_the_run(tmp_path):
    sharing = _Sharing("s")
    sharing.broken = True
    # the check before it keeps this process busy for a while: the child surely takes (and fails) shares
    _, ran, sections = run_checks([_Check("a"), sharing], _inv(tmp_path), "t", time.monotonic() + 60)
    by = [f["by"] for f in sections["files"]]
    assert ran[1]["status"] == "ran" and "child" not in by and "run in parent" in by


def test_no_fork_runs_shared_work_in_the_check(tmp_path, monkeypatch):
    monkeypatch.setenv("VERACITY_NO_FORK", "1")
    _, _, sections = run_checks([_Sharing("s")], _inv(tmp_path), "t", time.monotonic() + 60)
    assert {f["by"] for f in sections["files"]} == {"run in parent"}


def test_shares_cover_the_work_once_with_about_equal_weight():
    work = list(range(100))
    weights = [float(1 + (i * 37) % 11) for i in work]
    shares = [share(work, weights, p, PARTS) for p in range(PARTS)]
    assert sorted(i for s in shares for i in s) == work
    loads = [sum(weights[i] for i in s) for s in shares]
    assert max(loads) - min(loads) <= max(weights)
    assert shares == [share(work, weights, p, PARTS) for p in range(PARTS)]  # the same in every process


def test_one_prefetching_check_goes_in_shares_two_go_whole():
    from veracity.checks.runner import _tasks

    one, two, plain = _Sharing("s"), _Sharing("t"), _Isolated("u")
    assert _tasks([one, plain]) == [(one, p) for p in range(PARTS)] + [(plain, None)]
    assert _tasks([one, two, plain]) == [(one, None), (two, None), (plain, None)]
