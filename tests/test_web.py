"""Web UI and REST API (FastAPI TestClient): auth, CSRF, escaping, upload limit and content-hash storage,
admin-only registration, pages and API over a stored fleet, a real scan through the upload form."""

from __future__ import annotations

import argparse
import copy
import json
import re
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient

from veracity.store import Store
from veracity.web.app import Settings, create_app
from veracity.web.cli import register, register_token

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "examples" / "router-firmware.bin"
EVIL = '<script>alert("x")</script>'


@pytest.fixture(scope="module")
def report() -> dict:
    from veracity.scan import scan

    return json.loads(json.dumps(scan(FIRMWARE, cache_path=None)))


@pytest.fixture
def env(tmp_path, report):
    store = Store(f"sqlite:///{tmp_path / 'web.sqlite'}")
    r1 = copy.deepcopy(report)
    r1["target"]["sha256"] = "11" * 32
    r1["target"]["name"] = "vr-1.0.bin"
    r1["findings"][0]["evidence"] = EVIL  # an image-derived string
    r2 = copy.deepcopy(report)
    r2["target"]["sha256"] = "22" * 32
    r2["target"]["name"] = "vr-1.1.bin"
    r2["findings"] = r2["findings"][1:]
    extra = copy.deepcopy(next(e for e in r2["endpoints"] if e["egress"]))  # the update sends data to Germany
    extra.update(value="https://collect.example-metrics.de/v1", host="collect.example-metrics.de", country="DE",
                 registrable_domain="example-metrics.de", purpose="telemetry")
    r2["endpoints"].append(extra)
    a = store.ingest(r1, vendor="Example", product=f"VR {EVIL}", version="1.0").scan_id
    b = store.ingest(r2, vendor="Example", product=f"VR {EVIL}", version="1.1").scan_id
    user = store.create_token("alice")
    admin = store.create_token("root", admin=True)
    roots = tmp_path / "images"
    roots.mkdir()
    app = create_app(store, Settings(data_dir=tmp_path / "data", max_upload=2 << 20, register_roots=(roots,),
                                     cache_path=tmp_path / "cache.sqlite"))
    with TestClient(app) as client:
        yield {"client": client, "store": store, "user": user, "admin": admin, "a": a, "b": b, "roots": roots,
               "data": tmp_path / "data", "report": report}
    store.close()


def bearer(tok: str) -> dict:
    return {"Authorization": f"Bearer {tok}"}


def login(client, tok) -> str:
    r = client.post("/login", data={"token": tok}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/upload").text
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)


def test_auth_required(env):
    c = env["client"]
    assert c.get("/api/products").status_code == 401
    assert c.get("/api/products", headers=bearer("vt_wrong")).status_code == 401
    r = c.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert c.post("/login", data={"token": "nope"}).status_code == 403
    assert c.get("/api/products", headers=bearer(env["user"])).status_code == 200


def test_pages_escape_image_strings(env):
    c = env["client"]
    login(c, env["user"])
    for url in ("/", f"/scans/{env['a']}", "/scans", f"/diff?a={env['a']}&b={env['b']}",
                "/search?component=busybox", "/search?host=example-vendor.cn"):
        r = c.get(url)
        assert r.status_code == 200, url
        assert EVIL not in r.text, url
        assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "&lt;script&gt;" in c.get(f"/scans/{env['a']}").text
    report = c.get(f"/scans/{env['a']}/report")
    assert report.status_code == 200 and EVIL not in report.text
    compare = c.get(f"/diff?a={env['a']}&b={env['b']}").text
    assert "collect.example-metrics.de" in compare and "The full security diff" in compare
    full = c.get(f"/diff/report?a={env['a']}&b={env['b']}")
    assert full.status_code == 200 and "<!DOCTYPE html>" in full.text and EVIL not in full.text
    assert "collect.example-metrics.de" in full.text
    assert c.get(f"/diff/report?a={env['a']}&b=999").status_code == 404


