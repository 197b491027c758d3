"""Shares of one job worked by this process and a forked child, whoever is free taking the next.

The job is split into ``count`` tasks, numbered; their numbers wait in a pipe (one byte each: reading one byte is
atomic, so every task is taken once). The child sends back, pickled through a second pipe, what its tasks gave
(the data never leaves this program and its own child). Whatever goes wrong with the child (no ``fork``, killed,
an unreadable answer) the tasks it took are done here again: the result is the same, only slower.
``VERACITY_NO_FORK=1`` does everything here.

The child is forked from this process as it is: it sees the same objects, so a task needs nothing but its number.
What it changes in them stays in the child: it answers, and ``child_done`` may save what must outlive it (the
checks' kept results go to the cache through a connection of the child's own).
"""

from __future__ import annotations

import heapq
import os
import pickle
import select
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

MAX_TASKS = 255
"""Task numbers are single bytes."""


def may_fork() -> bool:
    return hasattr(os, "fork") and os.environ.get("VERACITY_NO_FORK", "") in ("", "0")


def shares(work: list[T], weights: list[float], parts: int) -> list[list[T]]:
    """``work`` in ``parts`` shares of about equal weight (the heaviest first, each to the lightest share so far),
    each in the order of ``work``. Deterministic: every process that asks gets the same shares."""
    heap = [(0.0, p) for p in range(parts)]
    mine: list[list[int]] = [[] for _ in range(parts)]
    for i in sorted(range(len(work)), key=lambda i: (-weights[i], i)):
        load, p = heapq.heappop(heap)
        mine[p].append(i)
        heapq.heappush(heap, (load + weights[i], p))
    return [[work[i] for i in sorted(m)] for m in mine]


def share(work: list[T], weights: list[float], part: int, parts: int) -> list[T]:
    """The ``part``-th of :func:`shares`."""
    return shares(work, weights, parts)[part]


TIMED_OUT = object()
"""The answer of a task the child had taken when the deadline came (the child is killed; the task is not redone)."""


def shared(count: int, task: Callable[[int], Any], *, before: Callable[[], None] | None = None,
           deadline: float | None = None, child_done: Callable[[], None] | None = None) -> list[Any]:
    """``[task(0), ..., task(count - 1)]``, the tasks spread over this process and a forked child. ``before`` runs
    here while the child starts on the tasks; ``child_done`` in the child after its last task; past ``deadline``
    (``time.monotonic()``) the child is killed and the tasks it held answer :data:`TIMED_OUT`."""
    if not 0 < count <= MAX_TASKS:
        raise ValueError(f"between 1 and {MAX_TASKS} tasks, not {count}")
    done: dict[int, Any] = {}
    child = _Child(count, task, child_done) if may_fork() else None
    try:
        if before is not None:
            before()
        if child is not None:
            while (n := child.take()) is not None:
                done[n] = task(n)
            got = child.collect(deadline)
            if got is None:  # out of time: what the child held is lost, the rest was done here
                return [done.get(n, TIMED_OUT) for n in range(count)]
            done.update(got)
    finally:
        if child is not None:
            child.kill()
    for n in range(count):  # no child, or tasks it took and did not answer for
        if n not in done:
            done[n] = task(n)
    return [done[n] for n in range(count)]


def _widen(fd: int) -> None:
    """Make the pipe at ``fd`` as large as the system lets (Linux: 1 MiB for anyone, 64 KiB by default), so that a
    batch's names are sent without waiting for the child to take them."""
    import fcntl

    try:
        with open("/proc/sys/fs/pipe-max-size", encoding="ascii") as fh:
            size = int(fh.read())
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (OSError, ValueError):
        pass  # another system, or a limit: the default size works, only a little slower


