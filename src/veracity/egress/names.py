"""Host names: the Public Suffix List (the snapshot tldextract bundles, never fetched) and the tiers of top-level
domains that decide how much evidence a bare dotted word needs before it counts as a host name.

Programs are full of dotted words that end in a real top-level domain: ``libc.so`` (Somalia), ``rc.sh``
(St Helena), ``config.py`` (Paraguay), ``Makefile.in`` (India), ``self.id``, ``logging.info``, ``e.style``. So:

- a name inside a URL or an e-mail address needs only a public suffix;
- a bare name ending in a *strong* suffix (``com``, ``net``, ``org``, ``edu``, ``gov``, ``mil``, ``int``,
  ``info``, ``biz``, the country codes that are not also file extensions or code words, and every multi-label
  public suffix such as ``com.cn``) counts as a host name;
- a bare name ending in any other suffix (new generic words such as ``.name``, ``.style``, ``.app``, and the
  country codes listed in :data:`FILE_LIKE`) counts only with at least three labels (``iot.tuya.cloud``).
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache, lru_cache
from typing import Any

FILE_LIKE = frozenset({
    # country codes that are also file extensions, or tail words of code identifiers
    "so", "sh", "py", "pl", "pm", "md", "cc", "in", "am", "ac", "mk", "ps", "rs", "ml", "cx", "id", "ms", "js",
    "ts", "do", "is", "it", "to", "as", "at", "be", "me", "no", "my", "us", "la", "ly", "gg", "st", "sc", "ws",
    "im", "fm", "nu", "mo", "pw", "pr", "gl", "hr", "tk", "ph", "cv", "sd", "bi", "mp", "ma", "lb",
    "ls", "sv", "tm", "ad", "al", "ba", "ca", "ci", "cm", "er", "ga", "ge", "gp", "gs", "ht", "il", "lu", "mu",
    "ne", "nl", "pe", "pg", "pk", "re", "sa", "se", "sk", "sl", "sn", "sr", "sy", "td", "tt", "ug", "ve", "vc",
})
"""Two-letter country codes that collide with file extensions (``.so``, ``.sh``, ``.py``, ``.pl``, ``.md``,
``.in``, ``.ml``, ``.rs``, ``.ts``...), English words (``is``, ``it``, ``to``, ``at``, ``be``, ``me``, ``no``,
``do``, ``as``, ``my``, ``us``) or common identifier tails (``.id``, ``.ms``, ``.re``, ``.se``, ``.sa``). Names in
them need three labels when bare (``www.nic.in``)."""

GENERIC_STRONG = frozenset({"com", "net", "org", "edu", "gov", "mil", "int", "biz", "arpa"})

GENERIC_CCTLD = frozenset({
    # country codes marketed world-wide: the code says nothing about the operator's country
    "ac", "ad", "ag", "ai", "as", "bz", "cc", "cd", "co", "dj", "fm", "ga", "gg", "io", "la", "ly", "me", "ms",
    "nu", "sc", "sh", "so", "st", "tk", "to", "tv", "vc", "ws", "cx", "gs", "im", "ml", "cf", "gq", "ph",
})
"""ccTLDs used as generic names (Google's list of "generic ccTLDs" and the free-registration ones): no country
fallback is drawn from them."""

CCTLD_COUNTRY = {"uk": "GB", "gov": "US", "mil": "US", "edu": "US"}
"""ccTLDs whose ISO 3166-1 code differs, and the sponsored TLDs restricted to one country's institutions."""


PRIVATE_SECTION = "// ===BEGIN PRIVATE DOMAINS==="
"""Where the list's ICANN section ends (the line tldextract splits it at, too)."""


@cache
def _suffixes() -> frozenset[str]:
    """The ICANN section's suffixes, read from the snapshot tldextract bundles: the same list its extractor uses,
    without importing it (and the HTTP stack it brings) or building its tries, which only ``split`` needs. The
    scan asks for these before it unpacks (the endpoint patterns are made of them)."""
    text = _snapshot().partition(PRIVATE_SECTION)[0]
    out = set()
    for line in text.splitlines():
        rule = line.strip()
        if rule and not rule.startswith("//"):
            out.add(rule.split()[0].lower())
    return frozenset(out)


def _snapshot() -> str:
    from importlib.util import find_spec

    spec = find_spec("tldextract")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("tldextract is not installed")
    with open(f"{next(iter(spec.submodule_search_locations))}/.tld_set_snapshot", encoding="utf-8") as f:
        return f.read()


@cache
def tlds() -> frozenset[str]:
    """Every top-level label of the Public Suffix List (ICANN section)."""
    return frozenset(s.rsplit(".", 1)[-1] for s in _suffixes() if "*" not in s and "!" not in s)


@cache
def strong_tlds() -> frozenset[str]:
    """TLDs whose bare two-label names are taken as host names."""
    out = set(GENERIC_STRONG)
    out.update(t for t in tlds() if len(t) == 2 and t.isascii() and t not in FILE_LIKE)
    return frozenset(out)


@cache
def _trie() -> dict[str, Any]:
    """The suffixes' labels, last label first: ``{label: (is a suffix, {next label: ...})}``."""
    root: dict[str, Any] = {}
    for suffix in _suffixes():
        node = root
        labels = suffix.split(".")
        for n, label in enumerate(reversed(labels)):
            end, children = node.get(label, (False, {}))
            node[label] = (end or n == len(labels) - 1, children)
            node = children
    return root


def _suffix_index(labels: list[str]) -> int | None:
    """Where the public suffix of ``labels`` starts (the longest rule wins, ``*.ck`` and ``!www.ck`` as the list
    says), or None."""
    node = _trie()
    start = at = len(labels)
    for label in reversed(labels):
        key = _match_form(label)
        hit = node.get(key)
        if hit is not None:
            at -= 1
            end, node = hit
            if end:
                start = at
            continue
        if "*" in node:  # a wildcard rule: one more label belongs to the suffix, unless an exception names it
            return at if "!" + key in node else at - 1
        break
    return None if start == len(labels) else start


def _match_form(label: str) -> str:
    """A label as the list spells it: lower case, an IDNA A-label decoded."""
    lowered = label.lower()
    if lowered.startswith("xn--"):
        import idna

        try:
            return idna.decode(lowered)
        except (UnicodeError, IndexError):
            pass
    return lowered


_IPV4 = re.compile(r"(?:(?:[0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\.){3}"
                   r"(?:[0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])", re.ASCII)
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


@lru_cache(maxsize=65536)
def split(host: str) -> tuple[str, str, str]:
    """(subdomain, registrable label, public suffix) of ``host``; suffix "" when it has none. The ICANN section
    only (a name under ``blogspot.com`` is registered under ``com``), with tldextract's answers: a test compares
    them over every rule of the list. Done here, its tries and the HTTP stack it imports cost each process of a
    scan a fifth of a second."""
    host = _host(host).translate(_DOTS)
    if len(host) >= 4 and host[0] == "[" and host[-1] == "]" and _is_ipv6(host[1:-1]):
        return "", host, ""
    labels = host.split(".")
    start = _suffix_index(labels)
    if start is None:
        if len(labels) == 4 and host[:1].isdecimal() and _IPV4.fullmatch(host):
            return "", host, ""
        return ".".join(labels[:-1]), labels[-1], ""
    return (".".join(labels[: start - 1]) if start >= 2 else "", labels[start - 1] if start > 0 else "",
            ".".join(labels[start:]))


def _host(text: str) -> str:
    """The host of a host name or URL-like string: scheme, user, port, path and the root label's dot dropped."""
    at = text.find("//")
    if at == 0:
        text = text[2:]
    elif at >= 2 and text[at - 1] == ":" and not set(text[: at - 1]) - _SCHEME_CHARS:
        text = text[at + 2:]
    authority = text.partition("/")[0].partition("?")[0].partition("#")[0].rpartition("@")[2]
    if authority[:1] == "[":
        inside, bracket, _ = authority.partition("]")
        if bracket:
            return inside + "]"
    return authority.partition(":")[0].strip().rstrip(".\u3002\uff0e\uff61")


_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def registrable(host: str) -> str | None:
    """The registrable domain (``tp-link.com.cn`` for ``www.tp-link.com.cn``), or None without a public suffix."""
    _, domain, suffix = split(host)
    if not suffix or not domain:
        return None
    return f"{domain}.{suffix}"


def public_suffix(host: str) -> str:
    return split(host)[2]


def cctld_country(host: str) -> str | None:
    """The country of a host's ccTLD, unless the code is used generically (``.io``, ``.tv``, ``.co``...)."""
    tld = host.rsplit(".", 1)[-1].lower()
    if tld in CCTLD_COUNTRY:
        return CCTLD_COUNTRY[tld]
    if len(tld) != 2 or not tld.isalpha() or tld in GENERIC_CCTLD or tld == "eu":
        return None
    if tld not in tlds():
        return None
    return CCTLD_COUNTRY.get(tld, tld.upper())


def is_strong(host: str) -> bool:
    """True when a bare ``host`` ends in a suffix strong enough for two labels to count."""
    suffix = public_suffix(host)
    if not suffix:
        return False
    if "." in suffix:  # com.cn, co.uk, gov.in: a multi-label public suffix is deliberate
        return True
    return suffix in strong_tlds()
