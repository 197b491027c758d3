"""Version strings of the schemes embedded software uses, compared the way their projects mean them.

``1.0.2k`` (OpenSSL letter releases come after ``1.0.2``), ``0.9.8zh`` (after ``0.9.8z``), ``2.6.36.4``
(any number of numeric parts), ``2022.83`` and ``0.46`` (dropbear: date versions after the old ones),
``1_30_1`` (busybox tags), ``8.4p1`` (OpenSSH portable), ``1.0.0-beta2`` / ``2.6.36-rc1`` (pre-releases
come before the release), ``1.36.1-r2`` / ``1:2.3-4`` (package revisions and epochs, stripped by
:func:`upstream`).
"""

from __future__ import annotations

import re
from functools import cmp_to_key, total_ordering

_TOKEN = re.compile(r"[0-9]+|[a-z]+")
_PRE = ("alpha", "beta", "pre", "rc", "dev", "preview", "snapshot", "test", "devel")
# Tokens sort as: pre-release tag < end of version < post-release letters < number.
_PRE_RANK, _END_RANK, _LETTER_RANK, _NUM_RANK = 0, 1, 2, 3


def _tokens(version: str) -> list[tuple[int, object]]:
    v = version.strip().lower()
    if v.startswith("v") and len(v) > 1 and v[1].isdigit():
        v = v[1:]
    v = v.replace("_", ".")
    out: list[tuple[int, object]] = []
    for tok in _TOKEN.findall(v):
        if tok.isdigit():
            out.append((_NUM_RANK, int(tok)))
        elif tok.startswith(_PRE):  # "alpha", "beta1", "rc2": a pre-release of what precedes them
            name = next(p for p in _PRE if tok.startswith(p))
            out.append((_PRE_RANK, _PRE.index(name)))
        else:
            out.append((_LETTER_RANK, tok))
    return out


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as version ``a`` is older than, the same as, or newer than ``b``."""
    ta, tb = _tokens(a), _tokens(b)
    for i in range(max(len(ta), len(tb))):
        x = ta[i] if i < len(ta) else (_END_RANK, 0)
        y = tb[i] if i < len(tb) else (_END_RANK, 0)
        if x == y:
            continue
        if x[0] != y[0]:
            return -1 if x[0] < y[0] else 1
        return -1 if x[1] < y[1] else 1  # type: ignore[operator]
    return 0


@total_ordering
class Version:
    """A version that sorts by :func:`compare`."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and compare(self.text, other.text) == 0

    def __lt__(self, other: Version) -> bool:
        return compare(self.text, other.text) < 0

    def __hash__(self) -> int:
        return hash(tuple(_tokens(self.text)))

    def __repr__(self) -> str:
        return f"Version({self.text!r})"


sort_key = cmp_to_key(compare)

_REVISION = re.compile(r"-(?:r[0-9]+|[0-9][0-9a-z.+~]*)$")
_EPOCH = re.compile(r"^[0-9]+:")


def upstream(version: str) -> str:
    """The upstream part of a packaged version: ``1:1.36.1-2+deb12u1`` -> ``1.36.1``, ``1.36.1-r2`` ->
    ``1.36.1``; distribution suffixes such as ``+deb12u1`` and ``~bpo`` are dropped too."""
    v = _EPOCH.sub("", version.strip())
    v = _REVISION.sub("", v)
    v = re.split(r"[+~]", v, maxsplit=1)[0]
    return v


def in_range(
    version: str,
    *,
    exact: str | None = None,
    start_incl: str | None = None,
    start_excl: str | None = None,
    end_incl: str | None = None,
    end_excl: str | None = None,
) -> bool:
    """Whether ``version`` is ``exact`` or inside the range (NVD cpeMatch semantics: no bound = open)."""
    if exact is not None:
        return compare(version, exact) == 0
    if start_incl is not None and compare(version, start_incl) < 0:
        return False
    if start_excl is not None and compare(version, start_excl) <= 0:
        return False
    if end_incl is not None and compare(version, end_incl) > 0:
        return False
    return end_excl is None or compare(version, end_excl) < 0


def branch(version: str, parts: int = 2) -> str:
    """The first ``parts`` numeric parts: ``2.6.31`` -> ``2.6``."""
    nums = re.findall(r"[0-9]+", version.replace("_", "."))
    return ".".join(nums[:parts])
