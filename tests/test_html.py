"""The HTML report: self-contained, every image-derived string escaped, and checked in a real browser."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from veracity import report as report_mod
from veracity.findings import Finding, Rule
from veracity.render import html as html_mod
from veracity.render import markdown
from veracity.render.html_assets import CSS, JS
from veracity.standards import conformance

PROBE = "<script>window.__pwned=1;document.title='PWNED'</script><img src=x onerror=\"document.title='PWNED'\">\"'&\u202e\udc80\x00"

KEY = Rule("VER-KEY-001", "key.private", "high", "Private key shipped in the image", standards=("EN303645:5.4-3",),
           references=("https://example.org/ref",))
SHELL = Rule("VER-SVC-002", "service.remote-access", "critical", "Shell without login on a port",
             standards=("EN303645:5.6-1", "GDSI:7"))
EGRESS = Rule("VER-EGR-003", "egress.cross-border", "medium", "Endpoint in a forbidden jurisdiction")
BLOB = Rule("VER-UNP-006", "analysis.incomplete", "info", "Unrecognised region kept as a blob")


def make_report(findings: list[Finding], **sections) -> dict:
    ordered = sorted({f.fingerprint: f for f in findings}.values(), key=Finding.sort_key)
    by_sev = {s: 0 for s in ("critical", "high", "medium", "low", "info")}
    by_cat: dict[str, int] = {}
    for f in ordered:
        by_sev[f.severity] += 1
        by_cat[f.category] = by_cat.get(f.category, 0) + 1
    report = {
        "schema_version": "1",
        "tool": {"name": "veracity", "version": "0.1.0", "rules_version": "0.1.0+test"},
        "target": {"name": "fw.bin", "path": "/tmp/fw.bin", "sha256": "b" * 64, "size": 4096, "kind": "firmware"},
        "started_at": "2025-01-01T00:00:00Z",
        "duration_s": 2.0,
        "extraction": {"files": 10, "bytes": 1000, "depth": 2, "containers": [], "errors": []},
        "findings": [f.to_dict() for f in ordered],
        "accounts": [],
        "services": [],
        "endpoints": [],
        "components": [],
        "conformance": [],
        "checks": [{"id": "keys", "status": "ran", "reason": None}, {"id": "services", "status": "ran", "reason": None}],
        "summary": {"by_severity": by_sev, "by_category": dict(sorted(by_cat.items()))},
    }
    report.update(sections)
    assert report_mod.validate(report) == []
    return report


def hostile_report() -> dict:
    findings = [
        KEY.finding(path="/etc/" + PROBE, container=("fw.bin", "squashfs@0x1000", PROBE), evidence=PROBE, line=2),
        SHELL.finding(path="/etc/inittab", container=("fw.bin", "squashfs@0x1000"),
                      evidence="::respawn:/usr/sbin/telnetd -l /bin/sh", title="telnetd gives a shell " + PROBE),
        EGRESS.finding(path="/usr/bin/cloud", container=("fw.bin", "squashfs@0x1000"), evidence="http://t.example.cn/x"),
        BLOB.finding(path=None, container=("fw.bin",), evidence="region 0x0-0x100"),
    ]
    report = make_report(
        findings,
        services=[{
            "name": "telnetd" + PROBE, "binary": "/usr/sbin/telnetd", "args": ["-l", PROBE], "ports": [{"proto": "tcp", "port": 23}],
            "auth": "none", "started_by": ["/etc/inittab", PROBE], "summary": PROBE,
            "credentials": [{"name": "root" + PROBE, "uid": 0, "password_state": "empty"}],
        }, {
            "name": "dropbear", "binary": "/usr/sbin/dropbear", "args": [], "ports": [{"proto": "tcp", "port": 22}],
            "auth": "password", "started_by": ["/etc/init.d/dropbear"],
            "credentials": [{"name": "admin", "uid": 0, "password_state": "cracked", "password_hint": "ad***"}],
        }],
        accounts=[{"name": "root" + PROBE, "uid": 0, "gid": 0, "shell": PROBE, "home": "/root", "password_state": "empty",
                   "source": "/etc/shadow", "login": True}],
        endpoints=[
            {"value": "http://t.example.cn/x", "kind": "url", "host": "t.example.cn", "port": None, "scheme": "http",
             "country": "CN", "owner": PROBE, "purpose": "telemetry", "paths": ["/usr/bin/cloud", PROBE]},
            {"value": PROBE, "kind": "domain", "host": None, "port": None, "scheme": None, "country": None, "owner": None,
             "purpose": None, "paths": []},
            {"value": "ntp.example.org", "kind": "domain", "host": "ntp.example.org", "port": None, "scheme": None,
             "country": "DE", "owner": "Example", "purpose": "time", "paths": ["/etc/ntp.conf"]},
        ],
        components=[{"name": "busybox" + PROBE, "version": "1.31.1", "purl": "pkg:generic/busybox@1.31.1", "cpe": None,
                     "paths": ["/bin/busybox"], "evidence": PROBE}],
        extraction={"files": 10, "bytes": 1000, "depth": 2, "containers": [], "errors": [{"path": PROBE, "message": PROBE}]},
        checks=[{"id": "keys", "status": "ran", "reason": None}, {"id": "services", "status": "ran", "reason": None},
                {"id": "egress", "status": "not-applicable", "reason": PROBE}],
    )
    report["conformance"] = conformance(report["findings"], report["checks"], ())
    report["triage"] = {"ignore_file": PROBE, "ignored": [{"fingerprint": "c" * 32, "rule": "VER-X-001", "severity": "low",
                        "path": PROBE, "entry": 1, "reason": PROBE, "expires": None}], "severity": None,
                        "hidden_by_severity": 0, "baseline": None, "warnings": [PROBE], "total_findings": 5}
    return report


def test_every_image_string_is_escaped():
    page = html_mod.render(hostile_report())
    assert page.count("<script") == 1  # ours, at the end
    assert "<img" not in page and "__pwned=1;document" in page  # the probe is there, as text
    assert "&lt;script&gt;window.__pwned" in page
    assert "\u202e" not in page and "\\u202e" in page  # bidi override shown, not applied
    assert "\\x80" in page and "\x00" not in page and "\\x00" in page
    assert "onerror=\"document" not in page
    # attribute values cannot be closed by the probe
    for attr in re.findall(r'data-search="([^"]*)"', page):
        assert "<" not in attr and "'" not in attr


def test_page_fetches_nothing_and_its_csp_pins_the_inline_code():
    page = html_mod.render(hostile_report())
    tags = _tags(page)
    assert not [t for t in tags if t[0] in ("img", "link", "iframe", "object", "embed", "audio", "video", "base")]
    assert not [t for t in tags if {"src", "srcset", "poster", "background", "action"} & set(t[1])]
    assert [t[0] for t in tags].count("script") == 1
    assert "@import" not in CSS and "url(" not in CSS and "fetch(" not in JS and "XMLHttpRequest" not in JS
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page).group(1)
    assert "default-src 'none'" in csp

    def sha(text):
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert f"script-src {sha(JS)}" in csp and f"style-src {sha(CSS)}" in csp
    assert f"<script>{JS}</script>" in page and f"<style>{CSS}</style>" in page
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert all(h.startswith(("#", "https://")) for h in hrefs), hrefs


def _tags(page: str) -> list[tuple[str, dict]]:
    from html.parser import HTMLParser

    found: list[tuple[str, dict]] = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, dict(attrs)))

    P().feed(page)
    return found


def test_sections_and_verdict():
    report = hostile_report()
    page = html_mod.render(report)
    for section in ("verdict", "exposure", "findings", "dataflow", "conformance", "sbom", "accounts", "checks"):
        assert f'id="{section}"' in page
    assert 'class="verdict v-fail"' in page and "Pledge not met: 1 critical and 1 high finding(s)" in page
    # exposure map: service -> port -> credential
    assert "tcp/23" in page and "tcp/22" in page and "ad***" in page and ">empty<" in page
    # data flow by country, the unknown country last, the flagged endpoint marked
    assert page.index("<strong>CN</strong>") < page.index("<strong>DE</strong>") < page.index("<strong>unknown</strong>")
    assert 'class="bad">http://t.example.cn/x</code> <span class="bad">flagged</span>' in page
    # conformance matrix rows and findings rows with filter attributes
    assert page.count('class="clause"') == len(report["conformance"])
    assert page.count('class="finding"') == 4
    assert 'data-sev="critical"' in page and 'data-cat="egress.cross-border"' in page
    assert "busybox" in page and "pkg:generic/busybox@1.31.1" in page


def test_verdicts():
    assert html_mod.verdict(make_report([]))[0] == "pass"
    low = Rule("VER-SVC-004", "service.listener", "low", "Listener")
    assert html_mod.verdict(make_report([low.finding(path="/x", evidence="e")]))[0] == "review"
    incomplete = Rule("VER-UNP-002", "analysis.incomplete", "high", "Could not unpack")
    kind, _head, _ = html_mod.verdict(make_report([incomplete.finding(path=None, evidence="e")]))
    assert kind == "fail"
    medium_incomplete = Rule("VER-UNP-003", "analysis.incomplete", "medium", "Limit hit")
    kind, _, details = html_mod.verdict(make_report([medium_incomplete.finding(path=None, evidence="e")]))
    assert kind == "review" and "1 part(s) of the image could not be analysed" in details[0]


def test_markdown_is_inert():
    text = markdown.render(hostile_report())
    assert "<script" not in text and "<img" not in text
    assert "&lt;script&gt;" in text
    assert "Pledge not met" in text and "### Conformance" in text and "Failing clauses" in text
    for line in text.splitlines():
        if line.startswith("| ") and "VER-" in line and "Where" not in line:
            assert line.count(" | ") == 4, line  # no probe broke a table row
    assert "\u202e" not in text and "\\u202e" in text


def test_markdown_neutralises_links_images_and_mentions():
    f = KEY.finding(path="/etc/k", evidence="@admin ![x](http://evil.example/p.png) [y](javascript:alert(1)) | `x` *b*")
    text = markdown.render(make_report([f]))
    row = next(line for line in text.splitlines() if "VER" in line and "/etc/k" in line)
    assert "&#64;admin" in row and "@" not in row
    assert "\\!\\[x\\]\\(http://evil.example/p.png\\)" in row  # not an image
    assert "\\[y\\]\\(javascript:alert\\(1\\)\\)" in row  # not a link
    assert "\\| \\`x\\` \\*b\\*" in row
    assert row.count(" | ") == 4


# -- in a real browser ---------------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions",
        f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", "--window-size=1280,2400",
        *extra, url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, cwd=tmp_path, check=False)


def _console_problems(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines()
            if "CONSOLE" in line or "Uncaught" in line or "Refused to" in line]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_renders_in_chromium_without_console_errors_and_filters(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(html_mod.render(hostile_report()), encoding="utf-8")
    shot = tmp_path / "shot.png"
    r = _chromium(tmp_path, page.as_uri(), f"--screenshot={shot}")
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000, r.stderr[-2000:]
    assert _console_problems(r.stderr) == []

    r = _chromium(tmp_path, page.as_uri() + "#q=inittab", "--dump-dom")
    dom = r.stdout
    assert 'data-ready="1"' in dom, r.stderr[-2000:]  # the script ran to its end
    assert _console_problems(r.stderr) == []
    assert re.search(r"<title>veracity: fw\.bin</title>", dom)  # the probe did not retitle the page
    assert dom.count("<script") == 1 and "<img" not in dom
    assert "showing 1 of 4 findings" in dom  # the search from the URL hid the other findings

    r = _chromium(tmp_path, page.as_uri() + "#sev=critical,high", "--dump-dom")
    assert "showing 2 of 4 findings" in r.stdout


@pytest.mark.corpus
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_real_image_report_in_chromium(tmp_path, run_scan):
    from conftest import corpus

    report = run_scan(corpus("firmware/tplink-mr3020v1-3.17.2.bin"))
    report["conformance"] = conformance(report["findings"], report["checks"], ())
    page = tmp_path / "tplink.html"
    page.write_text(html_mod.render(report), encoding="utf-8")
    text = page.read_text()
    assert "Pledge not met" in text and text.count('class="finding"') == len(report["findings"])
    assert "tcp/80" in text  # httpd in the exposure map
    shot = tmp_path / "tplink.png"
    r = _chromium(tmp_path, page.as_uri(), f"--screenshot={shot}")
    assert shot.exists() and shot.stat().st_size > 10_000 and _console_problems(r.stderr) == []
    r = _chromium(tmp_path, page.as_uri() + "#q=/etc/shadow", "--dump-dom")
    n = sum(1 for f in report["findings"]
            if "/etc/shadow" in " ".join([f["title"], f["path"] or "", f["evidence"], *f["container"]]).lower())
    assert f"showing {n} of {len(report['findings'])} findings" in r.stdout


def test_exposure_map_says_when_services_were_not_analysed():
    report = make_report([], checks=[{"id": "services", "status": "not-applicable", "reason": "no inittab <x>"}])
    page = html_mod.render(report)
    assert "Services were not analysed (not-applicable: no inittab &lt;x&gt;)" in page
    assert "No service started at boot was found." in html_mod.render(make_report([]))
