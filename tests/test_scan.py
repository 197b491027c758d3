"""End to end on small archives built in the test: formats, layering, hostile input, report contract, CLI."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import findings, tree_of

from veracity.cli import main
from veracity.options import ScanOptions
from veracity.scan import scan


def _tar(path: Path, members: list[tuple], compress: str = "") -> Path:
    with tarfile.open(path, "w:" + compress) as tf:
        for m in members:
            kind, name, *rest = m
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if kind == "file":
                data = rest[0]
                info.size = len(data)
                info.mode = rest[1] if len(rest) > 1 else 0o644
                tf.addfile(info, io.BytesIO(data))
                continue
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, rest[0]
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, rest[0]
            elif kind == "chardev":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 5, 1
            tf.addfile(info)
    return path


ROOTFS = [
    ("dir", "etc"),
    ("file", "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
    ("file", "etc/banner", b"welcome\n"),
    ("file", "bin/busybox", b"\x7fELF" + b"\0" * 200, 0o4755),
    ("symlink", "bin/sh", "busybox"),
    ("hardlink", "bin/ls", "bin/busybox"),
    ("symlink", "etc/resolv.conf", "/tmp/resolv.conf"),
]


def test_tar_gz_rootfs(run_scan, tmp_path):
    report = run_scan(_tar(tmp_path / "rootfs.tar.gz", ROOTFS, "gz"))
    assert report["target"]["kind"] == "archive"
    files = tree_of(report)
    assert files["/etc/passwd"]["mode"] == "0644"
    assert files["/bin/busybox"]["mode"] == "4755"
    assert files["/bin/sh"]["target"] == "busybox"
    assert files["/etc/resolv.conf"]["target"] == "/tmp/resolv.conf"
    assert files["/bin/ls"]["sha256"] == files["/bin/busybox"]["sha256"]
    assert report["extraction"]["containers"][0]["format"] == "tar.gzip"
    assert findings(report, category="code.malicious") == []


def test_zip_with_symlink(run_scan, tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("app/run.sh", "#!/bin/sh\necho hi\n")
        link = zipfile.ZipInfo("app/current")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "run.sh")
    report = run_scan(path)
    files = tree_of(report)
    assert files["/app/current"]["target"] == "run.sh"
    assert files["/app/run.sh"]["kind"] == "script"


def test_cpio_newc(run_scan, tmp_path):
    def entry(name: bytes, mode: int, data: bytes = b"") -> bytes:
        fields = [1, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
        hdr = b"070701" + b"".join(b"%08X" % f for f in fields) + name + b"\0"
        hdr += b"\0" * ((-len(hdr)) % 4)
        return hdr + data + b"\0" * ((-len(data)) % 4)

    blob = entry(b"init", 0o100755, b"#!/bin/sh\nexec /bin/sh\n") + entry(b"dev/console", 0o020600)
    blob += entry(b"TRAILER!!!", 0)
    path = tmp_path / "initramfs.cpio"
    path.write_bytes(blob)
    report = run_scan(path)
    assert tree_of(report)["/init"]["kind"] == "script"


def test_docker_save_layers_and_whiteouts(run_scan, tmp_path):
    layer1 = _tar(tmp_path / "l1.tar", [("file", "etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
                                         ("file", "etc/banner", b"hello\n"),
                                         ("file", "opt/app/old.conf", b"old\n")])
    layer2 = _tar(tmp_path / "l2.tar", [("file", "etc/passwd", b"root:x:0:0::/root:/bin/sh\nsvc:x:0:0::/:/bin/sh\n"),
                                         ("file", "etc/.wh.banner", b""),
                                         ("file", "opt/app/.wh..wh..opq", b""),
                                         ("file", "opt/app/new.conf", b"new\n")])
    manifest = json.dumps([{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["l1/layer.tar", "l2/layer.tar"]}])
    image = _tar(tmp_path / "image.tar", [("file", "manifest.json", manifest.encode()),
                                           ("file", "c.json", b"{}"),
                                           ("file", "l1/layer.tar", layer1.read_bytes()),
                                           ("file", "l2/layer.tar", layer2.read_bytes())])
    report = run_scan(image)
    assert report["target"]["kind"] == "container-image"
    files = tree_of(report)
    assert "/etc/banner" not in files and "/opt/app/old.conf" not in files
    assert "/opt/app/new.conf" in files
    passwd = [f for f in report["files"] if f["path"] == "/etc/passwd"]
    assert len(passwd) == 1 and passwd[0]["size"] == len(b"root:x:0:0::/root:/bin/sh\nsvc:x:0:0::/:/bin/sh\n")


def test_hostile_tar_is_contained_and_reported(run_scan, tmp_path):
    path = _tar(tmp_path / "evil.tar", [("file", "../../evil.sh", b"#!/bin/sh\nrm -rf /\n"),
                                         ("symlink", "link", "/tmp"),
                                         ("file", "link/pwned", b"x"),
                                         ("hardlink", "shadow", "../../../etc/shadow"),
                                         ("file", "ok.txt", b"fine")])
    outside = list(tmp_path.parent.iterdir())
    report = run_scan(path)
    rules = sorted(f["rule"] for f in report["findings"])
    assert "VER-UNP-101" in rules and "VER-UNP-103" in rules and "VER-UNP-102" in rules
    assert "/ok.txt" in tree_of(report)
    assert list(tmp_path.parent.iterdir()) == outside
    assert not Path("/tmp/pwned").exists()


def test_gzip_bomb_stops_at_ratio_limit(run_scan, tmp_path):
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb", compresslevel=9) as fh:
        block = b"\0" * (1 << 20)
        for _ in range(64):
            fh.write(block)
    report = run_scan(path, max_ratio=20, ratio_floor=2 << 20)
    hit = findings(report, rule="VER-UNP-002")
    assert hit and "ratio" in hit[0]["evidence"]
    assert report["extraction"]["bytes"] < 8 << 20


def test_nesting_depth_limit(run_scan, tmp_path):
    inner = tmp_path / "n0.tar"
    _tar(inner, [("file", "deepest.txt", b"x" * 100)])
    for i in range(1, 6):
        outer = tmp_path / f"n{i}.tar"
        _tar(outer, [("file", f"n{i - 1}.tar", inner.read_bytes())])
        inner = outer
    report = run_scan(inner, max_depth=3)
    hit = findings(report, rule="VER-UNP-002")
    assert hit and "depth" in hit[0]["evidence"]
    assert report["extraction"]["depth"] == 3


def test_garbage_and_empty_complete(run_scan, tmp_path):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes((i * 7919 + 13) % 251 for i in range(200_000)))
    report = run_scan(garbage)
    assert findings(report, rule="VER-UNP-003")
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    report = run_scan(empty)
    assert report["target"]["size"] == 0


def test_directory_target_never_follows_links(run_scan, tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    os.symlink("/etc/shadow", root / "etc/shadow")
    os.symlink("../../../../../../etc", root / "etc/up")
    report = run_scan(root)
    assert report["target"]["kind"] == "directory"
    files = tree_of(report)
    assert files["/etc/shadow"]["target"] == "/etc/shadow"
    assert "/etc/up/passwd" not in files
    assert [f["path"] for f in findings(report, rule="VER-UNP-102")] == ["/etc/up"]


def test_report_is_deterministic(run_scan, tmp_path):
    path = _tar(tmp_path / "rootfs.tar", ROOTFS)
    a, b = run_scan(path), run_scan(path)
    for r in (a, b):
        r.pop("started_at"), r.pop("duration_s")
    assert json.dumps(a) == json.dumps(b)


def test_cli_exit_codes(tmp_path, capsys):
    assert main(["scan", str(tmp_path / "missing")]) == 2
    evil = _tar(tmp_path / "evil.tar", [("file", "../x", b"x")])
    out = tmp_path / "r.json"
    args = ["scan", str(evil), "--format", "json", "-o", str(out), "-q", "--no-cache"]
    assert main(args) == 0
    assert main([*args, "--fail-on", "high"]) == 1
    assert json.loads(out.read_text())["findings"][0]["rule"] == "VER-UNP-101"
    with pytest.raises(SystemExit) as exc:
        main(["scan", str(evil), "--max-bytes", "lots"])
    assert exc.value.code == 2


def test_inventory_cache_makes_identical_files_and_rescans_free(tmp_path):
    from veracity.inventory import Cache, build
    from veracity.limits import Budget, Limits, RatioGuard
    from veracity.tree import Tree
    from veracity.unpack.writer import TreeWriter

    tree = Tree(("t",), "dir")
    lim = Limits()
    w = TreeWriter(tmp_path / "t", tree, Budget(lim), RatioGuard(lim, 1 << 30), [])
    for i in range(5):
        w.file(f"copy{i}.sh", [b"#!/bin/sh\necho same\n"])
    w.file("other.txt", [b"different\n"])
    cache = Cache(tmp_path / "c.sqlite")
    first = build([tree], cache)
    assert (first.analysed, first.cache_hits) == (2, 4)
    cache.close()
    cache = Cache(tmp_path / "c.sqlite")
    second = build([tree], cache)
    assert (second.analysed, second.cache_hits) == (0, 6)
    assert [i.facts for i in second.items] == [i.facts for i in first.items]


def test_scan_time_limit_is_a_finding(run_scan, tmp_path):
    path = _tar(tmp_path / "rootfs.tar", ROOTFS * 1 + [("file", f"f{i}", b"x" * 10) for i in range(200)])
    report = run_scan(path, timeout_s=1e-9)
    hit = findings(report, rule="VER-UNP-002")
    assert hit and "time limit" in hit[0]["evidence"]


def test_text_memory_budget_is_reported(tmp_path, monkeypatch):
    from veracity import inventory
    from veracity.testing.memfs import inventory_from

    monkeypatch.setattr(inventory, "TEXT_BUDGET", 100)
    inv = inventory_from({f"/etc/f{i}.conf": f"option {i} {'x' * 40}\n" for i in range(5)}, tmp_path)
    kept = [i for i in inv.items if i.facts.text is not None]
    assert len(kept) == 2
    dropped = [i for i in inv.items if i.facts.text is None]
    assert all(inv.strings(i) for i in dropped)
    assert [f.rule for f in inv.findings] == ["VER-UNP-002"] and "budget" in inv.findings[0].evidence


def test_cli_yara_rules_flag(tmp_path, capsys):
    pytest.importorskip("yara_x")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "t.yar").write_text(
        'rule planted { meta: category = "code.malicious" severity = "high" '
        'strings: $a = "veracity-planted-marker" condition: $a }\n'
    )
    target = tmp_path / "t"
    target.mkdir()
    (target / "x.sh").write_text("#!/bin/sh\necho veracity-planted-marker\n")
    out = tmp_path / "r.json"
    assert main(["scan", str(target), "--yara-rules", str(rules), "--format", "json", "-o", str(out), "-q"]) == 0
    hits = [f for f in json.loads(out.read_text())["findings"] if f["rule"].startswith("VER-YAR-")]
    assert [(f["path"], f["severity"]) for f in hits] == [("/x.sh", "high")]


def test_a_failing_check_is_a_finding_not_a_crash(run_scan, tmp_path, monkeypatch):
    from veracity.checks import registry

    class Broken:
        """A check that always fails."""

        ID, TITLE, RULES, PATTERNS = "broken", "Broken", (), ()

        def run(self, inv, sections):
            raise RuntimeError("boom")

    monkeypatch.setattr(registry, "CHECKS", (Broken(),))
    report = run_scan(_tar(tmp_path / "a.tar", ROOTFS))
    hit = findings(report, rule="VER-CHK-001")
    assert hit and "broken: RuntimeError('boom')" in hit[0]["evidence"]
    assert report["checks"] == [{"id": "broken", "status": "failed", "reason": "RuntimeError('boom')"}]


def test_device_node_in_a_package_is_reported(run_scan, tmp_path):
    path = _tar(tmp_path / "pkg.tgz", [("file", "package/package.json", b'{"name": "x", "version": "1.0.0"}'),
                                        ("chardev", "package/dev/console")], "gz")
    report = run_scan(path)
    assert report["target"]["kind"] == "package"
    assert [f["path"] for f in findings(report, rule="VER-UNP-104")] == ["/package/dev/console"]


def test_yara_unavailable_and_unscannable_files_are_findings(tmp_path, monkeypatch):
    import sys as _sys

    from veracity.checks.yara import YaraCheck
    from veracity.testing.memfs import inventory_from

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.yar").write_text('rule a { strings: $a = "zzz" condition: $a }\n')
    inv = inventory_from({"/etc/x": "zzz\n"}, tmp_path)
    monkeypatch.setitem(_sys.modules, "yara_x", None)
    assert [f.rule for f in YaraCheck(rules_dir=rules).run(inv, {})] == ["VER-YAR-003"]
    monkeypatch.undo()
    pytest.importorskip("yara_x")
    import os as _os

    _os.unlink(inv.items[0].node.disk_path)
    assert [f.rule for f in YaraCheck(rules_dir=rules).run(inv, {})] == ["VER-YAR-002"]


def test_table_shows_verdicts_exposure_and_findings(tmp_path):
    from rich.console import Console

    from veracity.render import table
    from veracity.scan import scan

    root = tmp_path / "fs"
    (root / "etc/init.d").mkdir(parents=True)
    (root / "etc/inittab").write_text("::sysinit:/etc/init.d/rcS\n")
    (root / "etc/init.d/rcS").write_text("#!/bin/sh\ntelnetd -l /bin/sh\n")
    (root / "etc/init.d/rcS").chmod(0o755)
    (root / "bin").mkdir()
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox not installed")
    shutil.copy(busybox, root / "bin/busybox")  # the services check looks for the telnetd applet in it
    (root / "usr/sbin").mkdir(parents=True)
    os.symlink("/bin/busybox", root / "usr/sbin/telnetd")
    report = scan(root, workdir=tmp_path / "w", cache_path=None)
    console = Console(record=True, width=200)
    table.render(report, console)
    text = console.export_text()
    assert "Standards" in text and "EN303645" in text
    assert "telnetd" in text and "23/tcp" in text
    assert "VER-SVC-002" in text


def test_cli_selects_checks(tmp_path):
    evil = _tar(tmp_path / "a.tar", ROOTFS)
    out = tmp_path / "r.json"
    assert main(["scan", str(evil), "--checks", "none", "--format", "json", "-o", str(out), "-q", "--no-cache"]) == 0
    assert json.loads(out.read_text())["checks"] == []
    assert main(["scan", str(evil), "--checks", "accounts,keys", "--format", "json", "-o", str(out), "-q"]) == 0
    assert [c["id"] for c in json.loads(out.read_text())["checks"]] == ["accounts", "keys"]
    assert main(["scan", str(evil), "--checks", "nosuch", "-q"]) == 2


def test_scan_from_a_worker_thread_leaves_sigterm_alone(tmp_path):
    """The web UI and batch run scans in threads: no signal handler may be set there (it would raise)."""
    import signal
    import threading

    from veracity.scan import scan

    target = _tar(tmp_path / "rootfs.tar.gz", ROOTFS, "gz")
    out: dict = {}

    def work():
        try:
            out["report"] = scan(target, cache_path=None)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            out["error"] = exc

    before = signal.getsignal(signal.SIGTERM)
    t = threading.Thread(target=work)
    t.start()
    t.join(120)
    assert "error" not in out, out.get("error")
    assert tree_of(out["report"])["/bin/busybox"]["mode"] == "4755"
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_host_that_chose_a_multiprocessing_start_method_can_still_scan(tmp_path):
    """unblob sets the start method when imported; a host program that already chose one must not break it."""
    import subprocess
    import sys

    example = Path(__file__).resolve().parents[1] / "examples" / "router-firmware.bin"
    code = (
        "import multiprocessing, sys\n"
        "multiprocessing.set_start_method('spawn')\n"
        "from pathlib import Path\n"
        "from veracity.scan import scan\n"
        f"r = scan(Path({str(example)!r}), cache_path=None)\n"
        "print(r['extraction']['errors'], r['findings'][0]['rule'], multiprocessing.get_start_method())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[] VER-BKD-004 spawn", out.stdout + out.stderr


def test_checks_none_matches_no_patterns():
    """`--checks none` measures unpacking and inventory alone: no check's patterns are matched either."""
    from veracity.checks import registry

    assert len(registry.patterns(())) == 0
    assert len(registry.patterns(None)) > 100


