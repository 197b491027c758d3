"""The vulnerability database: import of real NVD CVE 2.0, OSV and KEV records, matching with version-range
edge cases and the BusyBox applet filter, ``veracity db`` (import, status, update) without any network."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import urllib.error
import zipfile
from pathlib import Path

import pytest

from veracity.components import cli, identify, matching, update, vulndb
from veracity.components.vulndb import VulnDB, VulnDBError

SOURCES = Path(__file__).resolve().parents[2] / "shared" / "knowledge" / "sources"
NVD = SOURCES / "nvd-cve-fixtures" / "nvd-2.0"
needs_sources = pytest.mark.skipif(not NVD.is_dir(), reason="shared knowledge fixtures not available")
CVE5 = SOURCES / "nvd-cve-fixtures" / "cve-5"
KEV = SOURCES / "cisa-kev" / "known_exploited_vulnerabilities.json"
OSV = Path(__file__).parent / "data" / "components" / "osv"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    def refuse(url, headers):
        raise AssertionError(f"a test tried the network: {url}")

    monkeypatch.setattr(update, "urllib_transport", refuse)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    if not NVD.is_dir():
        pytest.skip("shared knowledge fixtures not available")
    path = tmp_path_factory.mktemp("vdb") / "vulndb.sqlite"
    d = VulnDB(path)
    report = d.import_files([*sorted(NVD.glob("*.json")), KEV, *sorted(OSV.glob("*.json"))])
    assert (report.nvd, report.kev, report.osv) == (11, 1404, 1)
    yield d
    d.close()


def comp(key: str, version: str, **kw) -> identify.Component:
    from veracity.components import signatures

    info = signatures.knowledge()[key]
    return identify.Component(name=key, version=version, key=key, cpes=info.cpes, id=f"{key}@{version}", **kw)


def ids(matches) -> list[str]:
    return [m.vuln.id for m in matches if m.affected]


# -- import --------------------------------------------------------------------------------------------------


def test_import_counts_and_fields(db):
    st = db.status()
    assert st["vulnerabilities"] == 12 and st["kev"] == 1404 and st["kev_catalog"] == "2025.08.25"
    v = db.vuln("CVE-2016-2147")
    assert (v.score, v.severity, v.method) == (7.5, "HIGH", "CVSSv31")
    assert len(v.references) == len(set(v.references))
    assert db.vuln("CVE-2013-0230").method == "CVSSv2"  # only a v2 rating
    assert db.kev("CVE-2010-3904")["date_added"] == "2023-05-12"
    g = db.vuln("GHSA-j8r2-6x86-q33q")
    assert g.aliases == ("CVE-2023-32681",) and g.score == 6.1 and g.severity == "MEDIUM"


@needs_sources
def test_reimport_replaces(tmp_path):
    path = tmp_path / "v.sqlite"
    with VulnDB(path) as d:
        d.import_files([NVD / "CVE-2016-2181.json"])
        first = d.status()["cpe_ranges"]
        d.import_files([NVD / "CVE-2016-2181.json"])
        assert d.status()["cpe_ranges"] == first == 32


@needs_sources
def test_cve5_and_garbage_are_skipped_with_reasons(tmp_path):
    junk = tmp_path / "junk.json"
    junk.write_text("not json")
    other = tmp_path / "other.json"
    other.write_text('{"hello": "world"}')
    with VulnDB(tmp_path / "v.sqlite") as d:
        report = d.import_files([CVE5 / "CVE-2021-42386.json", junk, other, tmp_path / "missing.json"])
    reasons = dict(report.skipped)
    assert report.total == 0
    assert "no CPE configurations" in reasons["CVE-2021-42386.json"]
    assert "not JSON" in reasons["junk.json"]
    assert "not an NVD CVE 2.0, OSV or CISA KEV document" in reasons["other.json"]
    assert "cannot read" in reasons[str(tmp_path / "missing.json")]


@needs_sources
def test_feed_page_gzip_and_zip(tmp_path):
    records = [json.loads((NVD / n).read_text()) for n in ("CVE-2016-7406.json", "CVE-2018-15599.json")]
    page = {"resultsPerPage": 2, "format": "NVD_CVE", "version": "2.0", "vulnerabilities": [{"cve": r} for r in records]}
    feed = tmp_path / "nvdcve-2.0-2016.json.gz"
    feed.write_bytes(gzip.compress(json.dumps(page).encode()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("GHSA-j8r2-6x86-q33q.json", (OSV / "GHSA-j8r2-6x86-q33q.json").read_text())
    osv_zip = tmp_path / "all.zip"
    osv_zip.write_bytes(buf.getvalue())
    with VulnDB(tmp_path / "v.sqlite") as d:
        report = d.import_files([feed, osv_zip])
        assert (report.nvd, report.osv) == (2, 1)
        assert {s["name"] for s in d.status()["sources"]} == {"nvdcve-2.0-2016.json.gz", "all.zip"}


def test_schema_mismatch_and_missing(tmp_path):
    with pytest.raises(VulnDBError, match="no vulnerability database"):
        VulnDB(tmp_path / "nope.sqlite", readonly=True)
    bad = tmp_path / "bad.sqlite"
    with VulnDB(bad) as d:
        d.db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
        d.db.commit()
    with pytest.raises(VulnDBError, match="schema"):
        VulnDB(bad, readonly=True)


def test_default_path_respects_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert vulndb.default_path() == tmp_path / "veracity" / "vulndb.sqlite"


# -- matching ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "version", "expected"),
    [
        # OpenSSL: 30 enumerated versions, letter releases
        ("openssl", "1.0.2h", ["CVE-2016-2181"]), ("openssl", "1.0.1", ["CVE-2016-2181"]),
        ("openssl", "1.0.1t", ["CVE-2016-2181"]), ("openssl", "1.0.2i", []), ("openssl", "1.0.2k", []),
        ("openssl", "1.0.0", []),
        # BusyBox: inclusive start and end; tag-style versions
        ("busybox", "1.16.0", ["CVE-2016-2147", "CVE-2021-42386", "CVE-2022-48174"]),
        ("busybox", "1.15.3", ["CVE-2016-2147", "CVE-2022-48174"]),
        ("busybox", "1.33.1", ["CVE-2021-42386", "CVE-2022-48174"]), ("busybox", "1.33.2", ["CVE-2022-48174"]),
        ("busybox", "1_24_2", ["CVE-2016-2147", "CVE-2021-42386", "CVE-2022-48174"]),
        ("busybox", "1.36.1", ["CVE-2022-48174"]), ("busybox", "1.36.2", []),
        # Dropbear: date versions after 0.x versions
        ("dropbear", "0.46", ["CVE-2016-7406", "CVE-2018-15599"]), ("dropbear", "2016.73", ["CVE-2016-7406", "CVE-2018-15599"]),
        ("dropbear", "2016.74", ["CVE-2018-15599"]), ("dropbear", "2018.76", ["CVE-2018-15599"]), ("dropbear", "2019.78", []),
        # dnsmasq: exclusive end; a test release precedes its release
        ("dnsmasq", "2.89", ["CVE-2023-28450"]), ("dnsmasq", "2.90test1", ["CVE-2023-28450"]), ("dnsmasq", "2.90", []),
        # Linux: four-part versions, release candidates
        ("linux", "2.6.35.14", ["CVE-2010-3904"]), ("linux", "2.6.36-rc1", ["CVE-2010-3904"]), ("linux", "2.6.36", []),
        ("linux", "2.6.36.4", []),
        ("lighttpd", "1.4.49", ["CVE-2018-19052"]), ("lighttpd", "1.4.50", []),
        ("miniupnpd", "1.0", ["CVE-2013-0230"]), ("miniupnpd", "1.0.1", []), ("miniupnpd", "1.1", []),
        ("uclibc", "0.9.33.2", ["CVE-2017-9728"]), ("uclibc", "0.9.33.1", []),
    ],
)
def test_version_ranges(db, key, version, expected):
    assert ids(matching.match(db, comp(key, version, applets=None))) == expected


def test_no_version_no_match(db):
    assert matching.match(db, comp("busybox", None)) == []
    assert matching.match(db, comp("linux", "2.6", branch_only=True)) == []


def test_distribution_os_cpes_do_not_match_components(db):
    # CVE-2016-2147 also lists debian_linux 8.0/9.0; a component is matched by its own CPE only
    assert [r["criteria"] for r in db.cpe_candidates("debian", "debian_linux")]
    assert ids(matching.match(db, comp("busybox", "8.0", applets=None))) == []  # debian 8.0 is not busybox 8.0


def test_kernel_matches_are_low_confidence_with_kev(db):
    [m] = matching.match(db, comp("linux", "2.6.31", confidence="medium"))
    assert m.confidence == "low" and m.kev["date_added"] == "2023-05-12" and "back-ports" in m.detail


def test_busybox_applet_filter(db):
    with_udhcpc = matching.match(db, comp("busybox", "1.20.2", applets=["ash", "sh", "udhcpc"], applet_source="t"))
    assert {m.vuln.id: m.state for m in with_udhcpc} == {
        "CVE-2016-2147": "in_triage", "CVE-2021-42386": "not_affected", "CVE-2022-48174": "in_triage"}
    without = matching.match(db, comp("busybox", "1.20.2", applets=["msh", "sh"], applet_source="t"))
    assert all(m.state == "not_affected" and m.justification == "code_not_present" for m in without)
    assert "applet awk not compiled in" in next(m.detail for m in without if m.vuln.id == "CVE-2021-42386")
    unknown = matching.match(db, comp("busybox", "1.20.2", applets=None, confidence="medium"))
    assert {m.confidence for m in unknown} == {"low"} and all(m.affected for m in unknown)


def test_osv_match_by_ecosystem(db):
    old = identify.Component(name="requests", version="2.28.1", key=None, ecosystem="PyPI", manager="python",
                             confidence="high", id="requests@2.28.1")
    [m] = matching.match(db, old)
    assert (m.vuln.id, m.via, m.confidence, m.aliases) == ("GHSA-j8r2-6x86-q33q", "osv", "high", ["CVE-2023-32681"])
    for version in ("2.31.0", "2.2.1"):
        new = identify.Component(name="requests", version=version, key=None, ecosystem="PyPI", manager="python",
                                 id="r")
        assert matching.match(db, new) == []


# -- veracity db ---------------------------------------------------------------------------------------------


def parse(argv):
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    handler = cli.register(sub)
    args = p.parse_args(argv)
    assert args.handler is handler
    return args


@needs_sources
def test_cli_import_and_status(tmp_path, capsys):
    path = tmp_path / "v.sqlite"
    args = parse(["db", "--db", str(path), "import", str(NVD / "CVE-2016-2147.json"), str(KEV)])
    assert args.handler(args) == 0
    assert "imported 1 NVD records, 0 OSV records, 1404 KEV entries" in capsys.readouterr().err
    args = parse(["db", "--db", str(path), "status", "--json"])
    assert args.handler(args) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["exists"] and st["vulnerabilities"] == 1 and st["age_days"] == 0 and st["kev_catalog"] == "2025.08.25"
    args = parse(["db", "--db", str(path), "status"])
    assert args.handler(args) == 0
    assert "0 days old" in capsys.readouterr().out


def test_cli_errors(tmp_path, capsys):
    args = parse(["db", "--db", str(tmp_path / "v.sqlite"), "import", str(tmp_path / "missing.json")])
    assert args.handler(args) == 2
    args = parse(["db", "--db", str(tmp_path / "none.sqlite"), "status"])
    assert args.handler(args) == 0 and "no vulnerability database" in capsys.readouterr().out
    args = parse(["db"])
    assert args.handler(args) == 2


def test_cli_update_offline_fails_cleanly(tmp_path, monkeypatch, capsys):
    def offline(url, headers):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(update, "urllib_transport", offline)
    args = parse(["db", "--db", str(tmp_path / "v.sqlite"), "update", "--year", "2016"])
    assert args.handler(args) == 3
    err = capsys.readouterr().err
    assert "cannot reach nvd.nist.gov" in err and "veracity db import" in err
    assert not (tmp_path / "v.sqlite").exists()


class FakeServer:
    """Serves fixed bytes by URL, honours Range requests, can cut a transfer short."""

    def __init__(self, files: dict[str, bytes], cut: dict[str, int] | None = None):
        self.files, self.cut, self.requests = files, dict(cut or {}), []

    def __call__(self, url, headers):
        self.requests.append((url, headers.get("Range")))
        if url not in self.files:
            raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
        data = self.files[url]
        start = int(headers["Range"].split("=")[1].rstrip("-")) if "Range" in headers else 0
        body = data[start:]
        limit = self.cut.pop(url, None)
        return _Resp(206 if start else 200, body, len(body), limit)


class _Resp:
    def __init__(self, status, body, length, limit):
        self.status, self.headers = status, {"Content-Length": str(length)}
        self._buf = io.BytesIO(body if limit is None else body[:limit])
        self._limit = limit

    def read(self, n=-1):
        chunk = self._buf.read(n)
        if not chunk and self._limit is not None:
            raise TimeoutError("connection reset")
        return chunk


def _feed(name: str, records: list[str]) -> tuple[bytes, bytes]:
    page = {"format": "NVD_CVE", "version": "2.0",
            "vulnerabilities": [{"cve": json.loads((NVD / r).read_text())} for r in records]}
    raw = json.dumps(page).encode()
    meta = (f"lastModifiedDate:2026-06-17T05:47:45-04:00\r\nsize:{len(raw)}\r\nzipSize:0\r\n"
            f"gzSize:0\r\nsha256:{hashlib.sha256(raw).hexdigest().upper()}\r\n").encode()
    return gzip.compress(raw), meta


def test_download_resumes(tmp_path):
    payload = bytes(range(256)) * 1000
    url = "https://example.invalid/big.bin"
    server = FakeServer({url: payload}, cut={url: 100_000})
    dest = tmp_path / "big.bin"
    with pytest.raises(update.UpdateError, match="resume"):
        update.download(url, dest, server)
    assert (tmp_path / "big.bin.part").stat().st_size == 100_000
    fetched = update.download(url, dest, server)
    assert fetched.resumed_from == 100_000 and dest.read_bytes() == payload
    assert server.requests[-1] == (url, "bytes=100000-")


@needs_sources
def test_update_verifies_imports_and_skips_unchanged(tmp_path):
    gz, meta = _feed("2016", ["CVE-2016-2147.json", "CVE-2016-7406.json"])
    server = FakeServer({
        update.NVD_META.format(name="2016"): meta,
        update.NVD_FEED.format(name="2016"): gz,
        update.KEV_URL: KEV.read_bytes(),
    })
    db_path, feeds = tmp_path / "v.sqlite", tmp_path / "feeds"
    seen = []
    report = update.update(db_path, feeds, years=[2016], transport=server, progress=lambda n, d, t: seen.append(n))
    assert (report.imported.nvd, report.imported.kev) == (2, 1404)
    assert "nvdcve-2.0-2016.json.gz" in seen
    with VulnDB(db_path, readonly=True) as d:
        assert d.vuln("CVE-2016-7406") is not None
    again = update.update(db_path, feeds, years=[2016], kev=False, transport=server)
    assert again.fetched == []  # the feed's sha256 did not change


@needs_sources
def test_update_rejects_a_corrupt_feed(tmp_path):
    _, meta = _feed("2016", ["CVE-2016-2147.json"])
    bad = gzip.compress(b'{"vulnerabilities": []}')
    server = FakeServer({update.NVD_META.format(name="2016"): meta, update.NVD_FEED.format(name="2016"): bad})
    with pytest.raises(update.UpdateError, match="integrity check failed"):
        update.update(tmp_path / "v.sqlite", tmp_path / "feeds", years=[2016], kev=False, transport=server)
    assert not (tmp_path / "feeds" / "nvdcve-2.0-2016.json.gz").exists()
    assert not (tmp_path / "v.sqlite").exists()
