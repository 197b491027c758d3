"""Run the checks over an inventory: in registry order, and the isolated ones on the second core.

A check that says ``ISOLATED = True`` reads no report section another check writes, so it can run in a forked
child while the others run here (see veracity.parallel). The isolated checks wait in a queue, the heaviest (``COST``) first; the child
and this process each take the next one when free, and the child sends its findings and sections back through a
pipe (pickled: the data never leaves this program and its own child). Both cores work on the checks of one scan.

An isolated check whose work is mostly per file (``prefetch(inv, part, parts)``) goes in the queue as ``PARTS``
shares of its files rather than whole: whoever takes a share works out those files' results, and the check then
runs here, recalling them (``Inventory.prefetched``). One heavy check alone (``--checks egress``) uses both
cores, and two of them end together.

Whatever goes wrong with the child (no ``fork`` on this platform, the child killed, an unreadable answer) the
isolated checks run here instead, so the result is the same; only the time limit is final: a child still working
at the scan's deadline is killed and its checks are reported as failed. ``VERACITY_NO_FORK=1`` runs everything
in this process (for debugging and profiling).
"""

from __future__ import annotations

from typing import Any

from ..findings import Finding
from ..inventory import Inventory
from ..parallel import TIMED_OUT, may_fork, shared
from .base import NotApplicable

Outcome = tuple[list[Finding], dict[str, Any]]
"""A check's findings and its entry of the report's ``checks`` list."""


def run_one(check: Any, inv: Inventory, sections: dict[str, list[dict]], target: str) -> Outcome:
    """One check; a check that does not apply or breaks is an outcome, never an exception."""
    from .registry import CHECK_FAILED

    try:
        return list(check.run(inv, sections)), {"id": check.ID, "status": "ran", "reason": None}
    except NotApplicable as exc:
        return [], {"id": check.ID, "status": "not-applicable", "reason": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one broken check must not lose the others
        finding = CHECK_FAILED.finding(path=None, container=(target,), evidence=f"{check.ID}: {exc!r}", key=check.ID)
        return [finding], {"id": check.ID, "status": "failed", "reason": repr(exc)}


PARTS = 8
"""Shares of a prefetching check's files in the queue: small enough that the two processes end together."""

Task = tuple[Any, int | None]
"""A check to run whole (part None), or one share of a prefetching check's files."""


def _prefetch(check: Any, inv: Inventory, part: int) -> dict[tuple[str, str], Any]:
    try:
        return check.prefetch(inv, part, PARTS)
    except Exception:  # noqa: BLE001 - the check's own run works out what a failed share left, and says why
        return {}


def _tasks(isolated: list[Any]) -> list[Task]:
    """The queue: whole checks, and a prefetching check in shares when it is the only one. Two heavy checks
    already keep both processes busy, and shares cost a little (both processes walk the whole inventory, each
    share analyses a copied file again, the check assembles at the end)."""
    sharing = [c for c in isolated if callable(getattr(c, "prefetch", None))]
    tasks: list[Task] = []
    for check in isolated:
        if sharing == [check]:
            tasks.extend((check, part) for part in range(PARTS))
        else:
            tasks.append((check, None))
    return tasks


def run_checks(instances: tuple | list, inv: Inventory, target: str, deadline: float
               ) -> tuple[list[Finding], list[dict[str, Any]], dict[str, list[dict]]]:
    """Every check of ``instances``: their findings and ``checks`` entries in registry order, and the sections
    they filled."""
    sections: dict[str, list[dict]] = {}
    isolated = [c for c in instances if getattr(c, "ISOLATED", False)]
    isolated.sort(key=lambda c: -getattr(c, "COST", 1))  # the heaviest first, so the two halves end together
    outcomes: dict[str, Outcome] = {}
    tasks = _tasks(isolated)

    def here() -> None:  # while the child starts on the isolated ones
        for check in instances:
            if check not in isolated:
                outcomes[check.ID] = run_one(check, inv, sections, target)

    try:
        if not isolated or not may_fork():
            for check in instances:
                outcomes[check.ID] = run_one(check, inv, sections, target)
        else:

            def task(n: int) -> Any:
                check, part = tasks[n]
                if part is not None:
                    return _prefetch(check, inv, part)
                own: dict[str, list[dict]] = {}
                return (*run_one(check, inv, own, target), own)

            # the child writes what its checks kept (per-file results) through a cache connection of its own
            answers = shared(len(tasks), task, before=here, deadline=deadline, child_done=inv.flush)
            timed_out: set[str] = set()
            for (check, part), answer in zip(tasks, answers, strict=True):
                if answer is TIMED_OUT:
                    timed_out.add(check.ID)
                elif part is not None:
                    inv.prefetched.update(answer)
                else:
                    found, entry, own = answer
                    outcomes[check.ID] = (found, entry)
                    sections.update(own)
            for check in isolated:
                if check.ID in timed_out:
                    outcomes[check.ID] = run_one(_TimedOut(check.ID), inv, {}, target)
                elif check.ID not in outcomes:  # a check in shares: it runs here, recalling what they found
                    outcomes[check.ID] = run_one(check, inv, sections, target)
    finally:
        inv.prefetched.clear()
    findings: list[Finding] = []
    ran: list[dict[str, Any]] = []
    for check in instances:
        found, entry = outcomes[check.ID]
        findings.extend(found)
        ran.append(entry)
    return findings, ran, sections


class _TimedOut:
    """Stands for a check whose child was killed at the scan's deadline: its outcome is a failure."""

    def __init__(self, check_id: str):
        self.ID = check_id

    def run(self, inv: Inventory, sections: dict[str, list[dict]]) -> list[Finding]:
        raise TimeoutError("the scan time limit was reached while this check ran")
