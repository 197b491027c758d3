"""SQLAlchemy 2 models of the store. The JSON report is the unit: every row below a scan comes from one report.

The schema is created and upgraded by the Alembic migrations shipped in ``veracity/store/migrations``
(``veracity.store.migrate(url)``), never by ``create_all``; a test checks that the two agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base of the store models."""


class Target(Base):
    """One image, identified by its content hash."""

    __tablename__ = "targets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(512))
    vendor: Mapped[str | None] = mapped_column(String(200), index=True)
    product: Mapped[str | None] = mapped_column(String(200), index=True)
    version: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str | None] = mapped_column(String(40))
    blob: Mapped[str | None] = mapped_column(String(1024))  # where the server keeps the bytes (never a client path)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    scans: Mapped[list[Scan]] = relationship(back_populates="target", cascade="all, delete-orphan")


class Scan(Base):
    """One scan of a target with one rules version. Rows below it exist only once status is 'done'."""

    __tablename__ = "scans"
    __table_args__ = (UniqueConstraint("target_id", "rules_version", name="uq_scan_target_rules"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"), index=True)
    tool_version: Mapped[str] = mapped_column(String(40))
    rules_version: Mapped[str] = mapped_column(String(80))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued, running, done, failed
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[str | None] = mapped_column(String(40))
    duration_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    target: Mapped[Target] = relationship(back_populates="scans", lazy="joined")
    findings: Mapped[list[Finding]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    endpoints: Mapped[list[Endpoint]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    accounts: Mapped[list[Account]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    services: Mapped[list[Service]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    components: Mapped[list[Component]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    conformance: Mapped[list[Conformance]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    attestations: Mapped[list[Attestation]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


def _scan_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)


class Finding(Base):
    __tablename__ = "findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = _scan_fk()
    rule: Mapped[str] = mapped_column(String(40), index=True)
    category: Mapped[str] = mapped_column(String(60), index=True)
    severity: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(Text)
    container: Mapped[list[Any]] = mapped_column(JSON, default=list)
    line: Mapped[int | None] = mapped_column(Integer)
    offset: Mapped[int | None] = mapped_column(Integer)
    evidence: Mapped[str] = mapped_column(Text, default="")
    backdoor_id: Mapped[str | None] = mapped_column(String(120))
    standards: Mapped[list[Any]] = mapped_column(JSON, default=list)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)


class Endpoint(Base):
    __tablename__ = "endpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = _scan_fk()
    value: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10))
    host: Mapped[str | None] = mapped_column(String(300), index=True)
    port: Mapped[int | None] = mapped_column(Integer)
    scheme: Mapped[str | None] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(2), index=True)
    owner: Mapped[str | None] = mapped_column(String(300))
    purpose: Mapped[str | None] = mapped_column(String(80))
    paths: Mapped[list[Any]] = mapped_column(JSON, default=list)


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = _scan_fk()
    name: Mapped[str] = mapped_column(String(200))
    uid: Mapped[int | None] = mapped_column(Integer)
    gid: Mapped[int | None] = mapped_column(Integer)
    shell: Mapped[str | None] = mapped_column(String(300))
    home: Mapped[str | None] = mapped_column(String(300))
    password_state: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str | None] = mapped_column(Text)


class Service(Base):
    __tablename__ = "services"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = _scan_fk()
    name: Mapped[str] = mapped_column(String(200))
    binary: Mapped[str | None] = mapped_column(Text)
    auth: Mapped[str | None] = mapped_column(String(20))
    ports: Mapped[list[Any]] = mapped_column(JSON, default=list)
    started_by: Mapped[list[Any]] = mapped_column(JSON, default=list)


class Component(Base):
    __tablename__ = "components"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = _scan_fk()
    name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[str | None] = mapped_column(String(120), index=True)
    purl: Mapped[str | None] = mapped_column(Text)
    cpe: Mapped[str | None] = mapped_column(Text)
    paths: Mapped[list[Any]] = mapped_column(JSON, default=list)


class Conformance(Base):
    __tablename__ = "conformance"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = _scan_fk()
    standard: Mapped[str] = mapped_column(String(40))
    clause: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(20))
    findings: Mapped[list[Any]] = mapped_column(JSON, default=list)


class Attestation(Base):
    """A signed attestation (DSSE envelope or other) over a stored scan's report."""

    __tablename__ = "attestations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = _scan_fk()
    format: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


class Token(Base):
    """An API token; only its SHA-256 is kept."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
