"""The one list of built-in checks and of every rule. Order matters: later checks may read the report
sections earlier ones filled (services read accounts, to say which credentials guard a service)."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Rule
from ..options import ScanOptions
from ..patterns import PatternSet
from ..unpack import rules as unpack_rules
from .accounts import AccountsCheck
from .backdoors import BackdoorsCheck
from .components import ComponentsCheck
from .egress import EgressCheck
from .keys import KeysCheck
from .malcode import MalcodeCheck
from .secrets import SecretsCheck
from .services import ServicesCheck
from .yara import YaraCheck

CHECK_FAILED = Rule(
    "VER-CHK-001",
    "analysis.incomplete",
    "medium",
    "A check could not complete",
    "A check met an internal error; its part of the analysis is missing from this report.",
)


CHECKS: tuple = (
    AccountsCheck,
    ComponentsCheck,
    ServicesCheck,
    EgressCheck,
    KeysCheck,
    SecretsCheck,
    BackdoorsCheck,
    MalcodeCheck,
    YaraCheck,
)
"""Built-in check classes, in run order."""


def checks(options: ScanOptions | None = None) -> tuple:
    """One instance of every check for a scan; a check that takes options gets them."""
    options = options or ScanOptions()
    out = []
    for cls in CHECKS:
        if options.checks is not None and getattr(cls, "ID", None) not in options.checks:
            continue
        if not isinstance(cls, type):  # an instance (tests register ready-made ones)
            out.append(cls)
            continue
        try:
            out.append(cls(options))
        except TypeError:
            out.append(cls())
    return tuple(out)


def patterns(instances: tuple | None = None) -> PatternSet:
    """The union of the patterns of ``instances`` (default: every check), compiled once per scan by the
    inventory. No checks (``--checks none``): no patterns, so unpacking and inventory are measured alone."""
    chosen = checks() if instances is None else instances
    return PatternSet(p for check in chosen for p in getattr(check, "PATTERNS", ()))


def ids() -> tuple[str, ...]:
    return tuple(cls.ID for cls in CHECKS)


def all_rules() -> Iterator[Rule]:
    yield from unpack_rules.ALL
    yield CHECK_FAILED
    for check in checks():
        yield from check.RULES
