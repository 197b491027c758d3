"""Standards profiles and clause-by-clause conformance.

``conformance(findings, checks_ran, standards)`` is what a scan calls after its checks; ``register`` adds
the ``veracity standards`` subcommand.
"""

from __future__ import annotations

from .assess import RuleSource, assess, conformance, rule_sources, summary
from .cli import register
from .profiles import Clause, Profile, UnknownStandard, clause_index, profiles, resolve

__all__ = [
    "Clause",
    "Profile",
    "RuleSource",
    "UnknownStandard",
    "assess",
    "clause_index",
    "conformance",
    "profiles",
    "register",
    "resolve",
    "rule_sources",
    "summary",
]
