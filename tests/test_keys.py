"""The keys check: private keys in every encoding, authorized keys, publicly known compromised keys.

Keys are generated in the test with ``cryptography`` (nothing secret is committed); the two published
login keys quoted below are the public halves from rapid7/ssh-badkeys (MIT)."""

from __future__ import annotations

import base64
import shutil
import struct
from pathlib import Path

import pytest
from conftest import corpus, findings
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import veracity.checks.registry
from veracity.checks import keys as keys_mod
from veracity.checks.keys import KeysCheck, ssh_fingerprint
from veracity.patterns import PatternSet
from veracity.testing.memfs import inventory_from

PATTERNS = PatternSet(KeysCheck.PATTERNS)

F5_PUB = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAIEAvIhC5skTzxyHif/7iy3yhxuK6/OB13hjPqrskogkYFrcW8OK4VJT+5+Fx7wd4sQCnVn8rNqa"
    "hw/x6sfcOMDI/Xvn4yKU4t8TnYf2MpUVr4ndz39L5Ds1n7Si1m2suUNxWbKv58I8+NMhlt2ITraSuTU0NGymWOc8+LNi+MHXdLk= SCCP Superuser"
)
VAGRANT_PUB = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEA6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr+kz4TjGYe7gHzIw+niNltGEFHzD8+v1I2YJ6oX"
    "evct1YeS0o9HZyN1Q9qgCgzUFtdOKLv6IedplqoPkcmF0aYet2PkEDo3MlTBckFXPITAMzF8dJSIFo9D8HfdOV0IAdx4O7PtixWKn5y2hMNG0zQ"
    "PyUecp4pzC6kivAIhyfHilFR61RGL+GPXQ2MWZWFYbAGjyiYJnAmCP3NOTd0jMZEnDkbUvxhMmBYSdETk1rRgm+R4LOzFUGaHqHDLKLX+FIPKcF96"
    "hrucXzcWyLbIbEgE98OHlnVYCzRdK8jlqm8tehUc9c9WhQ== vagrant insecure public key"
)


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


@pytest.fixture(scope="module")
def ed_key():
    return ed25519.Ed25519PrivateKey.generate()


def _pem(key, fmt=serialization.PrivateFormat.TraditionalOpenSSL, password: bytes | None = None) -> bytes:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc)


def _der(key, fmt=serialization.PrivateFormat.PKCS8) -> bytes:
    return key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())


def _openssh(key, comment: bytes = b"") -> bytes:
    # cryptography writes no comment; the check reads one when present, tested through the public blob
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                             serialization.NoEncryption())


def _openssh_encrypted(key) -> bytes:
    """An encrypted openssh-key-v1 container (the private section is random bytes: only the header and the
    clear public key are read by the check; cryptography would need bcrypt to write a real one)."""
    pub = base64.b64decode(_pub_line(key).split()[1])
    body = (b"openssh-key-v1\x00" + _s(b"aes256-ctr") + _s(b"bcrypt") + _s(_s(b"\x01" * 16) + struct.pack(">I", 16))
            + struct.pack(">I", 1) + _s(pub) + _s(bytes(range(160))))
    b64 = base64.b64encode(body).decode()
    lines = "\n".join(b64[i:i + 70] for i in range(0, len(b64), 70))
    return f"-----BEGIN OPENSSH PRIVATE KEY-----\n{lines}\n-----END OPENSSH PRIVATE KEY-----\n".encode()


