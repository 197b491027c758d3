"""The store: targets, scans and the content of their reports behind one SQLAlchemy 2 layer.

SQLite by default (a file, no set-up), PostgreSQL by URL. The schema comes from the Alembic migrations shipped
in this package (``migrate(url)``). A report is ingested in one transaction: a scan that dies half-way leaves
no rows below it, and ingesting the same image with the same rules version twice is a no-op unless forced.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .models import (
    Account,
    Attestation,
    Base,
    Component,
    Conformance,
    Endpoint,
    Finding,
    Scan,
    Service,
    Target,
    Token,
)

__all__ = [
    "Account",
    "Attestation",
    "Base",
    "Component",
    "Conformance",
    "Endpoint",
    "Finding",
    "Ingested",
    "Scan",
    "Service",
    "Store",
    "Target",
    "Token",
    "default_url",
    "migrate",
    "normalise_url",
]

SEVERITIES = ("critical", "high", "medium", "low", "info")


def default_url() -> str:
    """``sqlite:///`` file in the user data directory ($XDG_DATA_HOME/veracity/veracity.sqlite)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    path = Path(base) / "veracity" / "veracity.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def normalise_url(url: str | None) -> str:
    """Accept a bare file path or ``postgresql://`` (psycopg 3 driver) as well as full SQLAlchemy URLs."""
    if not url:
        return default_url()
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    return url


def make_engine(url: str | None) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str | None, revision: str = "head") -> None:
    """Create or upgrade the schema at ``url`` to ``revision`` (idempotent)."""
    from alembic import command

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Ingested:
    scan_id: int
    target_id: int
    created: bool  # False: the same image and rules version was already stored


def _summary(report: Mapping[str, Any]) -> dict[str, Any]:
    by_sev = dict.fromkeys(SEVERITIES, 0)
    for f in report.get("findings") or ():
        by_sev[f.get("severity", "info")] = by_sev.get(f.get("severity", "info"), 0) + 1
    return {
        "by_severity": by_sev,
        "findings": sum(by_sev.values()),
        "endpoints": len(report.get("endpoints") or ()),
        "components": len(report.get("components") or ()),
        "services": len(report.get("services") or ()),
    }


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31 else None


def _cut(v: Any, n: int) -> str | None:
    return None if v is None else str(v)[:n]