def test_browse_search_diff_api(env):
    c, h = env["client"], bearer(env["user"])
    prods = c.get("/api/products", headers=h).json()
    assert [(p["vendor"], p["product"], p["versions"]) for p in prods] == [("Example", f"VR {EVIL}", 2)]
    vers = c.get("/api/products/versions", params={"vendor": "Example", "product": f"VR {EVIL}"}, headers=h).json()
    assert [v["target"]["version"] for v in vers] == ["1.0", "1.1"]
    page = c.get("/product", params={"vendor": "Example", "product": f"VR {EVIL}"}, headers=h)
    assert "vr-1.0.bin" in page.text and "vr-1.1.bin" in page.text
    scan = c.get(f"/api/scans/{env['a']}", headers=h).json()
    assert scan["status"] == "done" and scan["target"]["sha256"] == "11" * 32
    findings = c.get(f"/api/scans/{env['a']}/findings", headers=h).json()
    assert findings[0]["severity"] == "critical" and len(findings) == len(env["report"]["findings"])
    assert c.get(f"/api/scans/{env['a']}/report", headers=h).json()["target"]["name"] == "vr-1.0.bin"
    hits = c.get("/api/search/components", params={"name": "busybox", "version": "1.35.0"}, headers=h).json()
    assert sorted(x["target"] for x in hits) == ["vr-1.0.bin", "vr-1.1.bin"]
    eps = c.get("/api/search/endpoints", params={"host": "example-vendor.cn"}, headers=h).json()
    assert "mqtt://iot.example-vendor.cn:1883" in {e["endpoint"] for e in eps}
    assert {r["country"] for r in c.get("/api/dataflow", headers=h).json()} >= {"CN", "DK", "US"}
    diff = c.get("/api/diff", params={"a": env["a"], "b": env["b"]}, headers=h).json()
    assert [f["fingerprint"] for f in diff["fixed"]] == [env["report"]["findings"][0]["fingerprint"]]
    assert diff["new"] == []
    security = diff["security"]  # veracity.diff over the two stored reports
    assert security["schema"] == "veracity-diff/1"
    assert [f["fingerprint"] for f in security["findings"]["resolved"]] == [
        env["report"]["findings"][0]["fingerprint"]]
    assert ("endpoints", "added", "https://collect.example-metrics.de/v1") in {
        (c["area"], c["change"], c["subject"]) for c in security["changes"]}
    assert security["verdict"]["cross_border"]
    assert c.get("/api/scans/999", headers=h).status_code == 404
    spec = c.get("/openapi.json").json()
    assert {"/api/products", "/api/scans/{scan_id}/findings", "/api/search/components", "/api/upload",
            "/api/diff"} <= set(spec["paths"])


def test_csrf_on_forms(env):
    c = env["client"]
    login(c, env["user"])
    files = {"file": ("a.bin", b"hello world", "application/octet-stream")}
    assert c.post("/upload", files=files, data={"csrf": "0" * 40}, follow_redirects=False).status_code == 403
    assert c.post("/upload", files=files, follow_redirects=False).status_code == 403
    assert c.post("/logout", follow_redirects=False).status_code == 403


def test_upload_limit_and_content_hash_storage(env):
    c, h = env["client"], bearer(env["user"])
    big = {"file": ("big.bin", b"\0" * ((2 << 20) + 1), "application/octet-stream")}
    assert c.post("/api/upload", files=big, headers=h).status_code == 413
    assert [p.name for p in (env["data"] / "blobs").iterdir()] == []  # nothing left behind
    evil_name = {"file": ("../../../etc/passwd", b"#!/bin/sh\necho hi\n", "text/plain")}
    r = c.post("/api/upload", files=evil_name, headers=h)
    assert r.status_code == 202
    sha = r.json()["sha256"]
    assert [p.name for p in (env["data"] / "blobs").iterdir()] == [sha]
    scan = c.get(f"/api/scans/{r.json()['scan_id']}", headers=h).json()
    assert scan["target"]["name"] == "passwd"


def test_register_is_admin_only_and_rooted(env, tmp_path):
    c = env["client"]
    inside = env["roots"] / "x.bin"
    inside.write_bytes(b"\x00" * 64)
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"\x01" * 64)
    assert c.post("/api/register", json={"path": str(inside)}, headers=bearer(env["user"])).status_code == 403
    assert c.post("/api/register", json={"path": str(outside)}, headers=bearer(env["admin"])).status_code == 400
    sneaky = str(env["roots"] / ".." / "outside.bin")
    assert c.post("/api/register", json={"path": sneaky}, headers=bearer(env["admin"])).status_code == 400
    r = c.post("/api/register", json={"path": str(inside), "product": "Blob"}, headers=bearer(env["admin"]))
    assert r.status_code == 202 and r.json()["queued"]


