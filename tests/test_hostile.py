"""Hostile fixtures: every scan completes, writes nothing outside its work directory, and says what it skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import findings

from veracity.testing import fixtures


def _snapshot(*dirs: Path) -> set[str]:
    out = set()
    for d in dirs:
        for root, subdirs, files in os.walk(d):
            out.update(os.path.join(root, n) for n in subdirs + files)
    return out


@pytest.fixture
def hostile_scan(run_scan, tmp_path):
    def _run(name: str, **limits):
        missing = fixtures.tool_missing(name)
        if missing:
            pytest.skip(f"{missing} not installed")
        image = fixtures.build_hostile(name)
        watched = (image.parent, Path("/tmp/evil-absolute").parent)
        before = _snapshot(image.parent)
        report = run_scan(image, **limits)
        assert _snapshot(image.parent) == before, "something was written beside the target"
        for leaked in ("/tmp/evil-absolute", "/tmp/pwned", "/evil.sh", "/etc/cron.d/evil"):
            assert not os.path.lexists(leaked), leaked
        del watched
        return report

    return _run


def rules_of(report) -> set[str]:
    return {f["rule"] for f in report["findings"]}


def test_tar_traversal(hostile_scan):
    r = hostile_scan("tar-traversal")
    assert "VER-UNP-101" in rules_of(r)
    paths = {f["path"] for f in r["files"]}
    assert "/ok.txt" in paths and not any(".." in p for p in paths)


def test_tar_symlink_escape(hostile_scan):
    r = hostile_scan("tar-symlink-escape")
    assert {"VER-UNP-103", "VER-UNP-102"} <= rules_of(r)


def test_tar_hardlink_escape(hostile_scan):
    r = hostile_scan("tar-hardlink-escape")
    assert "VER-UNP-102" in rules_of(r)
    assert not any(f["path"].endswith("shadow") and f["size"] > 0 for f in r["files"])


def test_zip_slip(hostile_scan):
    r = hostile_scan("zip-slip")
    assert "VER-UNP-101" in rules_of(r)


def test_tar_device_recorded_never_created(hostile_scan):
    r = hostile_scan("tar-device")
    assert any(s["kind"] in ("chardev", "blockdev") for s in r["specials"])


def test_symlink_loop(hostile_scan):
    r = hostile_scan("symlink-loop")
    targets = {link["path"]: link["target"] for link in r["links"]}
    assert len(targets) >= 2


@pytest.mark.parametrize("name", ["zip-bomb", "gzip-bomb"])
def test_bombs_stop_at_the_ratio_limit(hostile_scan, name):
    r = hostile_scan(name)
    hits = findings(r, rule="VER-UNP-002")
    assert hits and "ratio" in hits[0]["evidence"], [f["evidence"] for f in r["findings"]]
    assert r["extraction"]["bytes"] < 2 * 2**30


def test_gzip_bomb_against_the_byte_limit(hostile_scan):
    r = hostile_scan("gzip-bomb", max_bytes=50 * 2**20, max_ratio=1e9)
    hits = findings(r, rule="VER-UNP-002")
    assert hits and "size limit" in hits[0]["evidence"]
    assert r["extraction"]["bytes"] <= 50 * 2**20


def test_nested_deep(hostile_scan):
    r = hostile_scan("nested-deep")
    hits = findings(r, rule="VER-UNP-002")
    assert hits and "depth" in hits[0]["evidence"]


@pytest.mark.parametrize("name", ["truncated-squashfs", "corrupted-squashfs", "truncated-jffs2"])
def test_broken_filesystems_are_reported(hostile_scan, name):
    r = hostile_scan(name)
    incomplete = findings(r, category="analysis.incomplete")
    assert [f for f in incomplete if f["rule"] in ("VER-UNP-001", "VER-UNP-004", "VER-UNP-003", "VER-UNP-006")]


def test_garbage_and_empty(hostile_scan):
    assert "VER-UNP-003" in rules_of(hostile_scan("garbage"))
    r = hostile_scan("empty")
    assert r["target"]["size"] == 0 and r["extraction"]["files"] == 1
