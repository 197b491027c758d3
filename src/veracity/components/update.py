"""``veracity db update``: download the feeds when the machine has a network, then import them.

- NVD CVE API 2.0 yearly feeds (``nvdcve-2.0-YYYY.json.gz``) and the ``modified`` feed, each checked against
  the sha256 and size its ``.meta`` file publishes;
- the CISA KEV catalogue (checked to parse, with its catalogue version);
- optionally OSV ecosystems (``all.zip``, checked by the zip's own CRCs).

Downloads resume: a partial file (``.part``) is continued with an HTTP range request. Every network error
becomes an :class:`UpdateError` with what to do instead (``veracity db import`` of files fetched elsewhere);
nothing is imported from a file that failed its check.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .vulndb import ImportReport, VulnDB

NVD_FEED = "https://nvd.nist.gov/feeds/json/cve/2.0/nvdcve-2.0-{name}.json.gz"
NVD_META = "https://nvd.nist.gov/feeds/json/cve/2.0/nvdcve-2.0-{name}.meta"
KEV_URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
OSV_URL = "https://osv-vulnerabilities.storage.googleapis.com/{ecosystem}/all.zip"
FIRST_YEAR = 2002
CHUNK = 1 << 16
TIMEOUT_S = 60


class UpdateError(Exception):
    """A download failed (no network, refused, or an integrity check failed)."""


class Response(Protocol):
    status: int
    headers: dict

    def read(self, n: int = -1) -> bytes: ...


Transport = Callable[[str, dict[str, str]], Response]


def urllib_transport(url: str, headers: dict[str, str]) -> Response:
    req = urllib.request.Request(url, headers={"User-Agent": "veracity-db-update", **headers})
    return urllib.request.urlopen(req, timeout=TIMEOUT_S)


@dataclass(slots=True)
class Fetched:
    path: Path
    resumed_from: int = 0


@dataclass(slots=True)
class UpdateReport:
    fetched: list[Fetched] = field(default_factory=list)
    imported: ImportReport = field(default_factory=ImportReport)


def _open(transport: Transport, url: str, headers: dict[str, str]) -> Response:
    try:
        return transport(url, headers)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:  # range not satisfiable: the part file is already complete
            raise
        raise UpdateError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UpdateError(
            f"cannot reach {url.split('/')[2]}: {reason}. Without a network, fetch the feeds elsewhere and run "
            "`veracity db import FILES...`"
        ) from None


def download(
    url: str,
    dest: Path,
    transport: Transport | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Fetched:
    """Fetch ``url`` to ``dest``, continuing ``dest.part`` if an earlier attempt left one."""
    transport = transport or urllib_transport
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        resp = _open(transport, url, headers)
    except urllib.error.HTTPError:
        os.replace(part, dest)
        return Fetched(dest, offset)
    status = getattr(resp, "status", 200)
    if offset and status != 206:  # the server ignored the range: start again
        offset = 0
    length = resp.headers.get("Content-Length") if resp.headers else None
    total = offset + int(length) if length and str(length).isdigit() else None
    done = offset
    try:
        with part.open("ab" if offset else "wb") as out:
            while True:
                chunk = resp.read(CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except (OSError, TimeoutError) as exc:
        raise UpdateError(f"{url}: download interrupted after {done} bytes ({exc}); run the update again to "
                          "resume") from None
    if total is not None and done != total:
        raise UpdateError(f"{url}: got {done} of {total} bytes; run the update again to resume")
    os.replace(part, dest)
    return Fetched(dest, offset)


def parse_meta(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def verify_nvd(path: Path, meta: dict[str, str]) -> None:
    """The NVD ``.meta`` gives the size and sha256 of the uncompressed JSON."""
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        path.unlink(missing_ok=True)
        raise UpdateError(f"{path.name}: not a gzip file ({exc}); removed, run the update again") from None
    size, sha = meta.get("size"), meta.get("sha256", "").lower()
    if size and size.isdigit() and int(size) != len(raw) or sha and hashlib.sha256(raw).hexdigest() != sha:
        path.unlink(missing_ok=True)
        raise UpdateError(f"{path.name}: integrity check failed (size or sha256 differs from its .meta); removed, "
                          "run the update again")


def verify_kev(path: Path) -> None:
    try:
        doc = json.loads(path.read_bytes())
        ok = isinstance(doc, dict) and "catalogVersion" in doc and isinstance(doc.get("vulnerabilities"), list)
    except (OSError, ValueError):
        ok = False
    if not ok:
        path.unlink(missing_ok=True)
        raise UpdateError(f"{path.name}: not a CISA KEV catalogue; removed, run the update again")


def verify_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (OSError, zipfile.BadZipFile) as exc:
        bad = str(exc)
    if bad:
        path.unlink(missing_ok=True)
        raise UpdateError(f"{path.name}: damaged archive ({bad}); removed, run the update again")


def _nvd_check(meta: dict[str, str]) -> Callable[[Path], None]:
    return lambda path: verify_nvd(path, meta)


def update(
    db_path: Path,
    feeds_dir: Path,
    *,
    years: list[int] | None = None,
    kev: bool = True,
    osv: tuple[str, ...] = (),
    transport: Transport | None = None,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> UpdateReport:
    """Download what is missing or changed, verify it, import it. Raises UpdateError on any failure."""
    transport = transport or urllib_transport
    report = UpdateReport()
    this_year = dt.date.today().year
    names = [str(y) for y in (years if years is not None else range(FIRST_YEAR, this_year + 1))]
    if years is None:
        names.append("modified")
    jobs: list[tuple[str, Path, Callable[[Path], None]]] = []
    for name in names:
        meta_path = feeds_dir / f"nvdcve-2.0-{name}.meta"
        download(NVD_META.format(name=name), meta_path, transport)
        meta = parse_meta(meta_path.read_text(errors="replace"))
        dest = feeds_dir / f"nvdcve-2.0-{name}.json.gz"
        previous = feeds_dir / f"nvdcve-2.0-{name}.sha256"
        if dest.exists() and previous.exists() and previous.read_text().strip() == meta.get("sha256", "").lower():
            continue  # unchanged since the last update
        jobs.append((NVD_FEED.format(name=name), dest, _nvd_check(meta)))
    if kev:
        jobs.append((KEV_URL, feeds_dir / "known_exploited_vulnerabilities.json", verify_kev))
    for eco in osv:
        jobs.append((OSV_URL.format(ecosystem=eco), feeds_dir / f"osv-{eco.replace('/', '_')}-all.zip", verify_zip))
    for url, dest, check in jobs:
        def step(done: int, total: int | None, _name: str = dest.name) -> None:
            if progress:
                progress(_name, done, total)

        fetched = download(url, dest, transport, step)
        check(dest)
        report.fetched.append(fetched)
    with VulnDB(db_path) as db:
        for f in report.fetched:
            db.import_bytes(f.path.name, f.path.read_bytes(), report.imported)
            if f.path.name.startswith("nvdcve-2.0-"):
                name = f.path.name.removeprefix("nvdcve-2.0-").removesuffix(".json.gz")
                meta = parse_meta((feeds_dir / f"nvdcve-2.0-{name}.meta").read_text(errors="replace"))
                (feeds_dir / f"nvdcve-2.0-{name}.sha256").write_text(meta.get("sha256", "").lower())
    return report
