"""Host names: the Public Suffix List (tldextract's bundled snapshot, never fetched) and the tiers of top-level
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

from functools import cache, lru_cache

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


@cache
def _extractor():
    import tldextract

    # no URL: the bundled snapshot only, nothing fetched; no cache dir: nothing written
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


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


@lru_cache(maxsize=65536)
def split(host: str) -> tuple[str, str, str]:
    """(subdomain, registrable label, public suffix) of ``host``; suffix "" when it has none."""
    r = _extractor()(host, include_psl_private_domains=False)
    return r.subdomain, r.domain, r.suffix


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