def _pub_line(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def _fp(key) -> str:
    return ssh_fingerprint(base64.b64decode(_pub_line(key).split()[1]))


def _s(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def _mp(v: int) -> bytes:
    return _s(v.to_bytes(v.bit_length() // 8 + 1, "big"))


def _dropbear_rsa(key) -> bytes:
    n = key.private_numbers()
    pub = n.public_numbers
    return _s(b"ssh-rsa") + _mp(pub.e) + _mp(pub.n) + _mp(n.d) + _mp(n.p) + _mp(n.q)


def _run(files: dict, tmp_path, **kw) -> list:
    inv = inventory_from(files, tmp_path, patterns=PATTERNS, **kw)
    return list(KeysCheck().run(inv, {}))


def _by(found, rule=None):
    return sorted((f.rule, f.path) for f in found if rule is None or f.rule == rule)


# -- private keys -------------------------------------------------------------------------------------------


def test_pem_tls_server_key(tmp_path, rsa_key):
    pem = _pem(rsa_key)
    found = _run({"/etc/ssl/private/server.key": pem}, tmp_path)
    assert _by(found) == [("VER-KEY-002", "/etc/ssl/private/server.key")]
    f = found[0]
    assert f.severity == "high" and f.category == "key.private"
    assert "PEM PKCS#1 RSA 1024-bit" in f.evidence and _fp(rsa_key) in f.evidence
    body = pem.decode().splitlines()[1]
    assert body not in f.evidence and "MII" not in f.evidence  # never the key itself


def test_combined_cert_and_key_is_a_tls_key(tmp_path, rsa_key):
    cert_like = b"-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"
    found = _run({"/etc/uhttpd.pem": cert_like + _pem(rsa_key, serialization.PrivateFormat.PKCS8)}, tmp_path)
    assert _by(found) == [("VER-KEY-002", "/etc/uhttpd.pem")]
    assert "PEM PKCS#8 RSA 1024-bit" in found[0].evidence and "with its certificate" in found[0].evidence


def test_openssh_host_key(tmp_path, ed_key):
    found = _run({"/etc/ssh/ssh_host_ed25519_key": _openssh(ed_key)}, tmp_path)
    assert _by(found) == [("VER-KEY-001", "/etc/ssh/ssh_host_ed25519_key")]
    assert "OpenSSH Ed25519 256-bit" in found[0].evidence and _fp(ed_key) in found[0].evidence


def test_encrypted_keys_are_medium(tmp_path, rsa_key, ed_key):
    files = {
        "/root/client.pem": _pem(rsa_key, serialization.PrivateFormat.PKCS8, b"pw"),
        "/root/legacy.pem": _pem(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL, b"pw"),
        "/root/.ssh/id_ed25519": _openssh_encrypted(ed_key),
    }
    found = _run(files, tmp_path)
    assert _by(found) == [("VER-KEY-004", "/root/.ssh/id_ed25519"), ("VER-KEY-004", "/root/client.pem"),
                          ("VER-KEY-004", "/root/legacy.pem")]
    assert {f.severity for f in found} == {"medium"}
    assert all(f.title.startswith("Encrypted ") and "encrypted" in f.evidence for f in found)
    # OpenSSH keeps the public half in clear: the fingerprint is known even though the key is encrypted
    ossh = next(f for f in found if f.path == "/root/.ssh/id_ed25519")
    assert _fp(ed_key) in ossh.evidence


def test_dropbear_host_key(tmp_path, rsa_key, ed_key):
    seed = ed_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    pub = ed_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    files = {
        "/etc/dropbear/dropbear_rsa_host_key": _dropbear_rsa(rsa_key),
        "/etc/dropbear/dropbear_ed25519_host_key": _s(b"ssh-ed25519") + _s(seed + pub),
    }
    found = _run(files, tmp_path)
    assert _by(found) == [("VER-KEY-001", "/etc/dropbear/dropbear_ed25519_host_key"),
                          ("VER-KEY-001", "/etc/dropbear/dropbear_rsa_host_key")]
    ev = {f.path: f.evidence for f in found}
    assert "dropbear RSA 1024-bit" in ev["/etc/dropbear/dropbear_rsa_host_key"]
    assert _fp(rsa_key) in ev["/etc/dropbear/dropbear_rsa_host_key"]
    assert _fp(ed_key) in ev["/etc/dropbear/dropbear_ed25519_host_key"]


def test_dropbear_public_blob_only_is_not_a_private_key(tmp_path, rsa_key):
    pub = rsa_key.public_key().public_numbers()
    found = _run({"/etc/dropbear/blob": _s(b"ssh-rsa") + _mp(pub.e) + _mp(pub.n)}, tmp_path)
    assert found == []


def test_pem_and_der_embedded_in_programs(tmp_path, rsa_key):
    ec_key = ec.generate_private_key(ec.SECP256R1())
    elf = b"\x7fELF\x01\x02\x01" + b"\x00" * 400 + b"key\x00" + _pem(rsa_key) + b"\x00more strings\x00"
    blob = b"\xff" * 1000 + _der(ec_key) + b"\x00" * 100
    files = {"/usr/sbin/cloudd": elf, "/lib/firmware/boot.bin": blob}
    found = _run(files, tmp_path)
    assert _by(found) == [("VER-KEY-003", "/lib/firmware/boot.bin"), ("VER-KEY-003", "/usr/sbin/cloudd")]
    ev = {f.path: f for f in found}
    assert "PEM PKCS#1 RSA 1024-bit" in ev["/usr/sbin/cloudd"].evidence
    assert "DER ECDSA secp256r1 256-bit" in ev["/lib/firmware/boot.bin"].evidence
    assert ev["/lib/firmware/boot.bin"].offset == 1000


def test_der_key_files(tmp_path, rsa_key):
    files = {
        "/etc/keys/device.der": _der(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL),
        "/etc/keys/other.p8": _der(ec.generate_private_key(ec.SECP384R1())),
    }
    found = _run(files, tmp_path)
    assert _by(found) == [("VER-KEY-004", "/etc/keys/device.der"), ("VER-KEY-004", "/etc/keys/other.p8")]
    ev = {f.path: f.evidence for f in found}
    assert "DER RSA 1024-bit" in ev["/etc/keys/device.der"] and _fp(rsa_key) in ev["/etc/keys/device.der"]
    assert "DER ECDSA secp384r1 384-bit" in ev["/etc/keys/other.p8"]


def test_putty_key(tmp_path, ed_key):
    blob = base64.b64decode(_pub_line(ed_key).split()[1])
    ppk = (
        "PuTTY-User-Key-File-2: ssh-ed25519\nEncryption: none\nComment: support@vendor\nPublic-Lines: 2\n"
        + base64.b64encode(blob).decode()[:64] + "\n" + base64.b64encode(blob).decode()[64:] + "\n"
        + "Private-Lines: 1\nAAAAIBxcJQ==\nPrivate-MAC: 00ff\n"
    )
    found = _run({"/usr/share/vendor/support.ppk": ppk}, tmp_path)
    assert _by(found) == [("VER-KEY-004", "/usr/share/vendor/support.ppk")]
    assert "PuTTY v2 Ed25519 256-bit" in found[0].evidence and "support@vendor" in found[0].evidence
    assert _fp(ed_key) in found[0].evidence


def test_key_pasted_in_source_code(tmp_path, rsa_key):
    lines = _pem(rsa_key).decode().strip().splitlines()
    js = "const KEY = '" + "\\n".join(lines) + "\\n';\nmodule.exports = KEY;\n"
    py = 'KEY = (\n' + "".join(f'    "{line}\\n"\n' for line in lines) + ')\n'
    found = _run({"/www/js/sign.js": js, "/usr/lib/app/sign.py": py}, tmp_path)
    assert _by(found) == [("VER-KEY-002", "/www/js/sign.js"), ("VER-KEY-004", "/usr/lib/app/sign.py")]
    assert all(_fp(rsa_key) in f.evidence for f in found)


def test_library_test_keys_are_low(tmp_path, rsa_key):
    files = {
        "/usr/lib/python3/site-packages/paramiko/tests/_support/rsa.key": _pem(rsa_key),
        "/usr/share/doc/libfoo/examples/server.pem": _pem(rsa_key),
    }
    found = _run(files, tmp_path)
    assert _by(found) == [("VER-KEY-005", p) for p in sorted(files)]
    assert {f.severity for f in found} == {"low"}


def test_keys_unpacked_from_tests_or_docs_are_low(tmp_path, rsa_key):
    """A file unpacked from a test archive is a test file, wherever the archive puts it."""
    nested = ("fw.img", "squashfs@0x0", "/usr/share/doc/libfoo/examples.tar.gz", "tar.gz@0x0")
    found = _run({"/server.pem": _pem(rsa_key)}, tmp_path, container=nested)
    assert _by(found) == [("VER-KEY-005", "/server.pem")] and found[0].severity == "low"
    product = ("fw.img", "squashfs@0x0", "/etc/ssl/bundle.tar.gz", "tar.gz@0x0")
    found = _run({"/server.pem": _pem(rsa_key)}, tmp_path, container=product)
    assert [f.rule for f in found] != ["VER-KEY-005"] and all(f.severity != "low" for f in found)


def test_known_test_vectors_are_low(tmp_path, monkeypatch, rsa_key):
    keys_mod.test_vectors.cache_clear()
    monkeypatch.setattr(keys_mod, "test_vectors", lambda: {_fp(rsa_key): {"name": "SomeLib self-test key"}})
    elf = b"\x7fELF\x01\x02\x01" + b"\x00" * 200 + _der(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL)
    found = _run({"/usr/lib/libsomecrypto.so.1": elf}, tmp_path)
    assert _by(found) == [("VER-KEY-005", "/usr/lib/libsomecrypto.so.1")]
    assert found[0].severity == "low" and "SomeLib self-test key" in found[0].evidence


def test_shipped_test_vector_data():
    vectors = keys_mod.test_vectors()
    assert vectors["SHA256:x+U6OVBaIdlaFbUiWI90MjMHPIHdE7DMAt+tlFeZ/Fc"]["id"] == "openssl-speed-rsa512"
    assert any(v["id"].startswith("gnutls-selftest") for v in vectors.values())


def test_templates_markers_and_certificates_stay_quiet(tmp_path, rsa_key):
    template = (
        "var keystart = '-----BEGIN RSA PRIVATE KEY-----';\nvar keyinsert = '\\n<insert private key here>\\n';\n"
        "var keyend = '-----END RSA PRIVATE KEY-----';\n"
    )
    markers = b"\x7fELF\x01\x02\x01" + b"\x00" * 64 + b"-----BEGIN RSA PRIVATE KEY-----\x00\x00-----END RSA PRIVATE KEY-----\x00"
    doc = "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n"
    cert = (
        "-----BEGIN CERTIFICATE-----\n" + base64.b64encode(b"x" * 300).decode() + "\n-----END CERTIFICATE-----\n"
    )
    files = {
        "/webs/certimport.html": template,
        "/lib/libbcmssl.so": markers,
        "/etc/ssl/README": doc,
        "/etc/ssl/certs/ca-certificates.crt": cert * 3,
        "/etc/ssh/ssh_host_rsa_key.pub": _pub_line(rsa_key) + " root@build\n",
    }
    assert _run(files, tmp_path) == []


def test_unparseable_key_block(tmp_path):
    garbage = base64.b64encode(bytes(range(256)) * 2).decode()
    pem = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(garbage[i:i + 64] for i in range(0, len(garbage), 64))
    found = _run({"/etc/key.pem": pem + "\n-----END RSA PRIVATE KEY-----\n"}, tmp_path)
    assert _by(found) == [("VER-KEY-004", "/etc/key.pem"), ("VER-KEY-008", "/etc/key.pem")]
    assert "not parsed" in next(f for f in found if f.rule == "VER-KEY-004").evidence


# -- authorized keys and known compromised keys ---------------------------------------------------------------


def test_authorized_keys_files(tmp_path, rsa_key, ed_key):
    files = {
        "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nsupport:x:500:500::/home/support:/bin/sh\n",
        "/root/.ssh/authorized_keys": f"# vendor access\n\n{_pub_line(rsa_key)} builder@vendor\n",
        "/etc/dropbear/authorized_keys": f'command="/bin/diag",no-pty {_pub_line(ed_key)}\n',
        "/home/support/.ssh/authorized_keys2": _pub_line(ed_key) + "\n",
    }
    found = _run(files, tmp_path)
    assert _by(found) == [
        ("VER-KEY-007", "/etc/dropbear/authorized_keys"),
        ("VER-KEY-007", "/home/support/.ssh/authorized_keys2"),
        ("VER-KEY-007", "/root/.ssh/authorized_keys"),
    ]
    ev = {f.path: f for f in found}
    root = ev["/root/.ssh/authorized_keys"]
    assert root.category == "credential.authorized-key" and root.severity == "high" and root.line == 3
    assert "RSA 1024-bit" in root.evidence and _fp(rsa_key) in root.evidence
    assert "builder@vendor" in root.evidence and "root (home /root)" in root.evidence
    assert "root" in ev["/etc/dropbear/authorized_keys"].evidence
    assert "command=" in ev["/etc/dropbear/authorized_keys"].evidence
    assert "support (home /home/support)" in ev["/home/support/.ssh/authorized_keys2"].evidence


def test_empty_or_comment_only_authorized_keys_stay_quiet(tmp_path):
    found = _run({"/root/.ssh/authorized_keys": "# put your keys here\n\n", "/etc/dropbear/authorized_keys": ""},
                 tmp_path)
    assert found == []


def test_malformed_authorized_keys_line(tmp_path):
    found = _run({"/root/.ssh/authorized_keys": "ssh-rsa AAAAB3NzaC1yc2E\nnot a key at all\n"}, tmp_path)
    assert _by(found) == [("VER-KEY-008", "/root/.ssh/authorized_keys")] * 2
    assert sorted(f.line for f in found) == [1, 2]


def test_known_compromised_authorized_keys(tmp_path):
    files = {"/root/.ssh/authorized_keys": F5_PUB + "\n" + VAGRANT_PUB + "\n"}
    found = _run(files, tmp_path)
    assert _by(found) == [("VER-KEY-006", "/root/.ssh/authorized_keys")] * 2 + \
        [("VER-KEY-007", "/root/.ssh/authorized_keys")] * 2
    known = {f.line: f for f in found if f.rule == "VER-KEY-006"}
    assert known[1].severity == "critical" and known[1].category == "key.known-compromised"
    assert known[1].backdoor_id == "f5-bigip-static-ssh-key-2012"
    assert "CVE-2012-1493" in known[1].evidence and "SHA256:9prMbqhS4QteoFQ1ZRJDqSBLWoHXPyKB0iWR05Ghro4" in known[1].evidence
    assert known[2].backdoor_id is None and "vagrant-default" in known[2].evidence
    assert "log in" in known[2].title


def test_known_compromised_private_host_key(tmp_path, monkeypatch, rsa_key):
    keys_mod.compromised.cache_clear()
    record = {"fingerprint_sha256": _fp(rsa_key), "name": "Acme_x1_rsa", "kind": "host", "key_type": "ssh-rsa",
              "bits": 1024, "cves": [], "urls": ["https://example.org/advisory"], "backdoor_id": None}
    monkeypatch.setattr(keys_mod, "compromised", lambda: {_fp(rsa_key): record})
    found = _run({"/etc/rsa_host_key": _dropbear_rsa(rsa_key)}, tmp_path)
    assert _by(found) == [("VER-KEY-001", "/etc/rsa_host_key"), ("VER-KEY-006", "/etc/rsa_host_key")]
    known = next(f for f in found if f.rule == "VER-KEY-006")
    assert "impersonate" in known.title and "Acme_x1_rsa" in known.evidence


def test_key_installed_by_a_script_or_program(tmp_path, rsa_key):
    script = f'#!/bin/sh\nmkdir -p /root/.ssh\necho "{_pub_line(rsa_key)} support@vendor" >> /root/.ssh/authorized_keys\n'
    elf = (b"\x7fELF\x01\x02\x01" + b"\x00" * 64 + b"/root/.ssh/authorized_keys\x00" + F5_PUB.encode() + b"\x00")
    found = _run({"/etc/init.d/S99support": script, "/usr/bin/provision": elf}, tmp_path)
    assert _by(found) == [("VER-KEY-006", "/usr/bin/provision"), ("VER-KEY-007", "/etc/init.d/S99support"),
                          ("VER-KEY-007", "/usr/bin/provision")]
    script_f = next(f for f in found if f.path == "/etc/init.d/S99support")
    assert "support@vendor" in script_f.evidence and "written to authorized_keys" in script_f.evidence
    assert next(f for f in found if f.rule == "VER-KEY-006").backdoor_id == "f5-bigip-static-ssh-key-2012"


def test_documentation_quoting_keys_stays_quiet(tmp_path, rsa_key):
    readme = f"Put your key in ~/.ssh/authorized_keys, e.g.\n{_pub_line(rsa_key)} someone@hostname\n"
    found = _run({"/usr/share/doc/dropbear/README": readme, "/etc/motd": readme}, tmp_path)
    assert found == []


def test_every_rule_is_exercised():
    ids = {r.id for r in KeysCheck.RULES}
    assert ids == {f"VER-KEY-00{i}" for i in range(1, 9)}
    assert all(r.references or r.category == "analysis.incomplete" for r in KeysCheck.RULES)


def test_not_applicable_without_files(tmp_path):
    from veracity.checks.base import NotApplicable

    inv = inventory_from({}, tmp_path, patterns=PATTERNS)
    with pytest.raises(NotApplicable):
        list(KeysCheck().run(inv, {}))


def test_compromised_key_data_is_consistent():
    data = keys_mod.compromised()
    assert len(data) >= 61
    assert data["SHA256:F9KYIspH9Bhy0ohvvWPEgP5HeCUIeZZ5pA+8Xu2Eky8"]["name"] == "Alice_1121_rsa"
    with_catalogue = {k["backdoor_id"] for k in data.values() if k["backdoor_id"]}
    assert "eaton-power-xpert-key-2018" in with_catalogue and "f5-bigip-static-ssh-key-2012" in with_catalogue


# -- real samples -------------------------------------------------------------------------------------------


@pytest.fixture
def only_keys(monkeypatch):
    monkeypatch.setattr(veracity.checks.registry, "CHECKS", (KeysCheck(),))


def _keys_findings(report):
    return sorted((f["rule"], f["path"]) for f in report["findings"] if f["rule"].startswith("VER-KEY-"))


@pytest.mark.corpus
def test_broadcom_ships_a_publicly_known_host_key(run_scan, only_keys):
    report = run_scan(corpus("firmware/broadcom-bcm63xx-squashfs-v2.bin"))
    assert _keys_findings(report) == [("VER-KEY-001", "/etc/rsa_host_key"), ("VER-KEY-006", "/etc/rsa_host_key")]
    known = findings(report, "VER-KEY-006")[0]
    assert known["severity"] == "critical"
    assert "Alice_1121_rsa" in known["evidence"] and "SHA256:F9KYIspH9Bhy0ohvvWPEgP5HeCUIeZZ5pA+8Xu2Eky8" in known["evidence"]
    host = findings(report, "VER-KEY-001")[0]
    assert "dropbear RSA 1040-bit" in host["evidence"]
    # /webs/certimport.html (a PEM template) and /lib/libbcmssl.so (bare PEM markers) stay quiet


@pytest.mark.corpus
def test_alcatel_overlay_holds_a_dropbear_host_key(run_scan, only_keys):
    report = run_scan(corpus("firmware/alcatel-g010s-a-mtd4.jffs2"))
    assert _keys_findings(report) == [
        ("VER-KEY-001", "/etc/dropbear/dropbear_dss_host_key"),
        ("VER-KEY-001", "/etc/dropbear/dropbear_rsa_host_key"),
    ]
    dss, rsa = findings(report, "VER-KEY-001")
    assert "dropbear DSA 1024-bit" in dss["evidence"]
    assert "SHA256:NYdw/wjozQeme8ejUXJR3WW3bWdpRIuuQ1heQd1BEPA" in dss["evidence"]
    assert "dropbear RSA 1040-bit" in rsa["evidence"]
    assert "SHA256:o7KQ9fa6jjnLvRv3O2Tp/rCzFKycMUsoEpwnnQYJMeU" in rsa["evidence"]


@pytest.mark.corpus
def test_tplink_has_no_key_material(run_scan, only_keys):
    report = run_scan(corpus("firmware/tplink-mr3020v1-3.17.2.bin"))
    assert _keys_findings(report) == []


@pytest.mark.corpus
@pytest.mark.parametrize("package", [
    "pypi/requests-2.32.3.tar.gz", "pypi/six-1.16.0.tar.gz", "pypi/paramiko-3.4.0.tar.gz",
    "pypi/certifi-2026.10.19.post1-py3-none-any.whl", "pypi/urllib3-2.8.0-py3-none-any.whl",
    "npm/lodash-4.17.21.tgz", "npm/left-pad-1.3.0.tgz", "npm/axios-1.7.7.tgz",
])
def test_benign_packages_stay_below_medium(run_scan, only_keys, package):
    report = run_scan(corpus("packages/benign/" + package))
    loud = [(f["rule"], f["path"], f["severity"]) for f in report["findings"]
            if f["rule"].startswith("VER-KEY-") and f["severity"] not in ("low", "info")]
    assert loud == []
    if package.startswith("pypi/paramiko"):
        rules = {f["rule"] for f in report["findings"] if f["rule"].startswith("VER-KEY-")}
        assert rules == {"VER-KEY-005"}  # its test and demo keys, every one parsed


def test_clean_system_files_stay_quiet(run_scan, only_keys, tmp_path):
    root = tmp_path / "clean"
    picks = ["/etc/ssl/certs/ca-certificates.crt", "/usr/bin/openssl", "/usr/bin/ssh-keygen", "/usr/bin/ssh",
             "/usr/bin/curl", "/usr/share/doc/openssh-client/copyright", "/usr/share/doc/openssl/copyright",
             "/etc/ssh/ssh_config"]
    copied = 0
    for p in picks:
        if Path(p).is_file():
            dest = root / p.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest)
            copied += 1
    if not copied:
        pytest.skip("no system files to copy")
    report = run_scan(root)
    loud = [(f["rule"], f["path"]) for f in report["findings"]
            if f["rule"].startswith("VER-KEY-") and f["severity"] not in ("low", "info")]
    assert loud == []
