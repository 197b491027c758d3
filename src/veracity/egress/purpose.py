"""Purpose of an endpoint from its context: data-driven rules (``veracity/data/egress/purposes.json``)."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

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
    for rule in catalogue()[1]:
        if _holds(rule.conditions, cand, ctx, host, shell_file):
            return rule.purpose, rule.id
    return None, None


def _holds(cond: dict[str, Any], cand: Candidate, ctx: Context, host: str, shell_file: bool) -> bool:
    for name, want in cond.items():
        if name == "scheme":
            if cand.scheme not in want:
                return False
        elif name == "kind":
            if cand.kind not in want:
                return False
        elif name == "ip":
            if _is_ip(host) != want:
                return False
            if want:
                addr = ipaddress.ip_address(host)
                if not addr.is_global:
                    return False
        elif name == "unusual_port":
            if (cand.port is not None and cand.port not in COMMON_PORTS) != want:
                return False
        elif name == "shell_file":
            if shell_file != want:
                return False
        elif name == "web":
            if ctx.web not in want:
                return False
        elif name == "command":
            if ctx.command not in want:
                return False
        elif name == "key":
            if not ctx.key or not want.search(ctx.key):
                return False
        elif name == "section":
            if not cand.section or not want.search(cand.section):
                return False
        elif name == "host":
            if not host or _is_ip(host) or not want.search(host):
                return False
        elif name == "path":
            if cand.kind != "url" or not want.search(cand.path):
                return False
        elif name == "words":
            if not want.search(ctx.words):
                return False
        elif name == "neighbour_host":
            if not any(want.fullmatch(s.strip().lower()) for s in (*cand.before[:3], *cand.after[:3])):
                return False
        else:
            raise ValueError(f"unknown purpose condition {name}")
    return True
