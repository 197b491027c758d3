"""The values a diff is made of: one :func:`change` per thing that changed, with evidence on both sides.

The diff (``veracity diff --format json``, schema ``veracity-diff/1``) is one JSON object:

- ``schema``, ``tool``; ``old`` and ``new``: each side (``source`` ``image`` or ``report``, target name, kind,
  sha256, rules version);
- ``verdict``: ``security_change``, ``way_in`` (the update adds an account, remote-access service, key,
  backdoor finding or library implant), ``cross_border`` (a new endpoint in a jurisdiction the old version
  did not reach, or that the residency policy or ``--allow-countries`` forbids), ``headline`` and counts;
- ``changes``: sorted by severity, ways in first; each has ``area`` (:data:`AREAS`), ``change``
  (:data:`CHANGE_KINDS`), ``subject``, ``severity``, ``way_in``, ``cross_border``, ``notable``, ``title``,
  ``details``, ``path``, ``container``, ``old`` and ``new`` (the evidence of each side, null where absent),
  ``findings`` (the new or resolved findings this change explains) and, for startup scripts, ``diff``;
- ``findings``: every ``new`` and ``resolved`` finding (by fingerprint), with ``shown_in`` naming the change
  that shows it;
- ``files``: what was compared and how (contents or hashes), added, removed, renamed (same content), files
  that differ only in build stamps (counted), changed without new capabilities, changed text files with their
  diff, links;
- ``summary`` and ``notes`` (what could not be compared, and why).
"""

from __future__ import annotations

from typing import Any

from ..findings import SEVERITIES, SEVERITY_RANK

DIFF_SCHEMA = "veracity-diff/1"

AREAS = ("executables", "accounts", "services", "keys", "endpoints", "findings", "components", "vulnerabilities",
         "scripts", "files")
"""Areas in the order a person reads them, after severity."""

WAY_IN_CATEGORIES = frozenset({
    "backdoor.known", "backdoor.magic-auth", "backdoor.bind-shell", "code.reverse-shell", "account.hidden",
    "credential.empty", "credential.default", "credential.authorized-key", "key.known-compromised",
    "service.remote-access",
})
"""Categories of a new finding that means the update adds a way in."""

CHANGE_KINDS = ("added", "removed", "changed", "renamed", "rotated", "unchanged", "upgraded", "downgraded",
                "introduced", "fixed", "new", "resolved")


def change(
    area: str,
    kind: str,
    subject: str,
    title: str,
    *,
    severity: str = "info",
    way_in: bool = False,
    cross_border: bool = False,
    details: list[str] | None = None,
    old: Any = None,
    new: Any = None,
    path: str | None = None,
    container: list[str] | None = None,
    diff: str | None = None,
    notable: bool = False,
) -> dict[str, Any]:
    """One change. ``old`` and ``new`` hold the evidence of each side (None where the thing is absent).
    ``notable``: not a change in itself, but worth knowing (a private key that was not rotated)."""
    assert area in AREAS and kind in CHANGE_KINDS and severity in SEVERITIES, (area, kind, severity)
    out: dict[str, Any] = {
        "area": area,
        "change": kind,
        "subject": subject,
        "severity": severity,
        "way_in": way_in,
        "cross_border": cross_border,
        "notable": notable,
        "title": title,
        "details": list(details or []),
        "path": path,
        "container": list(container or []),
        "old": old,
        "new": new,
        "findings": [],
    }
    if diff is not None:
        out["diff"] = diff
    return out


def worse(a: str, b: str) -> str:
    """The more severe of two severities."""
    return a if SEVERITY_RANK[a] <= SEVERITY_RANK[b] else b


def sort_key(c: dict[str, Any]) -> tuple:
    return (
        SEVERITY_RANK[c["severity"]],
        not c["way_in"],
        not c["cross_border"],
        AREAS.index(c["area"]),
        c["change"] in ("removed", "resolved", "fixed"),
        c["subject"],
        c.get("path") or "",
    )


def is_security(c: dict[str, Any]) -> bool:
    """A change that matters for security (anything above info)."""
    return c["severity"] != "info" or c["way_in"] or c["cross_border"]
