"""Standards profiles: data files under ``veracity/data/standards``, one per standard.

A profile lists clauses; each clause says whether a static audit of an image can decide it (``yes``,
``partly``, ``no``), which finding categories and rule ids support it (rules also name the clauses they
support in their own ``standards``), and why it is not or only partly assessed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

STATIC = ("yes", "partly", "no")
DEFAULT_ORDER = ("EN303645", "TS33117", "GDSI")


class UnknownStandard(ValueError):
    """A ``--standard`` name that no shipped profile answers to."""

    def diagnostics(self) -> str:
        return f"{self}; known: {', '.join(p.id for p in profiles())} (see `veracity standards`)"


@dataclass(frozen=True, slots=True)
class Clause:
    id: str
    title: str
    static: str
    categories: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    name: str
    version: str
    url: str
    source: str
    aliases: tuple[str, ...]
    clauses: tuple[Clause, ...]

    def names(self) -> tuple[str, ...]:
        return (self.id.lower(), *(a.lower() for a in self.aliases))


def _load(text: str) -> Profile:
    d = json.loads(text)
    clauses = []
    for c in d["clauses"]:
        if c["static"] not in STATIC:
            raise ValueError(f"{c['id']}: static must be one of {STATIC}")
        if not c["id"].startswith(d["id"] + ":"):
            raise ValueError(f"{c['id']}: clause ids start with the profile id {d['id']!r}")
        clauses.append(
            Clause(
                id=c["id"],
                title=c["title"],
                static=c["static"],
                categories=tuple(c.get("categories", ())),
                rules=tuple(c.get("rules", ())),
                reason=c.get("reason"),
            )
        )
    return Profile(
        id=d["id"],
        name=d["name"],
        version=d.get("version", ""),
        url=d.get("url", ""),
        source=d.get("source", ""),
        aliases=tuple(d.get("aliases", ())),
        clauses=tuple(clauses),
    )


@cache
def profiles() -> tuple[Profile, ...]:
    """Every shipped profile, in a stable order (EN 303 645, TS 33.117, GDSI, then others by id)."""
    folder = resources.files("veracity").joinpath("data/standards")
    loaded = [_load(f.read_text(encoding="utf-8")) for f in folder.iterdir() if f.name.endswith(".json")]
    rank = {pid: i for i, pid in enumerate(DEFAULT_ORDER)}
    return tuple(sorted(loaded, key=lambda p: (rank.get(p.id, len(rank)), p.id)))


def resolve(names: tuple[str, ...] | list[str] | None) -> tuple[Profile, ...]:
    """The profiles ``names`` select (case-insensitive ids or aliases; empty: all), in the default order."""
    if not names:
        return profiles()
    wanted: set[str] = set()
    for name in names:
        for part in str(name).split(","):
            key = part.strip().lower()
            if not key:
                continue
            if key == "all":
                wanted.update(p.id for p in profiles())
                continue
            match = [p for p in profiles() if key in p.names()]
            if not match:
                raise UnknownStandard(f"unknown standard {part.strip()!r}")
            wanted.add(match[0].id)
    return tuple(p for p in profiles() if p.id in wanted)


def clause_index() -> dict[str, Clause]:
    return {c.id: c for p in profiles() for c in p.clauses}
