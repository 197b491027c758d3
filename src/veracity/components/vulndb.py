"""The local vulnerability database: one SQLite file, filled from NVD CVE API 2.0 JSON (records, API pages or
the yearly feeds), OSV records (one, a list, or an ecosystem's ``all.zip``) and the CISA KEV catalogue.

Scans only read it (offline). Rows keep what matching needs: CPE match criteria with version ranges, OSV
affected ranges, the best CVSS rating, references, and the KEV flag. Importing the same record again
replaces it, so feeds can be re-imported in any order.
"""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import hashlib
import io
import json
import lzma
import os
import sqlite3
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import cvss, ids

SCHEMA = 1
FILE_NAME = "vulndb.sqlite"

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (name TEXT PRIMARY KEY, kind TEXT NOT NULL, imported_at TEXT NOT NULL,
    records INTEGER NOT NULL, sha256 TEXT NOT NULL, newest TEXT);
CREATE TABLE IF NOT EXISTS vulns (id TEXT PRIMARY KEY, origin TEXT NOT NULL, published TEXT, modified TEXT,
    status TEXT, description TEXT, score REAL, severity TEXT, vector TEXT, method TEXT, refs TEXT NOT NULL,
    aliases TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cpe_ranges (vuln TEXT NOT NULL, part TEXT, vendor TEXT NOT NULL, product TEXT NOT NULL,
    version TEXT, upd TEXT, start_incl TEXT, start_excl TEXT, end_incl TEXT, end_excl TEXT,
    in_and INTEGER NOT NULL, criteria TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cpe_ranges_product ON cpe_ranges (vendor, product);
CREATE INDEX IF NOT EXISTS cpe_ranges_vuln ON cpe_ranges (vuln);
CREATE TABLE IF NOT EXISTS osv_ranges (vuln TEXT NOT NULL, ecosystem TEXT NOT NULL, name TEXT NOT NULL,
    introduced TEXT, fixed TEXT, last_affected TEXT, exact TEXT);
CREATE INDEX IF NOT EXISTS osv_ranges_name ON osv_ranges (ecosystem, name);
CREATE INDEX IF NOT EXISTS osv_ranges_vuln ON osv_ranges (vuln);
CREATE TABLE IF NOT EXISTS kev (cve TEXT PRIMARY KEY, date_added TEXT, due TEXT, ransomware TEXT, name TEXT);
"""


_CVE5_REASON = ("CVE JSON 5 record: it has no CPE configurations; import the NVD CVE 2.0 record of the same "
                "CVE instead")


class VulnDBError(Exception):
    """The database cannot be opened or a file cannot be imported; the message says what to do."""


def default_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "veracity" / FILE_NAME


@dataclass(slots=True)
class ImportReport:
    nvd: int = 0
    osv: int = 0
    kev: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(file, reason) of inputs that were not imported."""

    @property
    def total(self) -> int:
        return self.nvd + self.osv + self.kev


@dataclass(frozen=True, slots=True)
class Vuln:
    id: str
    origin: str
    description: str
    score: float | None
    severity: str | None
    vector: str | None
    method: str | None
    references: tuple[str, ...]
    aliases: tuple[str, ...]
    published: str | None
    modified: str | None
    status: str | None


class VulnDB:
    def __init__(self, path: Path, *, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        try:
            if readonly:
                if not self.path.is_file():
                    raise VulnDBError(f"no vulnerability database at {self.path}")
                self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(self.path)
                self.db.executescript(_DDL)
                self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
                self.db.commit()
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise VulnDBError(f"cannot open the vulnerability database {self.path}: {exc}") from None
        if row is None or row[0] != str(SCHEMA):
            raise VulnDBError(f"{self.path} is not a veracity vulnerability database of schema {SCHEMA}; "
                              "remove it and run `veracity db update` or `veracity db import` again")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> VulnDB:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- import -------------------------------------------------------------------------------------------

    def import_files(self, paths: Iterable[Path], progress: Callable[[str], None] | None = None) -> ImportReport:
        report = ImportReport()
        for path in paths:
            if progress:
                progress(f"importing {path}")
            try:
                raw = Path(path).read_bytes()
            except OSError as exc:
                report.skipped.append((str(path), f"cannot read: {exc.strerror or exc}"))
                continue
            self.import_bytes(Path(path).name, raw, report)
        return report

    def import_bytes(self, name: str, raw: bytes, report: ImportReport | None = None) -> ImportReport:
        report = report or ImportReport()
        sha = hashlib.sha256(raw).hexdigest()
        try:
            docs = list(_documents(name, raw))
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as exc:
            report.skipped.append((name, f"not JSON or not a readable archive: {exc}"))
            return report
        before = (report.nvd, report.osv, report.kev)
        kinds = set()
        newest = None
        with self.db:
            for member, doc in docs:
                kind = _kind(doc)
                if kind is None:
                    report.skipped.append((member, "not an NVD CVE 2.0, OSV or CISA KEV document"))
                    continue
                if kind == "cve5":
                    report.skipped.append((member, _CVE5_REASON))
                    continue
                kinds.add(kind)
                if kind == "nvd":
                    for cve in _nvd_records(doc):
                        newest = max(newest or "", cve.get("lastModified") or "") or newest
                        self._nvd(cve)
                        report.nvd += 1
                elif kind == "osv":
                    for rec in doc if isinstance(doc, list) else [doc]:
                        if isinstance(rec, dict) and rec.get("id"):
                            newest = max(newest or "", rec.get("modified") or "") or newest
                            self._osv(rec)
                            report.osv += 1
                elif kind == "kev":
                    newest = max(newest or "", doc.get("dateReleased") or "") or newest
                    report.kev += self._kev(doc)
            count = (report.nvd + report.osv + report.kev) - sum(before)
            if kinds:
                self.db.execute(
                    "INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?)",
                    (name, "+".join(sorted(kinds)), _now(), count, sha, newest),
                )
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('updated_at', ?)", (_now(),))
        return report

    def _nvd(self, cve: dict[str, Any]) -> None:
        vid = cve.get("id")
        if not isinstance(vid, str):
            return
        self.db.execute("DELETE FROM cpe_ranges WHERE vuln = ?", (vid,))
        if cve.get("vulnStatus") == "Rejected":
            self.db.execute("DELETE FROM vulns WHERE id = ?", (vid,))
            return
        desc = next((d.get("value", "") for d in cve.get("descriptions", []) if d.get("lang") == "en"), "")
        score, severity, vector, method = _nvd_metric(cve.get("metrics") or {})
        refs = [r["url"] for r in cve.get("references", []) if isinstance(r, dict) and r.get("url")]
        self.db.execute(
            "INSERT OR REPLACE INTO vulns VALUES (?, 'nvd', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (vid, cve.get("published"), cve.get("lastModified"), cve.get("vulnStatus"), desc, score, severity,
             vector, method, json.dumps(list(dict.fromkeys(refs))[:50]), json.dumps([])),
        )
        rows = []
        for config in cve.get("configurations") or []:
            in_and = 1 if str(config.get("operator", "")).upper() == "AND" else 0
            for node in config.get("nodes") or []:
                if node.get("negate"):
                    continue
                for m in node.get("cpeMatch") or []:
                    if not m.get("vulnerable"):
                        continue
                    f = ids.parse_cpe(m.get("criteria", ""))
                    if f is None:
                        continue
                    version = None if f["version"] in ("*", "-") else ids.cpe_unescape(f["version"])
                    upd = None if f["update"] in ("*", "-") else ids.cpe_unescape(f["update"])
                    rows.append((vid, f["part"], ids.cpe_unescape(f["vendor"]), ids.cpe_unescape(f["product"]),
                                 version, upd, m.get("versionStartIncluding"), m.get("versionStartExcluding"),
                                 m.get("versionEndIncluding"), m.get("versionEndExcluding"), in_and, m["criteria"]))
        self.db.executemany("INSERT INTO cpe_ranges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        if cve.get("cisaExploitAdd"):
            self.db.execute(
                "INSERT OR IGNORE INTO kev VALUES (?, ?, ?, NULL, ?)",
                (vid, cve.get("cisaExploitAdd"), cve.get("cisaActionDue"), cve.get("cisaVulnerabilityName")),
            )

    def _osv(self, rec: dict[str, Any]) -> None:
        vid = rec["id"]
        self.db.execute("DELETE FROM osv_ranges WHERE vuln = ?", (vid,))
        if rec.get("withdrawn"):
            self.db.execute("DELETE FROM vulns WHERE id = ? AND origin = 'osv'", (vid,))
            return
        score = severity = vector = method = None
        for sev in rec.get("severity") or []:
            if isinstance(sev, dict) and str(sev.get("type", "")).startswith("CVSS_V3"):
                vector = sev.get("score")
                score = cvss.base_score_v3(vector or "")
                method = "CVSSv31" if str(vector).startswith("CVSS:3.1") else "CVSSv3"
                severity = cvss.severity(score)
        if severity is None:
            db_sev = str((rec.get("database_specific") or {}).get("severity", "")).upper()
            severity = {"MODERATE": "MEDIUM"}.get(db_sev, db_sev) or None
        refs = [r["url"] for r in rec.get("references", []) if isinstance(r, dict) and r.get("url")]
        desc = rec.get("summary") or rec.get("details") or ""
        self.db.execute(
            "INSERT OR REPLACE INTO vulns VALUES (?, 'osv', ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)",
            (vid, rec.get("published"), rec.get("modified"), desc[:4000], score, severity, vector, method,
             json.dumps(list(dict.fromkeys(refs))[:50]), json.dumps([a for a in rec.get("aliases") or [] if isinstance(a, str)])),
        )
        rows = []
        for aff in rec.get("affected") or []:
            pkg = aff.get("package") or {}
            eco, name = pkg.get("ecosystem"), pkg.get("name")
            if not eco or not name:
                continue
            for version in aff.get("versions") or []:
                rows.append((vid, eco, name, None, None, None, version))
            for rng in aff.get("ranges") or []:
                if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
                    continue
                introduced = None
                for event in rng.get("events") or []:
                    if "introduced" in event:
                        introduced = event["introduced"]
                    elif "fixed" in event or "last_affected" in event:
                        rows.append((vid, eco, name, introduced, event.get("fixed"), event.get("last_affected"), None))
                        introduced = None
                if introduced is not None:
                    rows.append((vid, eco, name, introduced, None, None, None))
        self.db.executemany("INSERT INTO osv_ranges VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def _kev(self, doc: dict[str, Any]) -> int:
        rows = []
        for v in doc.get("vulnerabilities") or []:
            if isinstance(v, dict) and v.get("cveID"):
                rows.append((v["cveID"], v.get("dateAdded"), v.get("dueDate"), v.get("knownRansomwareCampaignUse"),
                             v.get("vulnerabilityName")))
        self.db.executemany("INSERT OR REPLACE INTO kev VALUES (?, ?, ?, ?, ?)", rows)
        version = doc.get("catalogVersion")
        if version:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('kev_catalog', ?)", (str(version),))
        return len(rows)

    # -- queries ------------------------------------------------------------------------------------------

    def cpe_candidates(self, vendor: str, product: str) -> list[dict[str, Any]]:
        cur = self.db.execute(
            "SELECT vuln, part, version, upd, start_incl, start_excl, end_incl, end_excl, in_and, criteria "
            "FROM cpe_ranges WHERE vendor = ? AND product = ?", (vendor, product))
        keys = ("vuln", "part", "version", "update", "start_incl", "start_excl", "end_incl", "end_excl", "in_and",
                "criteria")
        return [dict(zip(keys, row, strict=True)) for row in cur]

    def osv_candidates(self, ecosystem: str, name: str) -> list[dict[str, Any]]:
        cur = self.db.execute(
            "SELECT vuln, ecosystem, introduced, fixed, last_affected, exact FROM osv_ranges "
            "WHERE (ecosystem = ? OR ecosystem LIKE ?) AND name = ?", (ecosystem, ecosystem + ":%", name))
        keys = ("vuln", "ecosystem", "introduced", "fixed", "last_affected", "exact")
        return [dict(zip(keys, row, strict=True)) for row in cur]

    def vuln(self, vid: str) -> Vuln | None:
        row = self.db.execute(
            "SELECT id, origin, description, score, severity, vector, method, refs, aliases, published, modified, "
            "status FROM vulns WHERE id = ?", (vid,)).fetchone()
        if row is None:
            return None
        return Vuln(row[0], row[1], row[2] or "", row[3], row[4], row[5], row[6], tuple(json.loads(row[7])),
                    tuple(json.loads(row[8])), row[9], row[10], row[11])

    def kev(self, cve: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT date_added, due, ransomware, name FROM kev WHERE cve = ?", (cve,)).fetchone()
        if row is None:
            return None
        return {"date_added": row[0], "due": row[1], "ransomware": row[2], "name": row[3]}

    def status(self) -> dict[str, Any]:
        def count(table: str) -> int:
            return int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

        meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        sources = [
            {"name": r[0], "kind": r[1], "imported_at": r[2], "records": r[3], "sha256": r[4], "newest": r[5]}
            for r in self.db.execute("SELECT * FROM sources ORDER BY name")
        ]
        newest = max((s["newest"] or "" for s in sources), default="") or None
        updated = meta.get("updated_at")
        age = None
        if updated:
            try:
                age = (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(updated)).days
            except ValueError:
                age = None
        return {
            "path": str(self.path),
            "schema": int(meta.get("schema", 0)),
            "updated_at": updated,
            "age_days": age,
            "newest_record": newest,
            "kev_catalog": meta.get("kev_catalog"),
            "vulnerabilities": count("vulns"),
            "cpe_ranges": count("cpe_ranges"),
            "osv_ranges": count("osv_ranges"),
            "kev": count("kev"),
            "sources": sources,
        }


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _documents(name: str, raw: bytes) -> Iterator[tuple[str, Any]]:
    lower = name.lower()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
        lower = lower.removesuffix(".gz")
    elif raw[:6] == b"\xfd7zXZ\x00":
        raw = lzma.decompress(raw)
    elif raw[:3] == b"BZh":
        raw = bz2.decompress(raw)
    if raw[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            for info in zf.infolist():
                if info.filename.endswith(".json") and not info.is_dir():
                    yield f"{name}!{info.filename}", json.loads(zf.read(info))
        return
    yield name, json.loads(raw)


def _kind(doc: Any) -> str | None:
    if isinstance(doc, list):
        return "osv" if doc and all(isinstance(d, dict) and "id" in d and ("affected" in d or "modified" in d)
                                    for d in doc[:5]) else None
    if not isinstance(doc, dict):
        return None
    if "catalogVersion" in doc and isinstance(doc.get("vulnerabilities"), list):
        return "kev"
    if isinstance(doc.get("vulnerabilities"), list) and (doc.get("format") == "NVD_CVE" or any(
            isinstance(v, dict) and "cve" in v for v in doc["vulnerabilities"][:3])):
        return "nvd"
    if doc.get("dataType") == "CVE_RECORD":
        return "cve5"
    if str(doc.get("id", "")).startswith("CVE-") and "sourceIdentifier" in doc:
        return "nvd"
    if "id" in doc and ("affected" in doc or "aliases" in doc) and "modified" in doc:
        return "osv"
    return None


def _nvd_records(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if isinstance(doc.get("vulnerabilities"), list):
        for v in doc["vulnerabilities"]:
            if isinstance(v, dict) and isinstance(v.get("cve"), dict):
                yield v["cve"]
    else:
        yield doc


_METRIC_ORDER = (("cvssMetricV40", "CVSSv4"), ("cvssMetricV31", "CVSSv31"), ("cvssMetricV30", "CVSSv3"),
                 ("cvssMetricV2", "CVSSv2"))


def _nvd_metric(metrics: dict[str, Any]) -> tuple[float | None, str | None, str | None, str | None]:
    """The NVD's own (Primary) rating of the newest CVSS version present, else the first secondary one."""
    for key, method in _METRIC_ORDER[1:] + _METRIC_ORDER[:1]:
        entries = [e for e in metrics.get(key) or [] if isinstance(e, dict)]
        if not entries:
            continue
        entry = next((e for e in entries if e.get("type") == "Primary"), entries[0])
        data = entry.get("cvssData") or {}
        score = data.get("baseScore")
        severity = data.get("baseSeverity") or entry.get("baseSeverity")
        return (float(score) if score is not None else None, str(severity).upper() if severity else None,
                data.get("vectorString"), method)
    return None, None, None, None
