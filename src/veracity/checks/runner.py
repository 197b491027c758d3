"""Run the checks over an inventory: in registry order, and the isolated ones on the second core.

A check that says ``ISOLATED = True`` reads no report section another check writes, so it can run in a forked
child while the others run here. The isolated checks wait in a queue, the heaviest (``COST``) first; the child
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

import os
import pickle
import select
import signal
import time
from typing import Any, TypeVar

from ..findings import Finding
from ..inventory import Inventory
from .base import NotApplicable

T = TypeVar("T")
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

SHARED_ALONE = 1
"""How many prefetching checks a scan may run for one of them to go in shares."""

Task = tuple[Any, int | None]
"""A check to run whole (part None), or one share of a prefetching check's files."""


def share(work: list[T], weights: list[float], part: int, parts: int) -> list[T]:
    """The ``part``-th of ``parts`` shares of ``work`` of about equal weight (the heaviest first, each to the
    lightest share so far). Deterministic: every process that asks gets the same shares."""
    loads = [0.0] * parts
    mine: list[int] = []
    for i in sorted(range(len(work)), key=lambda i: (-weights[i], i)):
        lightest = min(range(parts), key=lambda p: (loads[p], p))
        loads[lightest] += weights[i]
        if lightest == part:
            mine.append(i)
    return [work[i] for i in sorted(mine)]


def _prefetch(check: Any, inv: Inventory, part: int) -> dict[tuple[str, str], Any]:
    try:
        return check.prefetch(inv, part, PARTS)
    except Exception:  # noqa: BLE001 - the check's own run works out what a failed share left, and says why
        return {}


class _Child:
    """A forked child that takes tasks from a shared queue until it is empty.

    The queue is a pipe holding one byte per task (its index); the parent and the child each read one byte at a
    time (atomic on a pipe), so every task is taken by exactly one of them, whoever is free first.
    """

    def __init__(self, tasks: list[Task], inv: Inventory, target: str):
        self.tasks = tasks
        qread, qwrite = os.pipe()
        os.write(qwrite, bytes(range(len(tasks))))
        os.close(qwrite)  # readers see the end of the queue once it is empty
        os.set_blocking(qread, False)
        self.queue = qread
        try:
            read, write = os.pipe()
        except OSError:
            os.close(qread)
            raise
        try:
            self.pid = os.fork()
        except OSError:
            for fd in (qread, read, write):
                os.close(fd)
            raise
        if self.pid == 0:  # the child: never returns
            status = 70
            try:
                os.close(read)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                done: dict[str, Any] = {}
                prefetched: dict[tuple[str, str], Any] = {}
                while (task := self.take()) is not None:
                    check, part = task
                    if part is None:
                        own: dict[str, list[dict]] = {}
                        done[check.ID] = (*run_one(check, inv, own, target), own)
                    else:
                        prefetched.update(_prefetch(check, inv, part))
                inv.flush()  # what the checks kept, through a connection of the child's own
                data = pickle.dumps({"done": done, "prefetched": prefetched}, protocol=pickle.HIGHEST_PROTOCOL)
                view = memoryview(data)
                while view:
                    view = view[os.write(write, view):]
                status = 0
            except BaseException:  # noqa: BLE001, S110 - the parent runs the checks itself on any failure
                pass
            finally:
                os._exit(status)
        os.close(write)
        self.fd = read
        self._poll = select.poll()
        self._poll.register(read, select.POLLIN | select.POLLHUP | select.POLLERR)

    def take(self) -> Task | None:
        """The next task nobody has taken, or None when the queue is empty."""
        try:
            byte = os.read(self.queue, 1)
        except BlockingIOError:
            return None
        return self.tasks[byte[0]] if byte else None

    def collect(self, deadline: float) -> dict[str, Any] | str:
        """The child's answer (``done``: outcomes by check id; ``prefetched``: per-file results), or why there is
        none: ``"timeout"`` or ``"failed"``."""
        chunks: list[bytes] = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.kill()
                    return "timeout"
                if not self._poll.poll(min(left, 1.0) * 1000):  # poll: no limit on descriptor numbers
                    continue
                chunk = os.read(self.fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        if os.waitstatus_to_exitcode(status) != 0:
            return "failed"
        try:
            got = pickle.loads(b"".join(chunks))  # written by our own child a moment ago, never by the image
        except Exception:  # noqa: BLE001
            return "failed"
        ok = isinstance(got, dict) and isinstance(got.get("done"), dict) and isinstance(got.get("prefetched"), dict)
        return got if ok else "failed"

    def kill(self) -> None:
        if self.pid > 0:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.pid = 0
        for name in ("fd", "queue"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)


def _may_fork() -> bool:
    return hasattr(os, "fork") and os.environ.get("VERACITY_NO_FORK", "") in ("", "0")


def _tasks(isolated: list[Any]) -> list[Task]:
    """The queue: whole checks, and a prefetching check in shares when it is the only one. Two heavy checks
    already keep both processes busy, and shares cost a little (both processes walk the whole inventory, each
    share analyses a copied file again, the check assembles at the end)."""
    sharing = [c for c in isolated if callable(getattr(c, "prefetch", None))]
    tasks: list[Task] = []
    for check in isolated:
        if len(sharing) == SHARED_ALONE and check is sharing[0]:
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
    child: _Child | None = None
    if isolated and _may_fork():
        try:
            child = _Child(_tasks(isolated), inv, target)
        except OSError:
            child = None
    outcomes: dict[str, Outcome] = {}
    try:
        for check in instances:
            if child is None or check not in isolated:
                outcomes[check.ID] = run_one(check, inv, sections, target)
        if child is not None:
            while (task := child.take()) is not None:
                check, part = task
                if part is None:
                    outcomes[check.ID] = run_one(check, inv, sections, target)
                else:
                    inv.prefetched.update(_prefetch(check, inv, part))
            got = child.collect(deadline)
            if isinstance(got, dict):
                inv.prefetched.update(got["prefetched"])
            for check in isolated:
                if check.ID in outcomes:
                    continue
                if isinstance(got, dict) and check.ID in got["done"]:
                    found, entry, own = got["done"][check.ID]
                    outcomes[check.ID] = (found, entry)
                    sections.update(own)
                elif got == "timeout":
                    outcomes[check.ID] = run_one(_TimedOut(check.ID), inv, {}, target)
                else:  # a prefetching check (its shares are done), or one the child died before answering for
                    outcomes[check.ID] = run_one(check, inv, sections, target)
    finally:
        if child is not None:
            child.kill()
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
