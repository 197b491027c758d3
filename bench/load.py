"""Bounded loopback load test of the REST API: N concurrent clients list scans and read findings and reports
while a writer ingests reports (as a batch does). Writes its section of bench/RESULTS.md.

    .venv/bin/python bench/load.py [--clients 8] [--seconds 10] [--db sqlite|postgresql://...]
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from veracity.scan import scan
from veracity.store import Store
from veracity.web.app import Settings, create_app

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from results import write_section


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--db", default=None)
    ap.add_argument("--seed", type=int, default=20, help="reports stored before the clients start")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="veracity-load-"))
    store = Store(args.db or f"sqlite:///{tmp / 'load.sqlite'}")
    base_report = json.loads(json.dumps(scan(ROOT / "examples" / "router-firmware.bin", cache_path=None)))

    def variant(i: int) -> dict:
        r = copy.deepcopy(base_report)
        r["target"]["sha256"] = f"{i:064x}"
        r["target"]["name"] = f"vr-2000-{i}.bin"
        return r

    ids = [store.ingest(variant(i), vendor="Example", product="VR-2000", version=str(i)).scan_id
           for i in range(args.seed)]
    token = store.create_token("load")
    app = create_app(store, Settings(data_dir=tmp / "data"))
    port = _port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    stop = time.monotonic() + args.seconds
    lat: dict[str, list[float]] = {"list": [], "findings": [], "report": []}
    errors = [0]
    ingested = [0]
    lock = threading.Lock()

    def writer() -> None:
        i = args.seed
        while time.monotonic() < stop:
            store.ingest(variant(i))
            i += 1
            ingested[0] += 1

    def client(n: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                          timeout=30) as c:
            k = n
            while time.monotonic() < stop:
                k += 1
                sid = ids[k % len(ids)]
                for kind, url in (("list", "/api/scans?limit=50"), ("findings", f"/api/scans/{sid}/findings"),
                                  ("report", f"/api/scans/{sid}/report")):
                    t0 = time.perf_counter()
                    r = c.get(url)
                    dt_ms = (time.perf_counter() - t0) * 1000
                    with lock:
                        if r.status_code != 200:
                            errors[0] += 1
                        lat[kind].append(dt_ms)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    server.should_exit = True
    total = sum(len(v) for v in lat.values())

    def pct(v: list[float], p: float) -> float:
        return statistics.quantiles(v, n=100)[int(p) - 1] if len(v) >= 2 else (v[0] if v else 0.0)

    lines = [
        (f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores; "
        f"store {store.engine.url.get_backend_name()}; uvicorn, 1 process; {args.clients} concurrent clients for "
        f"{wall:.1f} s while one writer ingested {ingested[0]} reports (each {len(base_report['findings'])} findings, "
        f"{len(base_report['conformance'])} conformance rows)."), "",
        f"Throughput: {total / wall:.0f} requests/s; errors: {errors[0]}.", "",
        "| request | count | p50 ms | p95 ms | p99 ms |", "|---|---:|---:|---:|---:|",
    ]
    for kind, v in lat.items():
        lines.append(f"| {kind} | {len(v)} | {pct(v, 50):.1f} | {pct(v, 95):.1f} | {pct(v, 99):.1f} |")
    text = "\n".join(lines) + "\n"
    write_section("load", "Web API under load (loopback)",
                  "Reproduce: `.venv/bin/python bench/load.py` (bounded: loopback only, fixed duration).", text)
    sys.stdout.write(text)
    store.close()
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if errors[0] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
