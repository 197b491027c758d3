"""Purpose of an endpoint from its context: data-driven rules (``veracity/data/egress/purposes.json``)."""

from __future__ import annotations

import ipaddress
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ..patterns import prefilter
from .context import Context
from .extract import Candidate

COMMON_PORTS = frozenset({
    20, 21, 22, 23, 25, 53, 67, 68, 69, 80, 110, 123, 143, 161, 162, 389, 443, 465, 500, 514, 515, 554, 587, 636,
    853, 993, 995, 1080, 1194, 1723, 1812, 1813, 1883, 1900, 3478, 3479, 4500, 5060, 5061, 5222, 5223, 5349, 5353,
    5683, 5684, 7547, 8000, 8008, 8080, 8081, 8443, 8883, 8888, 9000, 9443,
})
"""Ports of well-known protocols: an address literal with another port counts as unusual for the C2 rule."""

NON_EGRESS = frozenset({"web-ui", "local-admin"})
"""Purposes whose endpoints the device does not contact by itself: listed, not judged against a declaration or a
residency policy."""


@dataclass(frozen=True, slots=True)
class PurposeRule:
    id: str
    purpose: str
    conditions: dict[str, Any]
    why: str = ""


@cache
def catalogue() -> tuple[dict[str, str], tuple[PurposeRule, ...]]:
    raw = json.loads(resources.files("veracity").joinpath("data/egress/purposes.json").read_text(encoding="utf-8"))
    purposes: dict[str, str] = raw["purposes"]
    rules = []
    for r in raw["rules"]:
        if r["purpose"] not in purposes:
            raise ValueError(f"purpose rule {r['id']}: unknown purpose {r['purpose']}")
        cond = {k: v for k, v in r.items() if k not in ("id", "purpose", "why")}
        for k in ("key", "section", "host", "path", "neighbour_host"):
            if k in cond:
                cond[k] = re.compile(cond[k], re.IGNORECASE)
        if "words" in cond:  # searched in lower-cased words (Context.words): written in lower case, no flag
            if cond["words"] != cond["words"].lower():
                raise ValueError(f"purpose rule {r['id']}: words must be written in lower case")
            cond["words"] = re.compile(cond["words"])
        # the text searches last: a rule holds when all its conditions do, and the cheap ones fail most often
        cond = dict(sorted(cond.items(), key=lambda kv: kv[0] in ("words", "neighbour_host")))
        rules.append(PurposeRule(r["id"], r["purpose"], cond, r.get("why", "")))
    return purposes, tuple(rules)


def rank(purpose: str | None) -> int:
    """Lower is more significant; None last."""
    if purpose is None:
        return 10_000
    order = list(catalogue()[0])
    return order.index(purpose) if purpose in order else 9_999


def _is_ip(host: str | None) -> bool:
    if not host or not (host[0].isdigit() or ":" in host):
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def classify(cand: Candidate, ctx: Context, shell_file: bool) -> tuple[str | None, str | None]:
    """(purpose, rule id) for one place of an endpoint, or (None, None)."""
    host = cand.host or ""
    for rule, tests in _compiled():
        for test in tests:
            if not test(cand, ctx, host, shell_file):
                break
        else:
            return rule.purpose, rule.id
    return None, None


def classify_ready() -> None:
    """Read the rules and make their tests now (a scan does it in the background while it unpacks)."""
    _compiled()


Test = Callable[[Candidate, Context, str, bool], bool]
"""One condition of a rule: (candidate, context, host, in a shell file) -> holds."""


@cache
def _compiled() -> tuple[tuple[PurposeRule, tuple[Test, ...]], ...]:
    """The rules with their conditions made into tests once, in their order (the cheap ones first)."""
    return tuple((rule, tuple(_test(name, want) for name, want in rule.conditions.items()))
                 for rule in catalogue()[1])