def test_a_program_named_like_an_image_is_not_carved(run_scan, tmp_path):
    # mkfs.jffs2 ends like an image; it is an ELF program and is judged like every other one, while a file
    # named like an image whose head says nothing is still carved for what it holds
    elf = Path("/bin/true").read_bytes()
    hidden = b"\0" * 512 + gzip.compress(b"root::0:0::/root:/bin/sh\n", mtime=0)
    path = _tar(tmp_path / "rootfs.tar",
                [("file", "usr/sbin/mkfs.jffs2", elf), ("file", "lib/firmware/radio.bin", hidden)])
    report = run_scan(path)
    opened = [c["path"] for c in report["extraction"]["containers"]]
    assert not any("mkfs.jffs2" in p for p in opened)
    assert any("radio.bin" in p for p in opened)
    assert not [f for f in findings(report, rule="VER-UNP-003") if f["path"] == "/usr/sbin/mkfs.jffs2"]


def test_the_program_writes_everything_and_keeps_its_exit_status(tmp_path):
    """`veracity` ends without freeing its objects one by one (cli.entry): what it wrote is all there, through a
    pipe too, and the exit status is main()'s."""
    import subprocess
    import sys

    example = Path(__file__).resolve().parents[1] / "examples" / "router-firmware.bin"
    run = [sys.executable, "-m", "veracity.cli"]
    out = subprocess.run([*run, "scan", "--no-cache", "--format", "json", "--fail-on", "critical", str(example)],
                         check=False, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "VERACITY_NO_PROGRESS": "1"})
    report = json.loads(out.stdout)  # the whole report came through the pipe
    assert out.returncode == (1 if any(f["severity"] == "critical" for f in report["findings"]) else 0)
    assert report["findings"] and out.returncode == 1
    assert subprocess.run([*run, "scan", str(tmp_path / "missing")], check=False, capture_output=True,
                          timeout=60).returncode == 2
    written = tmp_path / "r.sarif"
    subprocess.run([*run, "scan", "--no-cache", "-q", "--format", f"sarif={written}", str(example)],
                   check=False, capture_output=True, timeout=120)
    assert json.loads(written.read_text())["runs"]


def test_checks_data_is_read_in_the_background_and_a_failure_is_left_to_the_check(tmp_path, monkeypatch):
    import threading

    from veracity.checks import egress

    where: list[str] = []

    def warm() -> None:
        where.append(threading.current_thread().name)
        raise OSError("ownership data unreadable")

    monkeypatch.setattr(egress.EgressCheck, "warm", staticmethod(warm))
    example = Path(__file__).resolve().parents[1] / "examples" / "router-firmware.bin"
    report = scan(example, workdir=tmp_path, options=ScanOptions(checks=("egress",)))
    assert where and where[0] == "warm-egress"  # a thread of its own, started with the scan
    assert {c["id"]: c["status"] for c in report["checks"]}["egress"] == "ran" and report["endpoints"]


def test_the_image_hashed_meanwhile_is_the_image(tmp_path):
    import hashlib

    example = Path(__file__).resolve().parents[1] / "examples" / "router-firmware.bin"
    report = scan(example, workdir=tmp_path, options=ScanOptions(checks=()))
    data = example.read_bytes()
    assert (report["target"]["sha256"], report["target"]["size"]) == (hashlib.sha256(data).hexdigest(), len(data))
