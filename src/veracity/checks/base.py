"""What a check is. One concern per check, mostly data: rules with ids, categories, severities, standards
and references, plus one method that turns the inventory into findings.

A check that does not apply to a target (no /etc/passwd in a Python wheel) raises :class:`NotApplicable`
with the reason; the report lists it as not assessed instead of silently returning nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import ClassVar, Protocol

from ..findings import Finding, Rule
from ..inventory import Inventory, Item
from ..patterns import Pattern

_NONPRODUCT_DIRS = frozenset({
    "test", "tests", "testing", "testdata", "test-data", "test_data", "fixtures", "__tests__", "spec",
    "demo", "demos", "example", "examples", "sample", "samples", "doc", "docs", "documentation",
})


def nonproduct(path: str) -> bool:
    """True for a path inside a software package's tests, demos, examples or documentation."""
    if path.startswith(("/usr/share/doc/", "/usr/share/man/", "/usr/share/info/", "/usr/doc/")):
        return True
    parts = [p for p in path.split("/") if p][:-1]
    return any(p.lower() in _NONPRODUCT_DIRS for p in parts)


@lru_cache(maxsize=4096)
def _nonproduct_container(container: tuple[str, ...]) -> bool:
    return any(c.startswith("/") and nonproduct(c) for c in container)


def nonproduct_item(item: Item) -> bool:
    """:func:`nonproduct` for a file, or for a file unpacked from one (``changelog`` from
    ``/usr/share/doc/gdb/changelog.gz``, a test key from ``tests/data.tar``)."""
    return _nonproduct_container(item.tree.container) or nonproduct(item.node.path)


def file_key(item: Item) -> str:
    """The key of what a check keeps for one file (``Inventory.keep``) when that depends on the file's content and
    path only: whether its text was kept counts too (a check reads a text, or strings without it), and whether it
    was unpacked from documentation or tests (:func:`nonproduct_item`)."""
    nested = int(_nonproduct_container(item.tree.container))
    return f"{item.facts.sha256}|{int(item.facts.text is None)}|{nested}|{item.node.path}"


class NotApplicable(Exception):
    """The check has nothing to look at in this target; the message says why."""


class Check(Protocol):
    ID: ClassVar[str]
    """Short stable name, e.g. ``accounts``."""
    TITLE: ClassVar[str]
    RULES: ClassVar[tuple[Rule, ...]]
    PATTERNS: ClassVar[tuple[Pattern, ...]]
    """Byte patterns matched over every file in the inventory's one pass (``FileFacts.matches``); may be ()."""

    def run(self, inv: Inventory, sections: dict[str, list[dict]]) -> Iterable[Finding]:
        """Findings for ``inv``. May fill report sections (``accounts``, ``services``, ...) in ``sections``;
        later checks may read what earlier ones filled."""
        ...