class Stream:
    """A forked child that works on the batches sent to it, in order, while this process goes on: ``send`` a batch,
    ``answers()`` gives, without waiting, those answered since; ``close()`` waits for the rest. One child for many
    batches: a fork copies nothing at first, but every page this process writes afterwards is copied once per
    child it has. Whatever goes wrong with the child, its answers stop coming (the caller does that work itself,
    or leaves it to whoever would have done it without this); an answer is None where the work raised.

    A thread here reads the answers as they come (reading waits without holding the interpreter): an answer larger
    than the pipe would otherwise leave the child waiting, idle, until this process next looks, and it may be busy
    for a while (a third of a second importing lief)."""

    _HEAD = 8

    def __init__(self, work: Callable[[Any], Any], *, nice: int = 0):
        self.pid = 0
        self.out = self.back = -1
        self.sent = self.answered = 0
        self._buffer = bytearray()
        self._ended = False
        self._came = threading.Condition()
        self._reader: threading.Thread | None = None
        tasks_r, tasks_w = os.pipe()
        back_r, back_w = os.pipe()
        try:
            self.pid = os.fork()
        except OSError:
            for fd in (tasks_r, tasks_w, back_r, back_w):
                os.close(fd)
            return
        if self.pid == 0:  # the child: never returns
            status = 70
            try:
                os.close(tasks_w)
                os.close(back_r)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                if nice:
                    os.nice(nice)
                while (frame := _read_frame(tasks_r)) is not None:
                    try:
                        answer = work(pickle.loads(frame))  # sent by this program's own parent
                    except Exception:  # noqa: BLE001 - the parent does that batch's work itself
                        answer = None
                    _write_all(back_w, _frame(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)))
                status = 0
            except BaseException:  # noqa: BLE001, S110 - the parent gets no more answers and goes on without
                pass
            finally:
                os._exit(status)
        os.close(tasks_r)
        os.close(back_w)
        _widen(tasks_w)
        _widen(back_r)
        self.out, self.back = tasks_w, back_r
        self._reader = threading.Thread(target=self._read, name="stream-answers", daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        """The child was started and has not ended (as far as its answers tell)."""
        return self.pid > 0 and not self._ended

    @property
    def idle(self) -> bool:
        """Every batch sent has been answered."""
        return self.sent == self.answered

    def send(self, batch: Any) -> bool:
        """Hand ``batch`` over (False when the child is gone)."""
        if self.out < 0:
            return False
        try:
            _write_all(self.out, _frame(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)))
        except OSError:
            self.kill()
            return False
        self.sent += 1
        return True

    def _read(self) -> None:
        """The reading thread: every byte the child writes, until it ends (or is killed)."""
        try:
            while chunk := os.read(self.back, 1 << 20):
                with self._came:
                    self._buffer += chunk
                    self._came.notify_all()
        except OSError:
            pass
        finally:
            with self._came:
                self._ended = True
                self._came.notify_all()

    def _whole_answer(self) -> bool:
        """An answer is read whole and waits in the buffer (the caller holds the lock)."""
        return len(self._buffer) >= self._HEAD and \
            len(self._buffer) >= self._HEAD + int.from_bytes(self._buffer[:self._HEAD], "little")

    def answers(self) -> list[Any]:
        """The answers come since the last call, in the order of the batches, without waiting."""
        out = []
        with self._came:
            while self._whole_answer():
                size = int.from_bytes(self._buffer[:self._HEAD], "little")
                body = bytes(self._buffer[self._HEAD:self._HEAD + size])
                del self._buffer[:self._HEAD + size]
                try:
                    out.append(pickle.loads(body))  # our own child's answer, never the image's bytes
                except Exception:  # noqa: BLE001
                    out.append(None)
        self.answered += len(out)
        return out

    def close(self, deadline: float | None = None) -> list[Any]:
        """No more batches: the answers still to come (waiting for them until ``deadline``), then the child ends."""
        if self.out >= 0:
            os.close(self.out)
            self.out = -1
        try:
            out = self.answers()
            while self._reader is not None and not self.idle:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                with self._came:
                    ended = self._ended  # the child is gone: what it wrote is all there is
                    if not ended and not self._whole_answer():  # else it came since answers() looked
                        self._came.wait(1.0 if left is None else min(left, 1.0))
                out += self.answers()
                if ended:
                    break
        finally:
            self.kill()
        return out

    def kill(self) -> None:
        self.pid = _kill(self.pid)  # its end of the pipe closes with it: the reading thread ends
        if self.out >= 0:
            os.close(self.out)
            self.out = -1
        if self._reader is not None:
            self._reader.join()
            self._reader = None
        if self.back >= 0:
            os.close(self.back)
            self.back = -1


def _kill(pid: int) -> int:
    """End child ``pid`` (if any) and reap it: 0, for the caller's record of it."""
    if pid > 0:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    return 0


def _frame(body: bytes) -> bytes:
    return len(body).to_bytes(Stream._HEAD, "little") + body


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_frame(fd: int) -> bytes | None:
    """One frame from a blocking descriptor, None at its end."""
    head = _read_exactly(fd, Stream._HEAD)
    if head is None:
        return None
    return _read_exactly(fd, int.from_bytes(head, "little"))


def _read_exactly(fd: int, n: int) -> bytes | None:
    parts: list[bytes] = []
    while n > 0:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


class _Child:
    def __init__(self, count: int, task: Callable[[int], Any], done: Callable[[], None] | None):
        self.pid = 0
        self.queue = self.fd = -1
        qread, qwrite = os.pipe()
        os.write(qwrite, bytes(range(count)))
        os.close(qwrite)  # readers see the end of the queue once it is empty
        os.set_blocking(qread, False)
        self.queue = qread
        read, write = os.pipe()
        try:
            self.pid = os.fork()
        except OSError:
            for fd in (read, write):
                os.close(fd)
            self.pid = 0  # no child: take() still hands out every task here
            return
        if self.pid == 0:  # the child: never returns
            status = 70
            try:
                os.close(read)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                answers: dict[int, Any] = {}
                while (n := self.take()) is not None:
                    answers[n] = task(n)
                if done is not None:
                    done()
                _write_all(write, pickle.dumps(answers, protocol=pickle.HIGHEST_PROTOCOL))
                status = 0
            except BaseException:  # noqa: BLE001, S110 - the parent does the tasks itself on any failure
                pass
            finally:
                os._exit(status)
        os.close(write)
        self.fd = read

    def take(self) -> int | None:
        """The next task nobody has taken, or None when the queue is empty."""
        try:
            byte = os.read(self.queue, 1)
        except BlockingIOError:
            return None
        return byte[0] if byte else None

    def collect(self, deadline: float | None) -> dict[int, Any] | None:
        """What the child's tasks gave, by task number (empty if it has no answer); None past the deadline."""
        if self.pid <= 0:
            return {}
        chunks: list[bytes] = []
        poll = select.poll()  # poll: no limit on descriptor numbers
        poll.register(self.fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while True:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.kill()
                    return None
                if not poll.poll(min(left, 1.0) * 1000):
                    continue
            else:
                poll.poll()
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        if os.waitstatus_to_exitcode(status) != 0:
            return {}
        try:
            got = pickle.loads(b"".join(chunks))  # written by our own child a moment ago, never by the image
        except Exception:  # noqa: BLE001
            return {}
        return got if isinstance(got, dict) else {}

    def kill(self) -> None:
        self.pid = _kill(self.pid)
        for name in ("fd", "queue"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)
