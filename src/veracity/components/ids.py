"""CPE 2.3 names and package URLs for components."""

from __future__ import annotations

import re

_CPE_SPECIAL = re.compile(r"([!\"#$%&'()+,/:;<=>@\[\]^`{|}~?*\\])")
_CPE_SPLIT = re.compile(r"(?<!\\):")


def cpe_escape(value: str) -> str:
    """A value for a CPE 2.3 formatted string: spaces become ``_``, special characters are quoted."""
    return _CPE_SPECIAL.sub(r"\\\1", value.strip().replace(" ", "_"))


def cpe(part: str, vendor: str, product: str, version: str | None) -> str:
    ver = cpe_escape(version) if version else "*"
    return f"cpe:2.3:{part}:{vendor}:{product}:{ver}:*:*:*:*:*:*:*"


def parse_cpe(name: str) -> dict[str, str] | None:
    """The fields of a CPE 2.3 formatted string (values still quoted), or None when it is not one."""
    parts = _CPE_SPLIT.split(name)
    if len(parts) != 13 or parts[0] != "cpe" or parts[1] != "2.3":
        return None
    keys = ("part", "vendor", "product", "version", "update", "edition", "language", "sw_edition",
            "target_sw", "target_hw", "other")
    return dict(zip(keys, parts[2:], strict=True))


def cpe_unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def purl(kind: str, name: str, version: str | None, namespace: str | None = None,
         qualifiers: dict[str, str] | None = None) -> str:
    from packageurl import PackageURL

    return PackageURL(
        type=kind, namespace=namespace, name=name, version=version or None, qualifiers=qualifiers or None
    ).to_string()
