"""The store: migrations, idempotent and transactional ingestion, queries; on SQLite and on a real PostgreSQL
server (a throwaway cluster started here with initdb/pg_ctl; skipped when PostgreSQL is not installed)."""

from __future__ import annotations

import copy
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")
pytest.importorskip("alembic")

from sqlalchemy import inspect, select

from veracity.store import Finding, Scan, Store, migrate, normalise_url

ROOT = Path(__file__).resolve().parents[1]


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL server in a temporary directory (as user postgres when run as root)."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    pytest.importorskip("psycopg")
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="veracity-pg-"))  # traversable by the postgres user
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run the server as")
        for p in (base, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        os.chmod(base, 0o755)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    try:
        subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "veracity",
                        "--no-sync"], check=True, capture_output=True, timeout=60)
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"), "-o",
                        f"-k {sock} -p {port} -c listen_addresses='' -c fsync=off", "start"],
                       check=True, capture_output=True, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError) as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"cannot start a PostgreSQL server: {exc} {getattr(exc, 'stderr', b'')!r}")
    try:
        yield f"postgresql+psycopg://veracity@/postgres?host={sock}&port={port}"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
        from sqlalchemy import create_engine, text

        eng = create_engine(url)
        with eng.begin() as conn:  # a clean schema per test
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        eng.dispose()
    s = Store(url)
    yield s
    s.close()


@pytest.fixture(scope="session")
def report() -> dict:
    """The example firmware's report (scanned once per session)."""
    from veracity.scan import scan

    return json.loads(json.dumps(scan(ROOT / "examples" / "router-firmware.bin", cache_path=None)))


def _variant(report: dict, sha: str, drop: int = 0) -> dict:
    r = copy.deepcopy(report)
    r["target"]["sha256"] = sha
    r["target"]["name"] = f"fw-{sha[:4]}.bin"
    r["findings"] = r["findings"][drop:]
    return r


def test_url_forms():
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("/tmp/x.sqlite") == "sqlite:////tmp/x.sqlite"
    assert normalise_url("sqlite:///a.db") == "sqlite:///a.db"


def test_migrations_match_models(store):
    """The shipped Alembic migration creates exactly the schema of the models (autogenerate finds no diff)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from veracity.store.models import Base

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    migrate(store.url)  # idempotent
    tables = set(inspect(store.engine).get_table_names())
    assert {"targets", "scans", "findings", "endpoints", "accounts", "services", "components", "conformance",
            "attestations", "tokens", "alembic_version"} <= tables


def test_ingest_is_idempotent_and_complete(store, report):
    first = store.ingest(report, vendor="Example", product="VR-2000", version="1.0")
    assert first.created
    again = store.ingest(report)
    assert (again.scan_id, again.created) == (first.scan_id, False)
    counts = store.counts()
    assert counts["targets"] == 1 and counts["scans"] == 1
    assert counts["findings"] == len(report["findings"])
    assert counts["endpoints"] == len(report["endpoints"])
    assert counts["accounts"] == len(report["accounts"])
    assert counts["services"] == len(report["services"])
    assert counts["components"] == len(report["components"])
    assert counts["conformance"] == len(report["conformance"])
    assert store.report(first.scan_id)["target"]["sha256"] == report["target"]["sha256"]
    assert store.stored(report["target"]["sha256"], report["tool"]["rules_version"]) == first.scan_id
    assert store.stored(report["target"]["sha256"], "other-rules") is None
    forced = store.ingest(report, force=True)
    assert forced.created
    assert store.counts()["findings"] == len(report["findings"]) and store.counts()["scans"] == 1
    # another rules version is another scan of the same target
    newer = copy.deepcopy(report)
    newer["tool"]["rules_version"] = "9.9.9+test"
    assert store.ingest(newer).created
    assert store.counts()["scans"] == 2 and store.counts()["targets"] == 1


def test_half_written_scan_leaves_no_rows(store, report):
    broken = _variant(report, "ab" * 32)
    broken["findings"] = [*broken["findings"], {"rule": "VER-X-001"}]  # no category: fails mid-ingestion
    with pytest.raises(KeyError):
        store.ingest(broken)
    assert store.counts() == dict.fromkeys(store.counts(), 0)
    assert store.ingest(_variant(report, "ab" * 32)).created  # and the retry succeeds


def test_queries(store, report):
    a = store.ingest(_variant(report, "01" * 32), vendor="Example", product="VR-2000", version="1.0")
    b = store.ingest(_variant(report, "02" * 32, drop=2), vendor="Example", product="VR-2000", version="1.1")
    prods = store.products()
    assert [(p["vendor"], p["product"], p["versions"]) for p in prods] == [("Example", "VR-2000", 2)]
    versions = store.targets_with_scans("Example", "VR-2000")
    assert [t.version for t, _ in versions] == ["1.0", "1.1"]
    busybox = store.search_components("busybox", "1.35.0")
    assert {r["version"] for r in busybox} == {"1.0", "1.1"}
    assert store.search_components("busybox", "0.1") == []
    talk = store.search_endpoints("example-vendor.cn")
    assert {"mqtt://iot.example-vendor.cn:1883", "time.example-vendor.cn"} <= {r["endpoint"] for r in talk}
    assert store.search_endpoints("nowhere.invalid") == []
    flow = {r["country"]: r for r in store.dataflow()}
    assert flow["CN"]["images"] == 2
    d = store.diff(a.scan_id, b.scan_id)
    dropped = {f["fingerprint"] for f in report["findings"][:2]}
    assert {f.fingerprint for f in d["fixed"]} == dropped and d["new"] == []
    assert len(d["unchanged"]) == len(report["findings"]) - 2


def test_enqueue_then_ingest_fills_the_queued_row(store, report):
    sha, rules = report["target"]["sha256"], report["tool"]["rules_version"]
    scan_id, queued = store.enqueue(sha256=sha, name="x.bin", rules_version=rules, tool_version="0")
    assert queued
    assert store.enqueue(sha256=sha, name="x.bin", rules_version=rules, tool_version="0") == (scan_id, False)
    assert store.stored(sha, rules) is None  # queued is not stored
    store.set_status(scan_id, "failed", "boom")
    again, queued = store.enqueue(sha256=sha, name="x.bin", rules_version=rules, tool_version="0")
    assert queued  # a failed scan may be queued again
    info = store.ingest(report)
    assert info.scan_id == again and info.created
    with store.Session() as s:
        assert s.scalar(select(Scan.status).where(Scan.id == again)) == "done"
        assert len(list(s.scalars(select(Finding).where(Finding.scan_id == again)))) == len(report["findings"])


def test_tokens_and_attestations(store, report):
    tok = store.create_token("ci", admin=False)
    assert store.check_token(tok).name == "ci"
    assert store.check_token(tok + "x") is None and store.check_token(None) is None
    info = store.ingest(report)
    store.add_attestation(info.scan_id, '{"payloadType": "application/vnd.in-toto+json"}')
    assert store.counts()["scans"] == 1