def _children(s: Session, scan_id: int, report: Mapping[str, Any]) -> None:
    """The rows of a report's lists, inserted in bulk (an ORM object each cost three quarters of an ingest)."""
    tables: tuple[tuple[type, list[dict[str, Any]]], ...] = (
        (Finding, [
            {"rule": f["rule"], "category": f["category"], "severity": f["severity"], "title": f.get("title", ""),
             "path": f.get("path"), "container": list(f.get("container") or []), "line": _int(f.get("line")),
             "offset": _int(f.get("offset")), "evidence": f.get("evidence") or "",
             "backdoor_id": _cut(f.get("backdoor_id"), 120), "standards": list(f.get("standards") or []),
             "fingerprint": f["fingerprint"]}
            for f in report.get("findings") or ()
        ]),
        (Endpoint, [
            {"value": e.get("value", ""), "kind": _cut(e.get("kind"), 10) or "", "host": _cut(e.get("host"), 300),
             "port": _int(e.get("port")), "scheme": _cut(e.get("scheme"), 40), "country": _cut(e.get("country"), 2),
             "owner": _cut(e.get("owner"), 300), "purpose": _cut(e.get("purpose"), 80),
             "paths": list(e.get("paths") or [])}
            for e in report.get("endpoints") or ()
        ]),
        (Account, [
            {"name": _cut(a.get("name"), 200) or "", "uid": _int(a.get("uid")), "gid": _int(a.get("gid")),
             "shell": _cut(a.get("shell"), 300), "home": _cut(a.get("home"), 300),
             "password_state": _cut(a.get("password_state"), 40), "source": a.get("source")}
            for a in report.get("accounts") or ()
        ]),
        (Service, [
            {"name": _cut(v.get("name"), 200) or "", "binary": v.get("binary"), "auth": _cut(v.get("auth"), 20),
             "ports": list(v.get("ports") or []), "started_by": list(v.get("started_by") or [])}
            for v in report.get("services") or ()
        ]),
        (Component, [
            {"name": _cut(c.get("name"), 200) or "", "version": _cut(c.get("version"), 120), "purl": c.get("purl"),
             "cpe": c.get("cpe"), "paths": list(c.get("paths") or [])}
            for c in report.get("components") or ()
        ]),
        (Conformance, [
            {"standard": _cut(c.get("standard"), 40) or "", "clause": _cut(c.get("clause"), 80) or "",
             "status": _cut(c.get("status"), 20) or "", "findings": list(c.get("findings") or [])}
            for c in report.get("conformance") or ()
        ]),
    )
    for model, rows in tables:
        if rows:
            s.execute(insert(model), [{**row, "scan_id": scan_id} for row in rows])


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Store:
    """A database URL and its sessions. ``Store(url)`` migrates the schema on first use."""

    def __init__(self, url: str | None = None, *, migrate_schema: bool = True):
        self.url = normalise_url(url)
        if migrate_schema:
            migrate(self.url)
        self.engine = make_engine(self.url)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    # -- ingestion -----------------------------------------------------------------------------------------
    def stored(self, sha256: str, rules_version: str) -> int | None:
        """Id of the completed scan of this image with these rules, if any."""
        with self.Session() as s:
            return s.scalar(
                select(Scan.id).join(Target).where(
                    Target.sha256 == sha256, Scan.rules_version == rules_version, Scan.status == "done"
                )
            )

    def _target(self, s: Session, sha256: str, name: str, meta: Mapping[str, Any]) -> Target:
        target = s.scalar(select(Target).where(Target.sha256 == sha256))
        if target is None:
            target = Target(sha256=sha256, name=name[:512])
            s.add(target)
        for key in ("vendor", "product", "version", "blob", "kind", "size"):
            value = meta.get(key)
            if value is not None and getattr(target, key) is None:
                setattr(target, key, value)
        s.flush()
        return target

    def enqueue(self, *, sha256: str, name: str, rules_version: str, tool_version: str,
                parameters: Mapping[str, Any] | None = None, **meta: Any) -> tuple[int, bool]:
        """A queued scan row for a target (or the existing one): (scan id, newly queued)."""
        for attempt in range(2):
            try:
                with self.Session.begin() as s:
                    target = self._target(s, sha256, name, meta)
                    scan = s.scalar(
                        select(Scan).where(Scan.target_id == target.id, Scan.rules_version == rules_version)
                    )
                    if scan is not None and scan.status != "failed":
                        return scan.id, False
                    if scan is not None:
                        s.delete(scan)
                        s.flush()
                    scan = Scan(target_id=target.id, rules_version=rules_version, tool_version=tool_version,
                                parameters=dict(parameters or {}), status="queued", summary={})
                    s.add(scan)
                    s.flush()
                    return scan.id, True
            except IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def set_status(self, scan_id: int, status: str, error: str | None = None) -> None:
        with self.Session.begin() as s:
            scan = s.get(Scan, scan_id)
            if scan is not None and scan.status != "done":
                scan.status = status
                scan.error = error
                if status == "failed":
                    scan.finished_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def ingest(self, report: Mapping[str, Any], *, force: bool = False, parameters: Mapping[str, Any] | None = None,
               attestation: str | None = None, **meta: Any) -> Ingested:
        """Store one report in one transaction (with its signed ``attestation``, if given, so that no stored scan
        lacks the signature asked for). Same image + rules version already done: no-op unless ``force``."""
        tgt = report["target"]
        tool = report["tool"]
        for attempt in range(2):
            try:
                with self.Session.begin() as s:
                    target = self._target(
                        s, tgt["sha256"], tgt.get("name") or tgt["sha256"],
                        {"kind": tgt.get("kind"), "size": _int(tgt.get("size")), **meta},
                    )
                    scan = s.scalar(
                        select(Scan).where(Scan.target_id == target.id, Scan.rules_version == tool["rules_version"])
                    )
                    if scan is not None and scan.status == "done":
                        if not force:
                            return Ingested(scan.id, target.id, False)
                        s.delete(scan)
                        s.flush()
                        scan = None
                    if scan is None:
                        scan = Scan(target_id=target.id, rules_version=tool["rules_version"],
                                    parameters=dict(parameters or {}))
                        s.add(scan)
                    scan.tool_version = tool.get("version", "")
                    if parameters is not None:
                        scan.parameters = dict(parameters)
                    scan.status = "done"
                    scan.error = None
                    scan.started_at = report.get("started_at")
                    scan.duration_s = report.get("duration_s")
                    scan.finished_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
                    scan.summary = _summary(report)
                    scan.report = dict(report)
                    s.flush()
                    _children(s, scan.id, report)
                    if attestation is not None:
                        s.add(Attestation(scan_id=scan.id, format="dsse", body=attestation))
                    return Ingested(scan.id, target.id, True)
            except IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def attestations(self, scan_id: int) -> list[Attestation]:
        with self.Session() as s:
            return list(s.scalars(select(Attestation).where(Attestation.scan_id == scan_id).order_by(Attestation.id)))

    def attestation(self, scan_id: int, att_id: int) -> Attestation | None:
        with self.Session() as s:
            return s.scalar(select(Attestation).where(Attestation.scan_id == scan_id, Attestation.id == att_id))

    def add_attestation(self, scan_id: int, body: str, fmt: str = "dsse") -> int:
        with self.Session.begin() as s:
            att = Attestation(scan_id=scan_id, format=fmt, body=body)
            s.add(att)
            s.flush()
            return att.id

    # -- tokens --------------------------------------------------------------------------------------------
    def create_token(self, name: str, *, admin: bool = False) -> str:
        token = "vt_" + secrets.token_urlsafe(32)
        with self.Session.begin() as s:
            s.add(Token(name=name[:200], digest=token_digest(token), admin=admin))
        return token

    def check_token(self, token: str | None) -> Token | None:
        if not token:
            return None
        with self.Session() as s:
            return s.scalar(select(Token).where(Token.digest == token_digest(token)))

    def has_tokens(self) -> bool:
        with self.Session() as s:
            return (s.scalar(select(func.count(Token.id))) or 0) > 0

    # -- queries -------------------------------------------------------------------------------------------
    def report(self, scan_id: int) -> dict[str, Any] | None:
        with self.Session() as s:
            return s.scalar(select(Scan.report).where(Scan.id == scan_id, Scan.status == "done"))

    def scan(self, scan_id: int) -> Scan | None:
        with self.Session() as s:
            scan = s.get(Scan, scan_id)
            if scan is not None:
                _ = scan.target
            return scan

    def findings(self, scan_id: int) -> list[Finding]:
        order = {sev: i for i, sev in enumerate(SEVERITIES)}
        with self.Session() as s:
            rows = list(s.scalars(select(Finding).where(Finding.scan_id == scan_id)))
        return sorted(rows, key=lambda f: (order.get(f.severity, 9), f.category, f.path or "", f.rule))

    def products(self) -> list[dict[str, Any]]:
        """One row per (vendor, product): number of versions, images, worst findings of the latest scans."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for target, scan in self.targets_with_scans():
            key = (target.vendor or "", target.product or target.name)
            row = out.setdefault(key, {"vendor": key[0], "product": key[1], "versions": 0, "critical": 0, "high": 0})
            row["versions"] += 1
            if scan is not None:
                sev = scan.summary.get("by_severity", {})
                row["critical"] += sev.get("critical", 0)
                row["high"] += sev.get("high", 0)
        return sorted(out.values(), key=lambda r: (r["vendor"].lower(), r["product"].lower()))

    def targets_with_scans(self, vendor: str | None = None, product: str | None = None) -> list[tuple[Target, Scan | None]]:
        """Every target (optionally of one product) with its most recent scan."""
        with self.Session() as s:
            q = select(Target).order_by(Target.created_at, Target.id)
            if product is not None:
                q = q.where(func.coalesce(Target.product, Target.name) == product)
                q = q.where(func.coalesce(Target.vendor, "") == (vendor or ""))
            targets = list(s.scalars(q))
            latest: dict[int, Scan] = {}
            if targets:
                for scan in s.scalars(
                    select(Scan).where(Scan.target_id.in_([t.id for t in targets])).order_by(Scan.id)
                ):
                    latest[scan.target_id] = scan
            return [(t, latest.get(t.id)) for t in targets]

    def scans(self, limit: int = 100, offset: int = 0) -> list[Scan]:
        with self.Session() as s:
            rows = list(s.scalars(select(Scan).order_by(Scan.id.desc()).limit(limit).offset(offset)))
            for r in rows:
                _ = r.target
            return rows

    def search_components(self, name: str, version: str | None = None) -> list[dict[str, Any]]:
        """Which stored images ship component ``name`` (substring, case-insensitive), optionally at ``version``."""
        with self.Session() as s:
            q = (
                select(Component, Scan, Target).join(Scan, Component.scan_id == Scan.id).join(Target)
                .where(func.lower(Component.name).contains(name.lower(), autoescape=True), Scan.status == "done")
            )
            if version:
                q = q.where(Component.version == version)
            return [
                {"target": t.name, "vendor": t.vendor, "product": t.product, "version": t.version, "sha256": t.sha256,
                 "scan_id": sc.id, "component": c.name, "component_version": c.version, "paths": c.paths}
                for c, sc, t in s.execute(q.order_by(Target.name, Component.name).limit(1000))
            ]

    def search_endpoints(self, host: str) -> list[dict[str, Any]]:
        """Which stored images talk to ``host`` (the domain itself or any of its sub-domains, or a value substring)."""
        host = host.strip().lower().rstrip(".")
        with self.Session() as s:
            q = (
                select(Endpoint, Scan, Target).join(Scan, Endpoint.scan_id == Scan.id).join(Target)
                .where(Scan.status == "done")
                .where(
                    (func.lower(Endpoint.host) == host)
                    | func.lower(Endpoint.host).endswith("." + host, autoescape=True)
                    | func.lower(Endpoint.value).contains(host, autoescape=True)
                )
            )
            return [
                {"target": t.name, "vendor": t.vendor, "product": t.product, "version": t.version, "sha256": t.sha256,
                 "scan_id": sc.id, "endpoint": e.value, "kind": e.kind, "country": e.country, "purpose": e.purpose,
                 "paths": e.paths}
                for e, sc, t in s.execute(q.order_by(Target.name, Endpoint.value).limit(1000))
            ]

    def dataflow(self) -> list[dict[str, Any]]:
        """Endpoints of all completed scans by country: endpoints, images."""
        with self.Session() as s:
            rows = s.execute(
                select(Endpoint.country, func.count(func.distinct(Endpoint.value)), func.count(func.distinct(Scan.target_id)))
                .join(Scan, Endpoint.scan_id == Scan.id).where(Scan.status == "done").group_by(Endpoint.country)
            )
            out = [{"country": c, "endpoints": n, "images": i} for c, n, i in rows]
        return sorted(out, key=lambda r: (-r["endpoints"], r["country"] or "~"))

    def diff(self, a: int, b: int) -> dict[str, list[Finding]]:
        """Findings of scan ``b`` against scan ``a`` by fingerprint: new, fixed, unchanged."""
        fa = {f.fingerprint: f for f in self.findings(a)}
        fb = {f.fingerprint: f for f in self.findings(b)}
        return {
            "new": [f for k, f in fb.items() if k not in fa],
            "fixed": [f for k, f in fa.items() if k not in fb],
            "unchanged": [f for k, f in fb.items() if k in fa],
        }

    def counts(self) -> dict[str, int]:
        with self.Session() as s:
            return {
                name: s.scalar(select(func.count()).select_from(model)) or 0
                for name, model in (("targets", Target), ("scans", Scan), ("findings", Finding),
                                    ("endpoints", Endpoint), ("accounts", Account), ("services", Service),
                                    ("components", Component), ("conformance", Conformance))
            }


def iter_reports(paths: Iterable[Path]) -> Iterable[dict[str, Any]]:
    import json

    for p in paths:
        yield json.loads(Path(p).read_text(encoding="utf-8"))