def test_upload_form_scans_the_image(env):
    """The real flow: upload the example firmware through the form, the scan runs in the pool, findings show."""
    c = env["client"]
    csrf = login(c, env["user"])
    with FIRMWARE.open("rb") as fh:
        data = fh.read()
    r = c.post("/upload", files={"file": ("router-firmware.bin", data, "application/octet-stream")},
               data={"csrf": csrf, "vendor": "Example", "product": "VR-2000", "version": "2.0"}, follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        page = c.get(url).text
        if 'id="status" class="status-done"' in page or "status-failed" in page:
            break
        time.sleep(0.5)
    assert 'id="status" class="status-done"' in page, page[:2000]
    assert "VER-SVC-002" in page and "/etc/init.d/rcS" in page  # telnetd -l /bin/sh
    # the same bytes again: no second scan
    r2 = c.post("/upload", files={"file": ("again.bin", data, "application/octet-stream")},
                data={"csrf": csrf}, follow_redirects=False)
    assert r2.headers["location"] == url


def test_token_cli(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="veracity")
    sub = parser.add_subparsers(dest="command")
    run_token = register_token(sub)
    register(sub)
    db = tmp_path / "t.sqlite"
    assert run_token(parser.parse_args(["token", "--db", str(db), "create", "ci", "--admin"])) == 0
    tok = capsys.readouterr().out.strip()
    assert tok.startswith("vt_")
    store = Store(str(db))
    assert store.check_token(tok).admin
    store.close()
    assert run_token(parser.parse_args(["token", "--db", str(db), "list"])) == 0
    out = capsys.readouterr().out
    assert "ci" in out and tok not in out
    args = parser.parse_args(["serve", "--db", str(db), "--port", "0", "--max-upload", "10M"])
    assert args.max_upload == 10 << 20


def test_missing_server_extra_is_explained_not_raised(monkeypatch, capsys, tmp_path):
    import argparse

    from veracity import extras

    real = extras.missing
    monkeypatch.setattr(extras, "missing", lambda mods: [*real(mods), "fastapi"])
    parser = argparse.ArgumentParser(prog="veracity")
    sub = parser.add_subparsers(dest="command")
    run = register(sub)
    assert run(parser.parse_args(["serve", "--db", str(tmp_path / "s.sqlite")])) == 3
    assert "pip install 'veracity[server]'" in capsys.readouterr().err
    assert extras.missing(("json", "no_such_module_here")) == ["no_such_module_here", "fastapi"]


def test_attestations_added_listed_and_downloaded(env, tmp_path):
    from veracity import attest

    c, h = env["client"], bearer(env["user"])
    key, _ = attest.keygen(tmp_path / "vendor")
    report = c.get(f"/api/scans/{env['a']}/report", headers=h).json()
    envelope, _ = attest.attest_report(report, attest.load_private_key(key))
    url = f"/api/scans/{env['a']}/attestations"
    r = c.post(url, content=json.dumps(envelope), headers=h)
    assert r.status_code == 201 and r.json()["image_sha256"] == ["11" * 32]
    listed = c.get(url, headers=h).json()
    assert [a["key_ids"] for a in listed] == [[envelope["signatures"][0]["keyid"]]]
    got = c.get(listed[0]["url"], headers=h)
    assert got.status_code == 200 and json.loads(got.text) == envelope
    assert "attachment" in got.headers["content-disposition"]
    # the subject must be this scan's image; anything else is refused
    assert c.post(f"/api/scans/{env['b']}/attestations", content=json.dumps(envelope), headers=h).status_code == 400
    assert c.post(url, content=b"{not json", headers=h).status_code == 400
    forged = dict(envelope, payload="bm90IGpzb24=")
    assert c.post(url, content=json.dumps(forged), headers=h).status_code == 400
    assert c.post(url, content=b"x" * (5 << 20), headers=h).status_code == 413
    assert c.get(f"/api/scans/{env['a']}/attestations/999", headers=h).status_code == 404
    assert c.get(f"/api/scans/{env['b']}/attestations/{listed[0]['id']}", headers=h).status_code == 404
    login(c, env["user"])
    page = c.get(f"/scans/{env['a']}").text
    assert envelope["signatures"][0]["keyid"] in page and "veracity verify" in page