@cache
def _words_prefilter() -> tuple[Any, list[str]] | None:
    """The rules' ``words`` patterns in one Hyperscan database, and the patterns by tag: one pass over a context's
    words says which of them may match, each then confirmed by its regex. Only for ASCII words, where Hyperscan
    and re read a pattern alike (on other text re's classes and boundaries are Unicode's, Hyperscan's are bytes').
    None when a pattern is not for Hyperscan."""
    patterns = sorted({r.conditions["words"].pattern for r in catalogue()[1] if "words" in r.conditions})
    database = prefilter(patterns) if patterns else None
    return None if database is None else (database, patterns)


class _WordsScan(threading.local):
    """A thread's scanner of the words prefilter, and the words it last scanned with the tags found there (classify
    asks once per rule, for the same words)."""

    def __init__(self) -> None:
        self.scanner: Any = None
        self.words: str | None = None
        self.found: set[int] = set()
        self.tags: frozenset[int] = frozenset()


_WORDS_SCAN = _WordsScan()


def _words_hit(state: _WordsScan, tag: int, _start: int, _end: int) -> Any:
    import pyperscan as ps

    state.found.add(tag)
    return ps.Scan.Continue


class _Every:
    """Holds every tag: what the prefilter says of words it does not read (not ASCII)."""

    def __contains__(self, tag: object) -> bool:
        return True


_EVERY = _Every()


def _words_maybe(words: str) -> frozenset[int] | _Every:
    """The tags of the words patterns that may match ``words`` (those that do are among them)."""
    if not words.isascii():
        return _EVERY
    state = _WORDS_SCAN
    if state.words is not words:
        if state.scanner is None:
            state.scanner = _words_prefilter()[0].build(state, _words_hit)  # type: ignore[index]
        state.found = set()
        state.scanner.scan(words.encode("ascii"))
        state.words, state.tags = words, frozenset(state.found)
    return state.tags


def _global_ip(host: str) -> bool:
    return _is_ip(host) and ipaddress.ip_address(host).is_global


def _test(name: str, want: Any) -> Test:
    """The test of the condition ``name`` (see ``purposes.json``) with the value ``want``."""
    if name == "scheme":
        return lambda cand, ctx, host, shell: cand.scheme in want
    if name == "kind":
        return lambda cand, ctx, host, shell: cand.kind in want
    if name == "ip":  # an address, and a public one; or not an address
        return (lambda cand, ctx, host, shell: _global_ip(host)) if want else \
            (lambda cand, ctx, host, shell: not _is_ip(host))
    if name == "unusual_port":
        return lambda cand, ctx, host, shell: (cand.port is not None and cand.port not in COMMON_PORTS) == want
    if name == "shell_file":
        return lambda cand, ctx, host, shell: shell == want
    if name == "web":
        return lambda cand, ctx, host, shell: ctx.web in want
    if name == "command":
        return lambda cand, ctx, host, shell: ctx.command in want
    if name == "key":
        return lambda cand, ctx, host, shell: bool(ctx.key) and want.search(ctx.key) is not None
    if name == "section":
        return lambda cand, ctx, host, shell: bool(cand.section) and want.search(cand.section) is not None
    if name == "host":
        return lambda cand, ctx, host, shell: bool(host) and not _is_ip(host) and want.search(host) is not None
    if name == "path":
        return lambda cand, ctx, host, shell: cand.kind == "url" and want.search(cand.path) is not None
    if name == "words":
        prefilter = _words_prefilter()
        if prefilter is None or want.pattern not in prefilter[1]:
            return lambda cand, ctx, host, shell: want.search(ctx.words) is not None
        tag = prefilter[1].index(want.pattern)
        return lambda cand, ctx, host, shell: tag in _words_maybe(ctx.words) and want.search(ctx.words) is not None
    if name == "neighbour_host":
        return lambda cand, ctx, host, shell: any(
            want.fullmatch(s.strip().lower()) for s in (*cand.before[:3], *cand.after[:3]))
    raise ValueError(f"unknown purpose condition {name}")
