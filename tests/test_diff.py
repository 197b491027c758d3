"""``veracity diff``: pairs of fixture images (a rebuild, one change of every kind, a planted implant), saved
reports, synthetic report pairs for what fixtures cannot show offline (vulnerabilities, downgrades), the
renderers' escaping, and the command line."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from veracity import report as report_mod
from veracity.diff import DiffError, Side, compare, diff_paths, fails
from veracity.diff import cli as diff_cli
from veracity.diff import files as files_mod
from veracity.diff import render as render_mod
from veracity.diff import traits as traits_mod
from veracity.diff.model import is_security
from veracity.scan import scan
from veracity.testing import diff_fixtures as dfx

pytestmark = pytest.mark.skipif(dfx.tool_missing() is not None, reason=f"missing: {dfx.tool_missing()}")


# -- fixtures -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """Images and diffs of the three pairs, built and compared once for the module."""
    root = tmp_path_factory.mktemp("diff")
    out = {}
    specs = {
        "rebuild": {"edit": dfx.restamp, "base": dfx.restamp_base, "new_epoch": dfx.EPOCH + 40 * 86400},
        "sink": {"edit": dfx.kitchen_sink},
        "implant": {"edit": dfx.implant, "base": dfx.with_liblzma},
    }
    for name, spec in specs.items():
        old, new = dfx.build_pair(root / name, **spec)
        diff = diff_paths(old, new, workdir=root / "work", cache_path=None)
        out[name] = {"old": old, "new": new, "diff": diff}
    assert not list((root / "work").iterdir()), "unpacked files left behind"
    return out


@pytest.fixture(scope="module")
def implant_reports(pairs, tmp_path_factory):
    """The implant pair as saved reports."""
    root = tmp_path_factory.mktemp("reports")
    paths = {}
    for side in ("old", "new"):
        report = scan(pairs["implant"][side], workdir=root / "work", cache_path=None)
        assert report_mod.validate(report) == []
        paths[side] = root / f"{side}.json"
        paths[side].write_text(report_mod.dumps(report))
    return paths


def changes(diff, area=None, kind=None, subject=None):
    return [c for c in diff["changes"] if (area is None or c["area"] == area) and (kind is None or c["change"] == kind)
            and (subject is None or c["subject"] == subject)]


def one(diff, area, kind, subject):
    found = changes(diff, area, kind, subject)
    assert len(found) == 1, (area, kind, subject, [(c["area"], c["change"], c["subject"]) for c in diff["changes"]])
    return found[0]


def security(diff):
    return [(c["area"], c["change"], c["subject"]) for c in diff["changes"] if is_security(c)]


# -- a rebuild ----------------------------------------------------------------------------------------------


def test_rebuild_with_new_timestamps_is_no_security_change(pairs):
    diff = pairs["rebuild"]["diff"]
    assert diff["old"]["sha256"] != diff["new"]["sha256"]  # two builds, not one image twice
    assert security(diff) == []
    assert diff["verdict"]["headline"] == "No security change"
    assert diff["verdict"] == {**diff["verdict"], "security_change": False, "way_in": False, "cross_border": False}
    assert not fails(diff, diff_cli.DEFAULT_FAIL_ON)
    files = diff["files"]
    # build stamps in texts (banner, release, build info), a build-id and a Debian revision in binaries
    assert sorted(files["stamp_only"]["examples"]) == [
        "/bin/busybox", "/bin/busybox-hardlink", "/etc/banner", "/etc/build_info", "/etc/openwrt_release",
        "/usr/sbin/nvram"]
    assert files["changed_without_new_capabilities"]["count"] == 0
    assert files["changed_text"] == [] and files["added"] == [] and files["removed"] == []
    assert diff["findings"]["new"] == [] and diff["findings"]["resolved"] == []
    # the shared host key that was not rotated is still worth saying
    kept = one(diff, "keys", "unchanged", "/etc/dropbear/dropbear_rsa_host_key, /etc/ssl/private/httpd.key")
    assert kept["notable"] and kept["severity"] == "info" and "not rotated" in kept["title"]
    text = render_mod.render_text(diff)
    assert "No security change" in text and "6 differ only in build stamps" in text
    assert "/etc/banner" in text  # as an example of the summary, not listed as a change
    assert "Changes that matter" not in text


# -- one change of every kind -------------------------------------------------------------------------------


def test_accounts(pairs):
    diff = pairs["sink"]["diff"]
    support = one(diff, "accounts", "added", "support")
    assert (support["severity"], support["way_in"]) == ("critical", True)
    assert support["old"] is None and support["new"]["uid"] == 0 and support["new"]["password_state"] == "empty"
    assert {f["rule"] for f in support["findings"]} >= {"VER-ACC-001", "VER-ACC-003"}
    ftp = one(diff, "accounts", "changed", "ftp")
    assert ftp["way_in"] and ftp["severity"] == "high"
    assert "shell: '/bin/false' -> '/bin/sh'" in ftp["details"] and "can now log in" in ftp["details"]
    assert ftp["old"]["login"] is False and ftp["new"]["login"] is True
    root = one(diff, "accounts", "changed", "root")
    assert not root["way_in"]
    assert any(d.startswith("password hash changed") for d in root["details"])
    assert root["old"]["password_digest"] != root["new"]["password_digest"]
    assert "$1$" not in json.dumps(root)  # digests of the hash field, never the hash
    # the default-password findings of the old root password are resolved with it
    assert {f["rule"] for f in root["findings"] if f["side"] == "OLD"} >= {"VER-ACC-004", "VER-BKD-004"}
    gone = one(diff, "accounts", "removed", "network")
    assert gone["severity"] == "info" and gone["new"] is None and gone["old"]["uid"] == 101


def test_services(pairs):
    diff = pairs["sink"]["diff"]
    telnet = one(diff, "services", "added", "telnetd")
    assert (telnet["severity"], telnet["way_in"]) == ("high", True)
    assert telnet["new"]["ports"] == ["2323/tcp"] and telnet["new"]["auth"] == "password"
    assert telnet["new"]["started_by"] == ["/etc/inittab", "/etc/init.d/rcS"]
    assert [f["rule"] for f in telnet["findings"]] == ["VER-SVC-001"]
    dropbear = one(diff, "services", "changed", "dropbear")
    assert dropbear["way_in"] and "new ports: 2222/tcp" in dropbear["details"]
    assert dropbear["old"]["ports"] == ["22/tcp"] and dropbear["new"]["ports"] == ["22/tcp", "2222/tcp"]
    assert not changes(diff, "services", subject="httpd")  # unchanged services are not listed


def test_endpoints(pairs):
    diff = pairs["sink"]["diff"]
    de = one(diff, "endpoints", "added", "ntp.example-time.de")
    assert de["cross_border"] and de["severity"] == "high" and de["new"]["country"] == "DE"
    assert "DE is a destination country the old version did not have" in de["details"]
    cn = one(diff, "endpoints", "added", "http://support.example-vendor.cn/s.sh")
    assert not cn["cross_border"]  # CN was already a destination of the old version
    gone = one(diff, "endpoints", "removed", "time.example-vendor.cn")
    assert gone["severity"] == "info" and gone["old"]["purpose"] == "time"


def test_keys(pairs):
    diff = pairs["sink"]["diff"]
    rotated = one(diff, "keys", "rotated", "/etc/ssl/private/httpd.key")
    assert rotated["severity"] == "info" and not rotated["way_in"]
    assert rotated["old"]["digest"] != rotated["new"]["digest"]
    kept = one(diff, "keys", "unchanged", "/etc/dropbear/dropbear_rsa_host_key")
    assert kept["notable"] and kept["old"]["digest"] == kept["new"]["digest"] == rotated["old"]["digest"]
    login = one(diff, "keys", "added", "/root/.ssh/authorized_keys")
    assert login["way_in"] and login["new"]["category"] == "credential.authorized-key"
    assert login["new"]["digest"].startswith("SHA256:")


def test_components_and_findings(pairs):
    diff = pairs["sink"]["diff"]
    up = one(diff, "components", "upgraded", "openwrt")
    assert up["old"]["versions"] == ["1.2.3"] and up["new"]["versions"] == ["1.2.4"]
    # still end of life after the upgrade: the finding moves with the version, it is not new
    assert up["severity"] == "info"
    assert {(f["side"], f["rule"]) for f in up["findings"]} == {("NEW", "VER-CMP-003"), ("OLD", "VER-CMP-003")}
    new = [c for c in changes(diff, "findings", "new")]
    assert [(c["new"]["rule"], c["path"]) for c in new] == [("VER-SEC-005", "/etc/aws/credentials")]
    resolved = changes(diff, "findings", "resolved")
    assert [(c["old"]["rule"], c["path"]) for c in resolved] == [("VER-SEC-005", "/etc/config/system")]
    # every new and resolved finding is shown somewhere
    assert all(f["shown_in"] for f in diff["findings"]["new"] + diff["findings"]["resolved"])


def test_executables_scripts_and_files(pairs):
    diff = pairs["sink"]["diff"]
    nvram = one(diff, "executables", "changed", "/usr/sbin/nvram")
    assert nvram["severity"] == "high"  # network and command execution at once, and a shell
    gained = nvram["new"]["gained"]
    assert gained["exec"] == ["execve"] and gained["network"] == ["connect", "socket"]
    assert gained["shell-string"] == ["/bin/sh"]
    added = one(diff, "scripts", "added", "/etc/init.d/S99support")
    assert added["severity"] == "high" and any("wget -q -O - http://support" in d for d in added["details"])
    assert "+[ \"$1\" = start ] && wget" in added["diff"]
    assert [f["rule"] for f in added["findings"]] == ["VER-MAL-005"]
    rcs = one(diff, "scripts", "changed", "/etc/init.d/rcS")
    lines = rcs["diff"].splitlines()
    assert lines[:2] == ["--- OLD/etc/init.d/rcS", "+++ NEW/etc/init.d/rcS"]
    assert "-/usr/sbin/dropbear -p 22 -r /etc/dropbear/dropbear_rsa_host_key" in lines
    assert "+/usr/sbin/dropbear -p 22 -p 2222 -r /etc/dropbear/dropbear_rsa_host_key" in lines
    assert "+/usr/sbin/telnetd -p 2323 -l /bin/login" in lines
    assert rcs["severity"] == "low"  # telnetd -l /bin/login asks for a login: the service change says the rest
    setuid = one(diff, "files", "changed", "/usr/sbin/dropbear")
    assert setuid["severity"] == "high" and setuid["details"] == ["setuid root gained"]
    files = diff["files"]
    assert [(r["old_path"], r["new_path"]) for r in files["renamed"]] == [("/www/index.html", "/www/index.htm")]
    assert not changes(diff, subject="/www/index.htm")
    assert {r["path"] for r in files["added"]} == {"/etc/aws/credentials", "/etc/init.d/S99support",
                                                   "/root/.ssh/authorized_keys"}
    assert files["stamp_only"]["examples"] == ["/etc/openwrt_release"]
    assert [t["path"] for t in files["changed_text"]] == ["/etc/config/system", "/etc/passwd", "/etc/shadow",
                                                          "/etc/ssl/private/httpd.key"]


def test_kitchen_sink_verdict_and_order(pairs):
    diff = pairs["sink"]["diff"]
    assert diff["verdict"]["way_in"] and diff["verdict"]["cross_border"]
    assert fails(diff, ("way-in",)) and fails(diff, ("cross-border",)) and not fails(diff, ("never", "way-in"))
    ways_in = {(c["area"], c["change"], c["subject"]) for c in diff["changes"] if c["way_in"]}
    assert ways_in == {("accounts", "added", "support"), ("accounts", "changed", "ftp"),
                       ("services", "added", "telnetd"), ("services", "changed", "dropbear"),
                       ("keys", "added", "/root/.ssh/authorized_keys")}
    ranks = [render_mod.SEVERITIES.index(c["severity"]) for c in diff["changes"]]
    assert ranks == sorted(ranks)
    assert diff["changes"][0]["subject"] == "support"


# -- the realistic pair: an implant in a library and a new endpoint -----------------------------------------


def test_implant_and_new_endpoint_are_exactly_the_changes_at_the_top(pairs):
    diff = pairs["implant"]["diff"]
    assert security(diff) == [("executables", "changed", "/usr/lib/liblzma.so.5"),
                              ("endpoints", "added", dfx.NEW_ENDPOINT)]
    lib, endpoint = diff["changes"][:2]
    assert (lib["severity"], lib["way_in"]) == ("critical", True)
    assert lib["title"].startswith("Library /usr/lib/liblzma.so.5 gained: runs commands, resolves symbols at run time")
    assert lib["new"]["gained"]["exec"] == ["system"]
    assert lib["new"]["gained"]["dynamic-resolution"] == ["dlsym"]
    assert lib["new"]["gained"]["shell-string"] == ["/bin/sh"]
    assert lib["new"]["gained"]["sshd-string"] == ["RSA_public_decrypt"]
    assert lib["new"]["gained"]["url-string"] == [dfx.IMPLANT_URL]
    assert any("compression library" in d for d in lib["details"])
    assert (endpoint["severity"], endpoint["cross_border"]) == ("high", True)
    assert endpoint["path"] == "/etc/config/system" and endpoint["new"]["purpose"] == "telemetry"
    assert diff["verdict"]["headline"].startswith("The update adds a way in: Library /usr/lib/liblzma.so.5")
    assert fails(diff, diff_cli.DEFAULT_FAIL_ON)
    # the rest is not news: the unchanged host key, the changed configuration file
    assert [c["change"] for c in diff["changes"][2:]] == ["unchanged"]
    assert [t["path"] for t in diff["files"]["changed_text"]] == ["/etc/config/system"]
    assert "+\toption report_url 'https://collect.example-metrics.de/v1/device'" in diff["files"]["changed_text"][0]["diff"]


@pytest.mark.parametrize("fmt", ["table", "markdown", "html", "json"])
def test_implant_at_the_top_of_every_format(pairs, fmt):
    text = render_mod.render(fmt, pairs["implant"]["diff"])
    lib = text.find("/usr/lib/liblzma.so.5")
    endpoint = text.find("collect.example-metrics.de")
    key = text.find("dropbear")
    assert 0 <= lib < endpoint < key, (lib, endpoint, key)
    if fmt != "json":
        assert "WAY IN" in text and "CROSS-BORDER" in text


# -- vulnerabilities, end to end (needs the shared NVD records) ---------------------------------------------

NVD = Path(__file__).resolve().parents[2] / "shared" / "knowledge" / "sources" / "nvd-cve-fixtures" / "nvd-2.0"


def test_vulnerability_introduced_by_a_downgrade(tmp_path):
    if not (NVD / "CVE-2023-28450.json").is_file():
        pytest.skip("shared NVD records not available")
    from veracity.components.vulndb import VulnDB
    from veracity.options import ScanOptions

    db = tmp_path / "vulndb.sqlite"
    with VulnDB(db) as vdb:
        vdb.import_files([NVD / "CVE-2023-28450.json"])
    old, new = dfx.build_pair(tmp_path / "pair", dfx.with_program_version("/usr/sbin/dnsmasq", "dnsmasq-2.89"),
                              base=dfx.with_program_version("/usr/sbin/dnsmasq", "dnsmasq-2.90"))
    diff = diff_paths(old, new, options=ScanOptions(vulndb=db), cache_path=None)
    down = one(diff, "components", "downgraded", "dnsmasq")
    assert (down["old"]["versions"], down["new"]["versions"]) == (["2.90"], ["2.89"])
    intro = one(diff, "vulnerabilities", "introduced", "dnsmasq CVE-2023-28450")
    assert intro["new"]["version"] == "2.89" and intro["severity"] in ("high", "critical", "medium")
    assert [f["rule"] for f in intro["findings"]] == ["VER-CMP-001"]
    assert not changes(diff, "findings", "new")
    assert not any("vulnerability database" in n for n in diff["notes"])
    swapped = diff_paths(new, old, options=ScanOptions(vulndb=db), cache_path=None)
    assert one(swapped, "vulnerabilities", "fixed", "dnsmasq CVE-2023-28450")["severity"] == "info"
    assert one(swapped, "components", "upgraded", "dnsmasq")["severity"] == "info"


# -- saved reports ------------------------------------------------------------------------------------------


def test_saved_reports(implant_reports):
    diff = diff_paths(implant_reports["old"], implant_reports["new"])
    assert diff["old"]["source"] == diff["new"]["source"] == "report"
    # without the images the library is not compared, so its embedded URL stands alone as a new endpoint
    assert security(diff) == [("endpoints", "added", dfx.IMPLANT_URL), ("endpoints", "added", dfx.NEW_ENDPOINT)]
    assert one(diff, "endpoints", "added", dfx.IMPLANT_URL)["path"] == "/usr/lib/liblzma.so.5"
    assert diff["verdict"]["cross_border"] and not diff["verdict"]["way_in"]
    not_compared = diff["files"]["changed_not_compared"]
    assert [(f["path"], f["kind"]) for f in not_compared] == [("/etc/config/system", "text"),
                                                               ("/usr/lib/liblzma.so.5", "elf")]
    assert any("saved report" in n and "need the images" in n for n in diff["notes"])


def test_image_against_saved_report(pairs, implant_reports):
    diff = diff_paths(implant_reports["old"], pairs["implant"]["new"], cache_path=None)
    assert diff["old"]["source"] == "report" and diff["new"]["source"] == "image"
    assert ("endpoints", "added", dfx.NEW_ENDPOINT) in security(diff)
    assert len([n for n in diff["notes"] if "saved report" in n]) == 1


def test_invalid_report_is_a_usage_error(tmp_path, implant_reports):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema_version": "1", "findings": "no"}))
    with pytest.raises(DiffError, match="not a valid veracity report"):
        diff_paths(bad, implant_reports["new"])
    assert diff_cli.main([str(bad), str(implant_reports["new"]), "-q"]) == 2
    assert diff_cli.main([str(tmp_path / "missing.bin"), str(implant_reports["new"]), "-q"]) == 2


# -- the command line ---------------------------------------------------------------------------------------


def test_cli_exit_codes_and_outputs(implant_reports, tmp_path, capsys):
    old, new = str(implant_reports["old"]), str(implant_reports["new"])
    out = tmp_path / "diff.json"
    assert diff_cli.main([old, new, "-f", "json", "-o", str(out), "-q"]) == 1
    data = json.loads(out.read_text())
    assert data["schema"] == "veracity-diff/1" and data["verdict"]["cross_border"]
    assert diff_cli.main([old, new, "-f", "json", "-q", "--fail-on", "way-in"]) == 0
    assert diff_cli.main([old, new, "-f", "json", "-q", "--fail-on", "never"]) == 0
    assert diff_cli.main([old, new, "-f", "json", "-q", "--fail-on", "high"]) == 1
    assert diff_cli.main([old, old, "-f", "json", "-q", "--fail-on", "change"]) == 0
    assert diff_cli.main([old, new, "-q", "--fail-on", "sometimes"]) == 2
    for fmt, marker in (("markdown", "## :x: veracity diff"), ("html", "<!DOCTYPE html>"), ("table", "Verdict")):
        path = tmp_path / f"diff.{fmt}"
        assert diff_cli.main([old, new, "-f", fmt, "-o", str(path), "-q"]) == 1
        assert marker in path.read_text()
    capsys.readouterr()
    assert diff_cli.main([old, new, "-f", "md", "--allow-countries", "DE,CN,RU", "-q"]) == 0
    assert "cross-border 0" not in capsys.readouterr().out  # the Markdown table has a cross-border column


def test_register_adds_the_subcommand(implant_reports):
    parser = argparse.ArgumentParser(prog="veracity")
    sub = parser.add_subparsers(dest="command")
    handler = diff_cli.register(sub)
    args = parser.parse_args(["diff", str(implant_reports["old"]), str(implant_reports["new"]), "-f", "json",
                              "-q", "--fail-on", "never", "-o", "/dev/null"])
    assert args.handler is handler and handler(args) == 0


def test_wired_into_the_main_cli(implant_reports):
    from veracity import cli

    sub = next(a for a in cli.parser()._actions if isinstance(a, argparse._SubParsersAction))
    if "diff" not in sub.choices:
        pytest.skip("veracity diff is not wired into veracity.cli yet")
    old, new = str(implant_reports["old"]), str(implant_reports["new"])
    assert cli.main(["diff", old, new, "-f", "json", "-q", "-o", "/dev/null"]) == 1
    assert cli.main(["diff", old, new, "-f", "json", "-q", "-o", "/dev/null", "--fail-on", "never"]) == 0


def test_allow_countries_decides_cross_border(implant_reports):
    assert not diff_paths(implant_reports["old"], implant_reports["new"],
                          allow_countries=("DE", "RU"))["verdict"]["cross_border"]
    assert diff_paths(implant_reports["old"], implant_reports["new"],
                      allow_countries=("DE",))["verdict"]["cross_border"]  # the implant's .ru URL
    assert diff_paths(implant_reports["old"], implant_reports["new"],
                      allow_countries=("CN",))["verdict"]["cross_border"]


# -- synthetic report pairs ---------------------------------------------------------------------------------


def _report(**sections) -> dict:
    base = {"schema_version": "1", "tool": {"name": "veracity", "version": "t", "rules_version": "t"},
            "target": {"name": "fw.bin", "path": "fw.bin", "sha256": "0" * 64, "size": 1, "kind": "firmware"},
            "findings": [], "accounts": [], "services": [], "endpoints": [], "components": [], "files": [],
            "links": []}
    base.update(sections)
    return base


def _diff(old: dict, new: dict, **kw) -> dict:
    return compare(Side("OLD", Path("old.json"), "report", old), Side("NEW", Path("new.json"), "report", new), **kw)


def _finding(rule, category, severity, path, evidence, fp, title="t"):
    return {"rule": rule, "category": category, "severity": severity, "title": title, "path": path,
            "container": ["fw.bin", "squashfs@0x100"], "evidence": evidence, "fingerprint": fp}


def _component(version, vulns=()):
    return {"name": "openssl", "version": version, "purl": None, "cpe": None, "paths": ["/usr/lib/libssl.so"],
            "evidence": "OpenSSL " + version, "vulnerabilities_checked": True,
            "vulnerabilities": [{"id": v, "severity": sev, "kev": kev, "state": None} for v, sev, kev in vulns]}


def test_vulnerabilities_fixed_and_introduced():
    old = _report(components=[_component("1.0.2k", [("CVE-2016-2107", "high", False), ("CVE-2016-0800", "medium", False)])],
                  findings=[_finding("VER-CMP-001", "component.vulnerable", "high", "/usr/lib/libssl.so",
                                     "openssl 1.0.2k: CVE-2016-2107 ...", "a1", "openssl 1.0.2k: CVE-2016-2107")])
    new = _report(components=[_component("1.0.2j", [("CVE-2016-0800", "medium", False),
                                                    ("CVE-2016-6304", "medium", True)])],
                  findings=[_finding("VER-CMP-001", "component.vulnerable", "high", "/usr/lib/libssl.so",
                                     "openssl 1.0.2j: CVE-2016-6304 ...", "b1", "openssl 1.0.2j: CVE-2016-6304")])
    diff = _diff(old, new)
    down = one(diff, "components", "downgraded", "openssl")
    assert down["severity"] == "medium" and down["old"]["versions"] == ["1.0.2k"]
    intro = one(diff, "vulnerabilities", "introduced", "openssl CVE-2016-6304")
    assert intro["severity"] == "high" and intro["new"]["kev"] is True  # known exploited: at least high
    assert [f["fingerprint"] for f in intro["findings"]] == ["b1"]
    fixed = one(diff, "vulnerabilities", "fixed", "openssl CVE-2016-2107")
    assert fixed["severity"] == "info" and [f["fingerprint"] for f in fixed["findings"]] == ["a1"]
    assert not changes(diff, "vulnerabilities", subject="openssl CVE-2016-0800")
    assert not changes(diff, "findings")
    assert fails(diff, ("high",)) and not fails(diff, ("way-in", "cross-border"))


def _svc(auth="password", ports=((22, "tcp"),), klass="ssh", args=("-p", "22")):
    return {"name": "dropbear", "binary": "/usr/sbin/dropbear", "args": list(args),
            "ports": [{"proto": p, "port": n} for n, p in ports], "auth": auth, "started_by": ["/etc/init.d/rcS"],
            "container": ["fw.bin", "squashfs@0x100"], "class": klass, "protocol": "ssh"}


def test_service_that_stops_asking_for_a_password():
    diff = _diff(_report(services=[_svc()]), _report(services=[_svc(auth="none")]))
    ch = one(diff, "services", "changed", "dropbear")
    assert (ch["severity"], ch["way_in"]) == ("critical", True) and "authentication: password -> none" in ch["details"]
    diff = _diff(_report(services=[_svc(auth="none")]), _report(services=[_svc(auth="password")]))
    assert one(diff, "services", "changed", "dropbear")["severity"] == "info"


def _acc(name, uid, state="locked", shell="/bin/false", login=False):
    return {"name": name, "uid": uid, "gid": uid, "shell": shell, "home": "/", "password_state": state,
            "source": "/etc/passwd", "container": ["fw.bin", "squashfs@0x100"], "login": login}


def test_account_that_becomes_a_superuser():
    diff = _diff(_report(accounts=[_acc("ops", 500, "hash:sha512crypt", "/bin/sh", True)]),
                 _report(accounts=[_acc("ops", 0, "hash:sha512crypt", "/bin/sh", True)]))
    ch = one(diff, "accounts", "changed", "ops")
    assert (ch["severity"], ch["way_in"]) == ("critical", True) and "uid: 500 -> 0" in ch["details"]
    diff = _diff(_report(accounts=[_acc("daemon", 1)]), _report(accounts=[_acc("daemon", 1), _acc("bin", 2)]))
    added = one(diff, "accounts", "added", "bin")
    assert (added["severity"], added["way_in"]) == ("low", False)  # an account that cannot log in


def test_endpoint_under_a_residency_policy():
    ep = {"value": "api.example-cloud.cn", "kind": "domain", "host": "api.example-cloud.cn", "port": None,
          "scheme": None, "country": "CN", "owner": None, "purpose": "cloud-management", "paths": ["/usr/bin/agent"]}
    diff = _diff(_report(), _report(endpoints=[{**ep, "policy": "allowed"}]))
    assert not one(diff, "endpoints", "added", ep["value"])["cross_border"]
    diff = _diff(_report(), _report(endpoints=[{**ep, "policy": "forbidden"}]))
    assert one(diff, "endpoints", "added", ep["value"])["cross_border"]
    local = {**ep, "value": "192.168.1.1", "kind": "ipv4", "country": None, "local": True}
    diff = _diff(_report(), _report(endpoints=[local]))
    assert one(diff, "endpoints", "added", "192.168.1.1")["severity"] == "info"


def test_backdoor_finding_is_a_way_in_and_severity_gate():
    f = _finding("VER-BKD-001", "backdoor.known", "critical", "/usr/bin/agent", "indicator", "c1", "Known backdoor")
    diff = _diff(_report(), _report(findings=[f]))
    ch = one(diff, "findings", "new", "Known backdoor")
    assert ch["way_in"] and diff["verdict"]["way_in"]
    info = _finding("VER-UNP-006", "analysis.incomplete", "info", None, "bytes", "d1", "Unrecognised data")
    diff = _diff(_report(), _report(findings=[info]))
    assert not diff["verdict"]["security_change"] and not fails(diff, ("low",)) and fails(diff, ("info",))


# -- noise control, traits, escaping ------------------------------------------------------------------------


def test_normalise_blanks_stamps_only():
    a = "VendorOS 1.2.3 r4711 built Thu Jan  1 00:00:00 UTC 2020 (git 8e71b0aa)"
    b = "VendorOS 1.2.4 r4790 built Fri Feb 13 10:20:30 UTC 2021 (git 3f2a9c1d)"
    assert files_mod.normalise(a) == files_mod.normalise(b)
    assert files_mod.normalise("telnetd -p 23") != files_mod.normalise("telnetd -p 23 -l /bin/sh")
    assert files_mod.normalise("facade") != files_mod.normalise("decade")  # words of hex letters stay


@pytest.mark.parametrize(("path", "startup"), [
    ("/etc/init.d/S50httpd", True), ("/etc/inittab", True), ("/etc/rc.d/rc.local", True),
    ("/lib/systemd/system/ssh.service", True), ("/etc/crontabs/root", True), ("/etc/hotplug.d/iface/20-x", True),
    ("/etc/config/system", False), ("/www/cgi-bin/login.cgi", False), ("/etc/init.d", False)])
def test_startup_files(path, startup):
    assert files_mod.is_startup(path) is startup


def test_trait_judgement():
    class Elf:
        def __init__(self, imports, type_="shared-object"):
            self.imports, self.type, self.interpreter = tuple(imports), type_, None

    old = traits_mod.profile("/lib/libz.so.1", Elf(["malloc", "memcpy"]), ["inflate"])
    new = traits_mod.profile("/lib/libz.so.1", Elf(["malloc", "memcpy", "dlopen"]), [])
    sev, way_in, _ = traits_mod.judge("/lib/libz.so.1", new, traits_mod.gained(old, new), is_new_file=False, had=old)
    assert (sev, way_in) == ("critical", True)  # a compression library that starts loading code
    def judge(path, before, after, strings_before=(), strings_after=(), new_file=False):
        old = None if before is None else traits_mod.profile(path, Elf(before), list(strings_before))
        new = traits_mod.profile(path, Elf(after), list(strings_after))
        return traits_mod.judge(path, new, traits_mod.gained(old, new), is_new_file=new_file, had=old)[:2]

    assert judge("/lib/libfoo.so.1", ["malloc"], ["malloc", "socket"]) == ("medium", False)
    assert judge("/lib/libfoo.so.1", ["malloc"], ["malloc", "system"]) == ("high", False)
    assert judge("/lib/libfoo.so.1", ["malloc"], ["malloc", "system"], [], ["/bin/sh -c %s"]) == ("critical", True)
    assert judge("/lib/libfoo.so.1", ["malloc"], ["malloc"], [], ["RSA_public_decrypt"]) == ("high", False)
    # a crypto library naming its own signature functions is not news
    assert judge("/lib/libcrypto.so.3", ["malloc"], ["malloc"], [], ["RSA_public_decrypt"]) == ("low", False)
    assert judge("/lib/libnew.so", None, ["socket", "system"], (), ["/bin/sh"], new_file=True) == ("low", False)
    assert judge("/lib/libnew.so", None, ["malloc"], (), ["hello world"], new_file=True) == ("info", False)
    prog_old = traits_mod.profile("/usr/bin/app", Elf(["socket", "connect"], "executable"), ["/bin/sh"])
    prog_new = traits_mod.profile("/usr/bin/app", Elf(["socket", "connect", "getaddrinfo"], "executable"), [])
    assert traits_mod.judge("/usr/bin/app", prog_new, traits_mod.gained(prog_old, prog_new), is_new_file=False,
                            had=prog_old)[0] == "low"
    assert traits_mod.script_lines(["telnetd -l /bin/login", "telnetd -p 99 -l /bin/sh", "nc -l -p 1 -e sh"]) == (
        "telnetd -p 99 -l /bin/sh", "nc -l -p 1 -e sh")


def _hostile_diff() -> dict:
    evil = "<script>alert(1)</script>\x1b[31m\u202e[x](http://evil.example/)`|"
    ch = {"area": "scripts", "change": "changed", "subject": evil, "severity": "high", "way_in": True,
          "cross_border": False, "notable": False, "title": f"Startup file {evil} changed", "details": [evil],
          "path": evil, "container": [], "old": {"path": evil}, "new": {"path": evil},
          "findings": [{"side": "NEW", "rule": "R", "severity": "high", "title": evil}],
          "diff": files_mod.visible(f"--- OLD{evil}\n+++ NEW{evil}\n+```\n+{evil}\n-<img src=x onerror=alert(1)>")}
    return {"schema": "veracity-diff/1", "tool": {"version": "t"},
            "old": {"name": evil, "source": "image", "kind": "firmware", "sha256": "0" * 64},
            "new": {"name": evil, "source": "image", "kind": "firmware", "sha256": "1" * 64},
            "verdict": {"headline": f"The update adds a way in: {evil}", "security_change": True, "way_in": True,
                        "cross_border": False, "ways_in": 1, "cross_border_endpoints": 0, "security_changes": 1},
            "summary": {"by_severity": {"high": 1}}, "changes": [ch], "findings": {"new": [], "resolved": []},
            "files": {"compared": "contents", "unchanged": 0, "added_count": 0, "added": [], "removed_count": 0,
                      "removed": [], "renamed": [{"old_path": evil, "new_path": evil}],
                      "stamp_only": {"count": 1, "examples": [evil]},
                      "changed_without_new_capabilities": {"count": 0, "files": []}, "changed_text": [],
                      "changed_not_compared": [], "links": {}},
            "notes": [evil]}


def test_html_is_self_contained_and_escapes_image_strings():
    page = render_mod.render_html(_hostile_diff())
    assert "<script>" not in page and "<img" not in page and "\x1b" not in page and "\u202e" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "script-src 'none'" in page and "default-src 'none'" in page
    assert not re.search(r"<[^>]*\b(?:src|href|on[a-z]+)\s*=", page)  # no element loads or runs anything


def test_markdown_and_terminal_escape_image_strings():
    text = render_mod.render_markdown(_hostile_diff())
    body = text.split("```diff", 1)[0]
    assert "<script>" not in body and "](http" not in body and "\x1b" not in text and "\u202e" not in text
    fence = re.search(r"^(`{3,})diff$", text, re.MULTILINE).group(1)
    assert len(fence) > 3  # longer than the backtick run inside, so the diff cannot close it
    term = render_mod.render_text(_hostile_diff())
    assert "\x1b" not in term and "\u202e" not in term and "\\x1b" in term and "\\u202e" in term
