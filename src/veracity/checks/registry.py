"""The one list of built-in checks and of every rule. Order matters: later checks may read the report
sections earlier ones filled (services read accounts, to say which credentials guard a service)."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Rule
from ..patterns import PatternSet
from ..unpack import rules as unpack_rules

CHECK_FAILED = Rule(
    "VER-CHK-001",
    "analysis.incomplete",
    "medium",
    "A check could not complete",
    "A check met an internal error; its part of the analysis is missing from this report.",
)


def checks() -> tuple:
    return CHECKS


CHECKS: tuple = ()


def patterns() -> PatternSet:
    """The union of every check's patterns, compiled once per scan by the inventory."""
    return PatternSet(p for check in checks() for p in getattr(check, "PATTERNS", ()))


def all_rules() -> Iterator[Rule]:
    yield from unpack_rules.ALL
    yield CHECK_FAILED
    for check in checks():
        yield from check.RULES
