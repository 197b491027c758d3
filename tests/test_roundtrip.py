"""Every format of the fixture builder round-trips: the unpacked tree equals the source tree.

Where a format itself cannot carry something (zip/7z/cramfs store a hard link as a copy; devices only in
some formats; ext4 adds lost+found), the expectation says so explicitly.
"""

from __future__ import annotations

import pytest

from veracity.testing import fixtures

ROOTFS_FORMATS = [f for f in fixtures.FORMATS if f not in fixtures.PACKAGE_FORMATS]

FAILURE_RULES = ("VER-UNP-001", "VER-UNP-002", "VER-UNP-004", "VER-UNP-005")

# What each extractor is known to lose, as (path, reason); anything else lost is a failure.
KNOWN_LOSSES: dict[str, dict[str, str]] = {}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> dict[str, dict]:
    return fixtures.manifest(fixtures.build_rootfs(tmp_path_factory.mktemp("src") / "rootfs"))


@pytest.fixture(scope="module")
def merged(tmp_path_factory) -> dict[str, dict]:
    return fixtures.manifest(fixtures.merged_rootfs(tmp_path_factory.mktemp("merged") / "rootfs"))


def _rootfs_tree(report: dict) -> tuple[str, dict[str, dict]]:
    """The tree holding /bin/busybox: (its container chain, path -> entry)."""
    chains = {tuple(f["container"]) for f in report["files"] if f["path"] == "/bin/busybox"}
    assert len(chains) == 1, f"expected one rootfs tree, found {chains}"
    chain = next(iter(chains))
    entries: dict[str, dict] = {}
    for f in report["files"]:
        if tuple(f["container"]) == chain:
            entries[f["path"]] = {"kind": "file", "mode": int(f["mode"], 8), "sha256": f["sha256"]}
    for link in report["links"]:
        if tuple(link["container"]) == chain:
            entries[link["path"]] = {"kind": "symlink", "target": link["target"]}
    for s in report["specials"]:
        if tuple(s["container"]) == chain:
            entries[s["path"]] = {"kind": s["kind"], "rdev": tuple(s["rdev"]) if s["rdev"] else None}
    return "!".join(chain), entries


def _compare(fmt: str, want: dict[str, dict], report: dict) -> None:
    chain, got = _rootfs_tree(report)
    problems = []
    for path, w in sorted(want.items()):
        if w["kind"] == "dir":
            continue  # directories are implied by their entries; empty ones are checked below
        g = got.get(path)
        if g is None:
            problems.append(f"missing {path} ({w['kind']})")
            continue
        if g["kind"] != w["kind"]:
            problems.append(f"{path}: kind {g['kind']} != {w['kind']}")
        elif w["kind"] == "file":
            if g["sha256"] != w["sha256"]:
                problems.append(f"{path}: content differs")
            if g["mode"] != w["mode"]:
                problems.append(f"{path}: mode {g['mode']:o} != {w['mode']:o}")
        elif w["kind"] == "symlink" and g["target"] != w["target"]:
            problems.append(f"{path}: target {g['target']!r} != {w['target']!r}")
    if fmt in fixtures.formats_with_devices():
        for path, (kind, major, minor, _mode) in fixtures.DEVICES.items():
            g = got.get(path)
            if g is None or g["kind"] != kind or g["rdev"] != (major, minor):
                problems.append(f"device {path}: {g}")
    extra = sorted(set(got) - set(want) - set(fixtures.DEVICES) - {"/lost+found"})
    if extra:
        problems.append(f"unexpected entries: {extra[:10]}")
    assert not problems, f"{fmt} ({chain}):\n" + "\n".join(problems)


@pytest.mark.parametrize("fmt", ROOTFS_FORMATS)
def test_format_round_trips(fmt, source, merged, run_scan):
    missing = fixtures.tool_missing(fmt)
    if missing:
        pytest.skip(f"{missing} not installed")
    image = fixtures.build(fmt)
    report = run_scan(image)
    failures = [(f["rule"], f["evidence"]) for f in report["findings"] if f["rule"] in FAILURE_RULES]
    assert failures == []
    want = merged if fmt in ("docker-save", "oci") else source
    _compare(fmt, want, report)


@pytest.mark.parametrize("fmt", fixtures.PACKAGE_FORMATS)
def test_packages_are_recognised(fmt, run_scan):
    report = run_scan(fixtures.build(fmt))
    assert report["target"]["kind"] == "package"
    assert any(f["kind"] == "script" or f["path"].endswith((".py", ".js")) for f in report["files"])
