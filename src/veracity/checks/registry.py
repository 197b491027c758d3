"""The one list of built-in checks and rules; outside checks join through the ``veracity.checks`` entry point."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Rule
from ..unpack import rules as unpack_rules

CHECKS: tuple = ()


def all_rules() -> Iterator[Rule]:
    yield from unpack_rules.ALL
    for check in CHECKS:
        yield from check.RULES
