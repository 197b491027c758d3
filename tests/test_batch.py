"""Fleet scanning: local process pool, resumption after a kill, Dask distributed (LocalCluster), the CLI."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

from veracity import batch
from veracity.store import Store

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "examples" / "router-firmware.bin"


@pytest.fixture
def fleet(tmp_path) -> list[Path]:
    """Three versions of the example firmware (different trailing padding: different images, same files)."""
    out = []
    d = tmp_path / "fleet"
    d.mkdir()
    for i in range(3):
        p = d / f"vr-2000-1.{i}.bin"
        shutil.copyfile(FIRMWARE, p)
        with p.open("ab") as fh:
            fh.write(b"\xff" * (4096 * (i + 1)))
        out.append(p)
    return out


def test_process_pool_and_resume(tmp_path, fleet):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    cache = tmp_path / "cache.sqlite"

    class Killed(BaseException):
        pass

    def die(outcome):
        raise Killed  # the batch is killed right after its first image was stored

    with pytest.raises(Killed):
        batch.run_batch(fleet, store=store, workers=1, cache_path=cache, on_stored=die)
    assert store.counts()["scans"] == 1
    first_sha = {s.target.sha256 for s in store.scans()}
    outcomes = batch.run_batch(fleet, store=store, workers=2, cache_path=cache)
    by_sha = {o.sha256: o for o in outcomes}
    assert [o.path for o in outcomes] == [str(p) for p in fleet]
    assert {o.status for sha, o in by_sha.items() if sha in first_sha} == {"skipped"}
    assert sorted(o.status for o in outcomes) == ["skipped", "stored", "stored"]
    counts = store.counts()
    assert counts["targets"] == 3 and counts["scans"] == 3
    one = store.report(outcomes[0].scan_id)
    assert counts["findings"] == 3 * len(one["findings"])  # no duplicates, nothing lost
    # every image unpacked in the workers as in-process (criticals of the example: telnet, empty passwords...)
    assert all(o.by_severity.get("critical", 0) >= 1 for o in outcomes if o.status == "stored")
    again = batch.run_batch([*fleet, fleet[0]], store=store, workers=2, cache_path=cache)
    assert {o.status for o in again} == {"skipped"}
    forced = batch.run_batch(fleet[:1], store=store, workers=1, cache_path=cache, force=True)
    assert forced[0].status == "stored" and store.counts()["scans"] == 3
    store.close()


def test_the_first_image_seeds_a_shared_cache_alone(tmp_path, fleet):
    def events(cache):
        seen: list[str] = []
        store = Store(f"sqlite:///{tmp_path / f'db-{cache is not None}.sqlite'}")
        batch.run_batch(fleet, store=store, workers=2, cache_path=cache,
                        on_event=lambda kind, outcome, total: seen.append(kind))
        return seen

    # with a shared cache, the second image starts once the first is done: it finds the files they share
    assert events(tmp_path / "cache.sqlite")[:3] == ["start", "done", "start"]
    # without one there is nothing to wait for: the workers start together
    assert events(None)[:2] == ["start", "start"]


def test_failures_are_recorded_not_fatal(tmp_path, monkeypatch):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    missing = tmp_path / "gone.bin"
    out = batch.run_batch([missing], store=store, workers=1)
    assert out[0].status == "failed" and "cannot read" in out[0].error
    store.close()


def test_dask_local_cluster(tmp_path, fleet):
    distributed = pytest.importorskip("distributed")
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        outcomes = batch.run_batch(fleet[:2], store=store, workers=2, client=client, cache_path=tmp_path / "c.sqlite",
                                   meta=lambda p: {"vendor": "Example", "product": "VR-2000", "version": p.stem})
    assert [o.status for o in outcomes] == ["stored", "stored"], outcomes
    assert [(p["product"], p["versions"]) for p in store.products()] == [("VR-2000", 2)]
    assert all(o.by_severity.get("critical", 0) >= 1 for o in outcomes)
    store.close()


def test_cli(tmp_path, fleet, capsys, monkeypatch):
    monkeypatch.setenv("VERACITY_NO_PROGRESS", "1")
    parser = argparse.ArgumentParser(prog="veracity")
    run = batch.register(parser.add_subparsers(dest="command"))
    db = tmp_path / "cli.sqlite"
    args = parser.parse_args(["batch", str(fleet[0].parent), "--db", str(db), "--workers", "2", "--json",
                              "--product", "VR-2000", "--cache", str(tmp_path / "c.sqlite")])
    assert run(args) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(Path(r["path"]).name for r in rows) == sorted(p.name for p in fleet)
    assert {r["status"] for r in rows} == {"stored"}
    args = parser.parse_args(["batch", str(fleet[0]), "--db", str(db)])
    assert run(args) == 0
    out = capsys.readouterr().out
    assert "already stored" in out and "1 images: 0 scanned, 1 already stored, 0 failed" in out
    assert run(parser.parse_args(["batch", str(tmp_path / "nope"), "--db", str(db)])) == 2


def test_sign_stores_a_verifiable_attestation_with_each_scan(tmp_path, fleet, capsys, monkeypatch):
    from veracity import attest

    monkeypatch.setenv("VERACITY_NO_PROGRESS", "1")
    key, pub = attest.keygen(tmp_path / "lab")
    parser = argparse.ArgumentParser(prog="veracity")
    run = batch.register(parser.add_subparsers(dest="command"))
    db = tmp_path / "signed.sqlite"
    assert run(parser.parse_args(["batch", str(fleet[0]), "--db", str(db), "--workers", "1", "--json",
                                  "--sign", str(key), "--no-cache"])) == 0
    scan_id = json.loads(capsys.readouterr().out)[0]["scan_id"]
    store = Store(f"sqlite:///{db}")
    [att] = store.attestations(scan_id)
    envelope = tmp_path / "a.intoto.json"
    envelope.write_text(att.body)
    report = tmp_path / "report.json"
    from veracity.report import dumps

    report.write_text(dumps(store.report(scan_id)))
    done = attest.verify(envelope, pub, fleet[0], report_path=report)  # signature, image and report digests
    assert done.image_sha256 == batch.sha256_of(fleet[0]) and done.report_checked
    _, other_pub = attest.keygen(tmp_path / "other")
    with pytest.raises(attest.VerificationError):
        attest.verify(envelope, other_pub, fleet[0])
    store.close()
    assert run(parser.parse_args(["batch", str(fleet[0]), "--db", str(db), "--sign", str(tmp_path / "none.key")])) == 2
