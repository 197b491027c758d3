"""What a check is. One concern per check, mostly data: rules with ids, categories, severities, standards
and references, plus one method that turns the inventory into findings.

A check that does not apply to a target (no /etc/passwd in a Python wheel) raises :class:`NotApplicable`
with the reason; the report lists it as not assessed instead of silently returning nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Protocol

from ..findings import Finding, Rule
from ..inventory import Inventory, Item
from ..patterns import Pattern


def file_key(item: Item) -> str:
    """The key of what a check keeps for one file (``Inventory.keep``) when that depends on the file's content and
    path only: whether its text was kept counts too (a check reads a text, or strings without it)."""
    return f"{item.facts.sha256}|{int(item.facts.text is None)}|{item.node.path}"


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
