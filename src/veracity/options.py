"""What a user can tell a scan beyond the target and the limits. Checks receive it when they are made."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ScanOptions:
    declaration: Path | None = None
    """The vendor's declaration (YAML/JSON): declared endpoints, accounts, services."""
    mud: Path | None = None
    """An RFC 8520 MUD file."""
    policy: Path | None = None
    """A data-residency policy file."""
    allow_countries: tuple[str, ...] = ()
    """ISO 3166-1 alpha-2 codes where processing is allowed (shortcut for a policy)."""
    geoip: Path | None = None
    """A MaxMind-format database of the user's own, preferred over the shipped IP data."""
    resolve: bool = False
    """Resolve host names through DNS at scan time (off by default; never in tests)."""
    vulndb: Path | None = None
    """The local vulnerability database (default: in the user's cache dir)."""
    vex: tuple[Path, ...] = ()
    """VEX documents marking vulnerabilities not affecting this product."""
    yara_rules: Path | None = None
    """A directory of the user's YARA rules."""
    standards: tuple[str, ...] = ()
    """Standards profiles to assess (empty: all shipped profiles)."""
    checks: tuple[str, ...] | None = None
    """Ids of the checks to run (None: all; empty: none, unpacking and inventory only)."""
    extra: dict = field(default_factory=dict)
