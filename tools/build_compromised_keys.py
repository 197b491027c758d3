#!/usr/bin/env python3
"""Regenerate ``src/veracity/data/compromised_keys.json`` from the shared knowledge base.

Inputs (read-only, facts only; no code is copied):
- ``sources/ssh-badkeys/`` (rapid7/ssh-badkeys, MIT): the public halves of published static SSH keys and
  their metadata. Every fingerprint is recomputed here from the ``.pub`` blob and checked against
  ``index.json``.
- ``backdoor_catalogue.json``: entries with ``ssh-pubkey-fingerprint`` indicators give the catalogue id
  (``backdoor_id``) of a key; a catalogue key that ssh-badkeys lacks is kept with its fingerprint only.

Usage: ``python tools/build_compromised_keys.py [KNOWLEDGE_DIR] [OUTPUT]`` (defaults:
``/work/shared/knowledge`` and the package data file). The output is deterministic (sorted, no dates).
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_KNOWLEDGE = Path("/work/shared/knowledge")
DEFAULT_OUTPUT = ROOT / "src" / "veracity" / "data" / "compromised_keys.json"


# Private keys that crypto libraries publish as test vectors and compile into their binaries (benchmarks,
# power-on self-tests). They protect nothing, so a scan reports them at low severity as test keys instead of
# as a vendor's embedded key. Identified by the OpenSSH SHA-256 fingerprint of the public half (or the
# SPKI SHA-256 for curves SSH cannot express) and by the SHA-256 of the DER encoding (which also identifies
# keys that cannot be parsed, e.g. GOST). Computed by veracity's keys check from Debian 12 binaries:
# openssl 3.0.19-1~deb12u2 (/usr/bin/openssl: OpenSSL apps/testrsa.h, the `openssl speed` keys),
# libgnutls30 3.7.9-2+deb12u6 (lib/crypto-selftests-pk.c self-test keys), python3-cryptography 38.0.4
# (hazmat/backends/openssl/backend.py X25519 probe key).
TEST_VECTORS = (
    ("openssl-speed-rsa512", "OpenSSL apps/testrsa.h test512", "SHA256:x+U6OVBaIdlaFbUiWI90MjMHPIHdE7DMAt+tlFeZ/Fc",
     "DER-SHA256:171349923b709500bee59c838b58a8f8233feb55c62b6c660c31cf4ee284462f"),
    ("openssl-speed-rsa1024", "OpenSSL apps/testrsa.h test1024", "SHA256:Q0xDjNozUCpOWB7a1K+07d4jNvWDJmeEfRqPuSyXlYA",
     "DER-SHA256:d5ad6f88cf914734f625ce2fb886c81e249e11a598554089f8bb4299d7ed681f"),
    ("openssl-speed-rsa2048", "OpenSSL apps/testrsa.h test2048", "SHA256:AP4bkr/Qd3/2z22huCg9onxvnwKhFMVu06QfqBuXWxI",
     "DER-SHA256:c069f7ebcd214901cd196cdfd4f785ffe3d646506217f790aee51576eef363de"),
    ("openssl-speed-rsa3072", "OpenSSL apps/testrsa.h test3072", "SHA256:/WS7UDGwqcfezjmNb1mhsSRLbglH1/YvX1qWtimKFmI",
     "DER-SHA256:54da0df6070851127a23e00c2836e3dd2c6b3b78f650ce690442a0243fde31bd"),
    ("openssl-speed-rsa4096", "OpenSSL apps/testrsa.h test4096", "SHA256:K2tMiR0MsT7+2HwqVr9Ne9y3X6mwZ/XDXDAAgriM4hg",
     "DER-SHA256:bb6a6abd969e3ffb523c303fc951ee4ee56349d8f86f52d3386adae5cd4db004"),
    ("openssl-speed-rsa7680", "OpenSSL apps/testrsa.h test7680", "SHA256:G9n1dyGImyFoFIWYkfnfk2jFlcnHZlRfrXk3scPJV/E",
     "DER-SHA256:32620d7d2ae52c11db7cc95e333e585c2552abe20da6bd5169c010fedfa4c73e"),
    ("openssl-speed-rsa15360", "OpenSSL apps/testrsa.h test15360", "SHA256:1PQUJIouzC7Gnb+ilp2UBrN99VsfJrs8IK2MJTonMus",
     "DER-SHA256:25eec4ddd628fd5e72aa14ad2a894cb91272852bfcae48ac193656ba350f6e40"),
    ("gnutls-selftest-rsa2048", "GnuTLS self-test RSA key", "SHA256:EYb3seR7zeXfX5vRAHvcZ4f/25rWfBmDoC5t2UVlUYs",
     "DER-SHA256:2859ff03b44c8f0e4f96604b8cced325ef4d01ca935422b2041d88d8809f8fa1"),
    ("gnutls-selftest-dsa2048", "GnuTLS self-test DSA key", "SHA256:aTOClQtdjWd6ramaZSkxPI9c4L5sDR/3RimBlUMfraM",
     "DER-SHA256:09f1c1a4680df80b9e8e6e587d3a787de7402a919e366426ad807a1c0f8c98c1"),
    ("gnutls-selftest-secp256r1", "GnuTLS self-test ECDSA P-256 key", "SHA256:/s7hC1qbiBH8ldTc08GJSkZlmCiNIbFLFmlDUIrRkck",
     "DER-SHA256:458022ddcb5598b39253bc027eb02c4f3dba00e2bdbaef239a35bc91c9bd4f3a"),
    ("gnutls-selftest-secp384r1", "GnuTLS self-test ECDSA P-384 key", "SHA256:bYqGHysNs1SVlpFZg+znZbFYpocNY2A/7i2Y/5w+7VU",
     "DER-SHA256:995b8d5b08ac126a74f39d812fc8cce270d026093d810f366de923bb0fe47f60"),
    ("gnutls-selftest-secp224r1", "GnuTLS self-test ECDSA P-224 key",
     "SPKI-SHA256:965237ca6ba836733f2b6436d66516dc01ef2d58825d3b4aa6b9061a76c7a9ce",
     "DER-SHA256:09416ba3e0782523c56225fb168cd58cda7796e938db1b53f79b6abbaed2bbc7"),
    ("gnutls-selftest-secp192r1", "GnuTLS self-test ECDSA P-192 key",
     "SPKI-SHA256:c305f632b9f12913e548002d5e48435fccfb7a54f4e6f2255c055d9b99794b69",
     "DER-SHA256:7e38af7715bbb425a6aa8060b7c0af60aeb81d39975c55e83edcb9eae7a5e9f8"),
    ("gnutls-selftest-secp521r1", "GnuTLS self-test ECDSA P-521 key (short private value)", None,
     "DER-SHA256:60c323abe4854b03743005874156ef6e0343bc9c05c09a2a43335cdda19342b3"),
    ("gnutls-selftest-gost-2012-512", "GnuTLS self-test GOST R 34.10-2012 512-bit key", None,
     "DER-SHA256:87e288dc7dbc29a24241b596ec8c84f949d9f09f34fc0cf69242481fb2274770"),
    ("gnutls-selftest-gost-2012-256", "GnuTLS self-test GOST R 34.10-2012 256-bit key", None,
     "DER-SHA256:d245e52c341a76645e1b0e56c58dc964cd4f3ecaea64a9c6d6db9897d4948a8a"),
    ("gnutls-selftest-gost-2001", "GnuTLS self-test GOST R 34.10-2001 key", None,
     "DER-SHA256:0294b4406902e33bb02f89eaf4c691328790d7a9cd01b873d68edac994f310a1"),
    ("pyca-cryptography-x25519-probe", "pyca/cryptography X25519 support probe key",
     "SPKI-SHA256:5585f746eeaeedb1cb78098e70befeff994a5a0b8aea691c5e5117c8825a88e4",
     "DER-SHA256:1e19a1df56b42aa85c4c0f7c79f6e57d46df08b669e3dcc07985c836439a2175"),
)


def _blob_fingerprint(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _blob_md5(blob: bytes) -> str:
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return "MD5:" + ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _blob_type(blob: bytes) -> str:
    (n,) = struct.unpack(">I", blob[:4])
    return blob[4 : 4 + n].decode("ascii")


def build(knowledge: Path) -> dict:
    badkeys_dir = knowledge / "sources" / "ssh-badkeys"
    index = json.loads((badkeys_dir / "index.json").read_text())
    entries: dict[str, dict] = {}
    for key in index["keys"]:
        line = (badkeys_dir / key["pub_file"]).read_text().split()
        blob = base64.b64decode(line[1])
        fp = _blob_fingerprint(blob)
        if fp != key["fingerprint_sha256"] or _blob_type(blob) != line[0]:
            raise SystemExit(f"{key['pub_file']}: fingerprint {fp} does not match index.json")
        entries[fp] = {
            "fingerprint_sha256": fp,
            "fingerprint_md5": _blob_md5(blob),
            "name": key["name"],
            "kind": key["kind"],
            "key_type": key["key_type"],
            "bits": key["bits"],
            "user": key.get("user"),
            "port": key.get("port"),
            "cves": sorted(key.get("cves") or []),
            "urls": list(key.get("urls") or []),
            "backdoor_id": None,
            "sources": ["rapid7/ssh-badkeys " + key["pub_file"]],
        }
    catalogue = json.loads((knowledge / "backdoor_catalogue.json").read_text())
    for entry in catalogue:
        for ind in entry.get("indicators", []):
            if ind.get("type") != "ssh-pubkey-fingerprint" or not ind["value"].startswith("SHA256:"):
                continue
            value = ind["value"].split()
            fp = value[0]
            known = entries.get(fp)
            if known is None:
                algo, _, bits = (value[1].strip("()") if len(value) > 1 else "-").partition("-")
                known = entries[fp] = {
                    "fingerprint_sha256": fp,
                    "fingerprint_md5": next(
                        (i["value"] for i in entry["indicators"]
                         if i.get("type") == "ssh-pubkey-fingerprint" and i["value"].startswith("MD5:")),
                        None,
                    ),
                    "name": entry["id"],
                    "kind": "authorized",
                    "key_type": {"RSA": "ssh-rsa", "DSA": "ssh-dss"}.get(algo),
                    "bits": int(bits) if bits.isdigit() else None,
                    "user": next((i["value"] for i in entry["indicators"] if i.get("type") == "account"), None),
                    "port": None,
                    "cves": [],
                    "urls": [],
                    "backdoor_id": None,
                    "sources": [],
                }
            known["backdoor_id"] = entry["id"]
            if entry.get("cve") and entry["cve"].removeprefix("CVE-") not in {
                c.removeprefix("CVE-") for c in known["cves"]
            }:
                known["cves"] = sorted([*known["cves"], entry["cve"]])
            for url in entry.get("sources", []):
                if url not in known["urls"]:
                    known["urls"].append(url)
            known["sources"].append("backdoor_catalogue.json " + entry["id"])
    for e in entries.values():
        e["cves"] = sorted({c if c.startswith("CVE-") else f"CVE-{c}" for c in e["cves"]})
    return {
        "about": "Publicly known compromised SSH keys: their private halves are published, so any device "
        "that ships them can be impersonated (host keys) or logged into (authorized keys).",
        "generated_by": "tools/build_compromised_keys.py",
        "fingerprint": "OpenSSH SHA256 of the public key blob (base64, no padding)",
        "sources": {
            "ssh-badkeys": "rapid7/ssh-badkeys @ cd6f86489d8828513314c39894adf83f1ec4ec7e, MIT licence, "
            "Copyright (c) 2015 Rapid7 (public halves and metadata only)",
            "backdoor_catalogue": "veracity shared knowledge base, backdoor_catalogue.json "
            "(ssh-pubkey-fingerprint indicators)",
            "test_keys": "fingerprints of test-vector keys compiled into Debian 12 openssl 3.0.19, "
            "libgnutls30 3.7.9 and python3-cryptography 38.0.4 (see TEST_VECTORS in the build tool)",
        },
        "keys": sorted(entries.values(), key=lambda e: (e["kind"], e["name"])),
        "test_keys": [
            {"id": ident, "name": name, "ids": [i for i in (fp, digest) if i]}
            for ident, name, fp, digest in TEST_VECTORS
        ],
    }


def main(argv: list[str]) -> int:
    knowledge = Path(argv[1]) if len(argv) > 1 else DEFAULT_KNOWLEDGE
    output = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUTPUT
    data = build(knowledge)
    output.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"{output}: {len(data['keys'])} keys")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
