"""``veracity scan`` options of the egress check: ``add_scan_arguments(parser)`` adds them, ``options_from(args)``
turns the parsed values into :class:`veracity.options.ScanOptions` fields."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _countries(text: str) -> tuple[str, ...]:
    out = []
    for part in text.replace(";", ",").split(","):
        code = part.strip().upper()
        if not code:
            continue
        if len(code) != 2 or not code.isalpha():
            raise argparse.ArgumentTypeError(f"{part.strip()!r} is not an ISO 3166-1 alpha-2 country code")
        out.append("GB" if code == "UK" else code)
    if not out:
        raise argparse.ArgumentTypeError("give at least one country code, e.g. PK,AE")
    return tuple(out)


def _existing(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    return path


def add_scan_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("endpoints, declaration and data residency")
    group.add_argument("--declaration", type=_existing, metavar="FILE",
                       help="the vendor's declaration (YAML/JSON: endpoints, accounts, services; see "
                            "examples/declaration.yaml); undeclared items are reported")
    group.add_argument("--mud", type=_existing, metavar="FILE",
                       help="an RFC 8520 MUD file: the endpoints its ACLs allow count as declared")
    group.add_argument("--policy", type=_existing, metavar="FILE",
                       help="a data-residency policy (YAML/JSON; see examples/policy-*.yaml)")
    group.add_argument("--allow-countries", type=_countries, metavar="CC[,CC...]", default=(),
                       help="countries where processing is allowed (ISO 3166-1 alpha-2), e.g. PK,AE")
    group.add_argument("--geoip", type=_existing, metavar="FILE.mmdb",
                       help="your own MaxMind-format database for address countries (needs maxminddb)")
    group.add_argument("--resolve", action="store_true",
                       help="resolve host names through DNS at scan time (off by default: no network request)")


def options_from(args: argparse.Namespace) -> dict[str, Any]:
    """ScanOptions keyword arguments from parsed ``veracity scan`` arguments."""
    return {
        "declaration": getattr(args, "declaration", None),
        "mud": getattr(args, "mud", None),
        "policy": getattr(args, "policy", None),
        "allow_countries": tuple(getattr(args, "allow_countries", ()) or ()),
        "geoip": getattr(args, "geoip", None),
        "resolve": bool(getattr(args, "resolve", False)),
    }
