"""Browser test: Playwright for Python driving Debian's chromium (never a downloaded browser) through
log in -> upload -> scan progress -> findings -> report -> compare. Screenshots go to $VERACITY_ARTIFACTS
(default: the test's tmp dir). Skipped when playwright or /usr/bin/chromium is missing."""

from __future__ import annotations

import copy
import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
sync_api = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

from veracity.store import Store
from veracity.web.app import Settings, create_app

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "examples" / "router-firmware.bin"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    from veracity.scan import scan

    store = Store(f"sqlite:///{tmp_path / 'b.sqlite'}")
    older = json.loads(json.dumps(scan(FIRMWARE, cache_path=None)))
    older = copy.deepcopy(older)
    older["target"]["sha256"] = "33" * 32
    older["target"]["name"] = "vr-2000-1.0.bin"
    older["findings"] = [f for f in older["findings"] if f["rule"] != "VER-SVC-002"]  # telnet came later
    store.ingest(older, vendor="Example", product="VR-2000", version="1.0")
    token = store.create_token("browser")
    app = create_app(store, Settings(data_dir=tmp_path / "data", cache_path=tmp_path / "cache.sqlite"))
    port = _port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", token
    srv.should_exit = True
    t.join(10)
    app.state.scanner.close()
    store.close()


def test_upload_scan_findings_diff(server, tmp_path):
    base, token = server
    shots = Path(os.environ.get("VERACITY_ARTIFACTS", tmp_path / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(base + "/")
        assert page.url.endswith("/login")
        page.fill("input[name=token]", token)
        page.click("button")
        page.wait_for_selector("#products")
        assert "VR-2000" in page.inner_text("#products")
        page.screenshot(path=str(shots / "1-products.png"), full_page=True)
        page.click("text=Upload")
        page.set_input_files("input[name=file]", str(FIRMWARE))
        page.fill("input[name=vendor]", "Example")
        page.fill("input[name=product]", "VR-2000")
        page.fill("input[name=version]", "2.0")
        page.click("#upload")
        page.wait_for_selector("#status")
        page.screenshot(path=str(shots / "2-progress.png"), full_page=True)
        page.wait_for_selector("#status.status-done", timeout=90_000)  # the page refreshes itself
        table = page.inner_text("#findings")
        assert "VER-SVC-002" in table and "/etc/init.d/rcS" in table
        page.screenshot(path=str(shots / "3-findings.png"), full_page=True)
        scan_url = page.url
        page.click("#report-link")
        page.wait_for_load_state()
        assert "router-firmware.bin" in page.content()
        page.screenshot(path=str(shots / "4-report.png"))
        page.goto(scan_url)
        page.click("#compare")
        page.wait_for_selector("#new")
        assert "VER-SVC-002" in page.inner_text("#new")
        assert page.inner_text(".verdict").strip()  # the security diff's verdict heads the page
        page.screenshot(path=str(shots / "5-diff.png"), full_page=True)
        page.goto(base + "/search?component=busybox&version=1.35.0")
        assert "vr-2000-1.0.bin" in page.inner_text("#component-results")
        browser.close()
    assert sorted(p.name for p in shots.iterdir()) == ["1-products.png", "2-progress.png", "3-findings.png",
                                                      "4-report.png", "5-diff.png"]
