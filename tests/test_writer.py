"""TreeWriter: the one place project extractors write through."""

from __future__ import annotations

import os

import pytest

from veracity.limits import Budget, LimitExceeded, Limits, RatioGuard
from veracity.tree import Tree
from veracity.unpack.writer import TreeWriter


def make(tmp_path, *, archive=True, strict=False, **limits):
    tree = Tree(("t.tar", "tar@0x0"), "tar")
    lim = Limits(**limits)
    found: list = []
    w = TreeWriter(tmp_path / "out", tree, Budget(lim), RatioGuard(lim, 1000), found, archive=archive,
                   strict_links=strict)
    return w, tree, found


def test_file_written_with_hash_and_mode(tmp_path):
    w, tree, found = make(tmp_path)
    node = w.file("etc/passwd", [b"root:x:0:0::/root:/bin/sh\n"], 0o100644 & 0o7777)
    assert node.sha256 and node.size == 26 and node.mode == 0o644
    assert (tmp_path / "out/etc/passwd").read_bytes().startswith(b"root:")
    assert tree.nodes["/etc"].kind == "dir"
    assert found == []


@pytest.mark.parametrize("name", ["../evil", "a/../../evil", "../../../../etc/cron.d/x"])
def test_traversal_refused_and_reported(tmp_path, name):
    w, _tree, found = make(tmp_path)
    assert w.file(name, [b"x"]) is None
    assert [f.rule for f in found] == ["VER-UNP-101"]
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil").exists()


def test_absolute_member_is_rooted_not_escaping(tmp_path):
    w, _tree, found = make(tmp_path)
    w.file("/etc/shadow", [b"root:*:1::::::\n"])
    assert (tmp_path / "out/etc/shadow").exists() and found == []


def test_links_are_never_created_on_disk(tmp_path):
    w, tree, found = make(tmp_path)
    w.symlink("bin/sh", "busybox")
    w.symlink("etc/resolv.conf", "/tmp/resolv.conf")
    assert tree.nodes["/bin/sh"].link_target == "busybox"
    assert not os.path.lexists(tmp_path / "out/bin/sh")
    assert found == []


def test_escaping_symlink_reported(tmp_path):
    w, tree, found = make(tmp_path)
    w.symlink("a/link", "../../../etc/shadow")
    assert [f.rule for f in found] == ["VER-UNP-102"]
    assert tree.nodes["/a/link"].link_target == "../../../etc/shadow"


def test_write_through_symlink_refused(tmp_path):
    w, _tree, found = make(tmp_path)
    w.symlink("link", "/tmp")
    assert w.file("link/pwned", [b"x"]) is None
    assert [f.rule for f in found] == ["VER-UNP-103"]
    assert not (tmp_path / "out/link").exists()


def test_strict_links_report_absolute_targets(tmp_path):
    w, _tree, found = make(tmp_path, strict=True)
    w.symlink("pkg/x", "/etc/passwd")
    assert [f.rule for f in found] == ["VER-UNP-102"]


def test_hardlink_shares_content_and_escape_is_reported(tmp_path):
    w, tree, found = make(tmp_path)
    w.file("bin/busybox", [b"\x7fELF..."], 0o755)
    w.hardlink("bin/ls", "bin/busybox")
    ls = tree.nodes["/bin/ls"]
    assert ls.kind == "file" and ls.link_target == "/bin/busybox" and ls.sha256 == tree.nodes["/bin/busybox"].sha256
    w.hardlink("x", "../../../etc/shadow")
    assert {f.rule for f in found} == {"VER-UNP-101", "VER-UNP-102"}
    assert "/x" not in tree.nodes


def test_devices_recorded_not_created(tmp_path):
    w, tree, _found = make(tmp_path, archive=False)
    w.special("dev/console", "chardev", (5, 1), 0o600)
    assert tree.nodes["/dev/console"].rdev == (5, 1)
    assert not os.path.lexists(tmp_path / "out/dev/console")


def test_nul_in_name_skipped(tmp_path):
    w, _tree, found = make(tmp_path)
    assert w.file("a\x00b", [b"x"]) is None
    assert [f.rule for f in found] == ["VER-UNP-005"]


def test_byte_limit(tmp_path):
    w, _tree, _found = make(tmp_path, max_bytes=1000)
    with pytest.raises(LimitExceeded) as exc:
        w.file("big", (b"\0" * 600 for _ in range(3)))
    assert exc.value.limit == "max_bytes"


def test_file_count_limit(tmp_path):
    w, _tree, _found = make(tmp_path, max_files=3)
    with pytest.raises(LimitExceeded) as exc:
        for i in range(10):
            w.file(f"f{i}", [b"x"])
    assert exc.value.limit == "max_files"


def test_ratio_limit(tmp_path):
    w, _tree, _found = make(tmp_path, max_ratio=10, ratio_floor=4096)
    with pytest.raises(LimitExceeded) as exc:
        w.file("bomb", (b"\0" * 4096 for _ in range(10)))
    assert exc.value.limit == "max_ratio"


def test_remove_for_whiteouts(tmp_path):
    w, tree, _found = make(tmp_path)
    w.file("etc/banner", [b"hi"])
    w.file("etc/x/y", [b"y"])
    w.remove("/etc/x")
    assert "/etc/x" not in tree.nodes and "/etc/x/y" not in tree.nodes
    assert not (tmp_path / "out/etc/x").exists()


def test_a_directory_replaced_by_a_link_is_not_written_through_even_when_it_was_just_used(tmp_path):
    """The writer keeps the last parent directory open; replacing that directory must drop it."""
    w, tree, found = make(tmp_path)
    assert w.file("d/sub/first", [b"1"]) is not None
    w.symlink("d/sub", "/tmp")  # replaces the directory that was just written into
    assert w.file("d/sub/pwned", [b"x"]) is None
    assert [f.rule for f in found] == ["VER-UNP-103"]
    assert not (tmp_path / "out/d/sub/pwned").exists() and tree.nodes["/d/sub"].kind == "symlink"
    w.symlink("e", "/etc")
    assert w.file("d/other", [b"2"]) is not None  # an unrelated link keeps the open parent
    w.close()


def test_parent_directories_are_reused_and_still_recorded(tmp_path):
    w, tree, _ = make(tmp_path)
    for i in range(50):
        w.file(f"usr/lib/x/f{i}", [b"data"])
    w.file("usr/bin/tool", [b"t"])
    assert {p for p in tree.nodes if p.count("/") <= 3 and tree.nodes[p].kind == "dir"} >= {
        "/usr", "/usr/lib", "/usr/lib/x", "/usr/bin"}
    assert sorted(os.listdir(tmp_path / "out/usr/lib/x"))[:2] == ["f0", "f1"]
    w.close()
