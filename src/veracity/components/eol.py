"""End-of-life knowledge (``data/eol.json``): is this version's release branch still maintained?"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from . import versions


@dataclass(frozen=True, slots=True)
class EndOfLife:
    branch: str
    date: str | None
    source: str
    as_of: str


@cache
def knowledge() -> dict:
    return json.loads(resources.files("veracity").joinpath("data/eol.json").read_text())


def _numbers(version: str) -> list[int]:
    head = re.match(r"[0-9]+(?:[._][0-9]+)*", version.strip().lstrip("v"))
    return [int(x) for x in re.split(r"[._]", head.group())] if head else []


def _is_branch(version: str, branch: str) -> bool:
    nums, want = _numbers(version), _numbers(branch)
    return bool(want) and nums[: len(want)] == want


def check(key: str | None, version: str | None) -> EndOfLife | None:
    """The end of life of ``version`` of component ``key``, or None (maintained, or nothing known)."""
    if not key:
        return None
    data = knowledge()
    entry = data["components"].get(key)
    if entry is None:
        return None
    as_of, source = data["as_of"], entry["source"]
    if not version or not _numbers(version):
        older = entry.get("older_than")
        if older and older["version"] == "999" and not entry.get("branches"):  # every version is past its end
            eol = older["eol"]
            return EndOfLife("all", eol if isinstance(eol, str) else None, source, as_of)
        return None

    def made(branch: str, eol) -> EndOfLife | None:
        if eol is True:
            return EndOfLife(branch, None, source, as_of)
        if isinstance(eol, str) and eol <= as_of:
            return EndOfLife(branch, eol, source, as_of)
        return None

    for b in entry.get("branches", []):
        if _is_branch(version, b["branch"]):
            return made(b["branch"], b["eol"])
    older = entry.get("older_than")
    if older and versions.compare(version, older["version"]) < 0:
        return made(f"< {older['version']}" if older["version"] != "999" else "all", older["eol"])
    supported = entry.get("supported")
    if supported:
        if any(_is_branch(version, b) for b in supported):
            return None
        newest = max(supported, key=versions.sort_key)
        if versions.compare(version, newest) < 0:
            nums = _numbers(version)
            return made(".".join(map(str, nums[:2])), True)
    return None
