"""``veracity standards [NAME...] [--json]``: the shipped profiles, or one profile's clauses and their support."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .assess import rule_sources
from .profiles import Profile, UnknownStandard, profiles, resolve

EXIT_OK, EXIT_USAGE = 0, 2


def register(subparsers: Any) -> dict[str, Any]:
    """Add the ``standards`` subcommand; returns ``{"standards": handler}`` (handler(args) -> exit status)."""
    p = subparsers.add_parser(
        "standards",
        help="list the standards profiles, or the clauses of some and which checks support them",
        description="Without a name: the shipped standards profiles. With names: their clauses, whether a "
        "static audit can decide each (yes/partly/no) and the rules that support it.",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="profile id or alias (e.g. EN303645, etsi, 3gpp, gdsi)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)
    return {"standards": run}


def describe(profile: Profile) -> dict[str, Any]:
    """A profile with, for each clause, the rule ids that support it in this version."""
    sources = rule_sources()
    clauses = []
    for c in profile.clauses:
        rules = sorted(
            {
                s.rule.id
                for s in sources
                if c.id in s.rule.standards or s.rule.id in c.rules or s.rule.category in c.categories
            }
        )
        clauses.append(
            {
                "id": c.id,
                "title": c.title,
                "static": c.static,
                "categories": list(c.categories),
                "rules": rules,
                "reason": c.reason,
            }
        )
    return {
        "id": profile.id,
        "name": profile.name,
        "version": profile.version,
        "url": profile.url,
        "aliases": list(profile.aliases),
        "source": profile.source,
        "clauses": clauses,
    }


def run(args: argparse.Namespace, out=None) -> int:
    out = out or sys.stdout
    try:
        chosen = resolve(tuple(args.names)) if args.names else profiles()
    except UnknownStandard as exc:
        print(f"veracity: error: {exc.diagnostics()}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        data = [describe(p) for p in chosen]
        out.write(json.dumps(data if args.names else [_brief(p) for p in chosen], indent=2) + "\n")
        return EXIT_OK
    if not args.names:
        for p in chosen:
            b = _brief(p)
            out.write(
                f"{p.id:<10} {p.name}\n{'':<10} aliases: {', '.join(p.aliases)}; {b['clauses']} clauses "
                f"(static: {b['static']['yes']} yes, {b['static']['partly']} partly, {b['static']['no']} no)\n"
            )
        return EXIT_OK
    for p in chosen:
        d = describe(p)
        out.write(f"{p.id}: {p.name}\n{p.url}\n\n")
        for c in d["clauses"]:
            support = ", ".join(c["rules"]) if c["rules"] else "-"
            out.write(f"  {c['id']:<24} {c['static']:<7} {c['title']}\n{'':<34}rules: {support}\n")
            if c["reason"]:
                out.write(f"{'':<34}{'why not' if c['static'] == 'no' else 'limits'}: {c['reason']}\n")
        out.write("\n")
    return EXIT_OK


def _brief(p: Profile) -> dict[str, Any]:
    counts = {k: sum(1 for c in p.clauses if c.static == k) for k in ("yes", "partly", "no")}
    return {"id": p.id, "name": p.name, "version": p.version, "aliases": list(p.aliases), "clauses": len(p.clauses),
            "static": counts, "url": p.url}
