"""Signed evidence: keygen, attest, verify (signature, image digest, report digest, rescan) and tampering."""

from __future__ import annotations

import argparse
import base64
import io
import json
import stat
import tarfile
from pathlib import Path

import pytest

from veracity import attest, triage
from veracity import report as report_mod
from veracity.attest import AttestError, VerificationError
from veracity.scan import scan
from veracity.standards import conformance

PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACDhn5mJ5Y8cSAFTTm7Iqg0Y1U4xq8bXx2lPp2VZf5T8zQAAAJgkK6/3JCuv\n"
    "9wAAAAtzc2gtZWQyNTUxOQAAACDhn5mJ5Y8cSAFTTm7Iqg0Y1U4xq8bXx2lPp2VZf5T8zQ\n"
    "AAAEA3fW3v3dS1hX8gYQq3XlqJqfV0n6pQ0sWq6bSx1l7d0+GfmYnljxxIAVNObsiqDRjV\n"
    "TjGrxtfHaU+nZVl/lPzNAAAAEXRlc3RAdmVyYWNpdHkudGVzdAECAwQ=\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def _tar(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return path


def _scan(image: Path, tmp: Path) -> dict:
    report = scan(image, workdir=tmp / "work", cache_path=tmp / "cache.sqlite")
    report["conformance"] = conformance(report["findings"], report["checks"], ())
    return report


@pytest.fixture(scope="module")
def evidence(tmp_path_factory):
    """An image, its report (written to disk) and a key pair."""
    d = tmp_path_factory.mktemp("attest")
    image = _tar(d / "fw.tar.gz", {
        "etc/ssh/ssh_host_ed25519_key": PEM,
        "etc/app.conf": 'admin_password = "Sup3rS3cretValue!"\n',
        "etc/hosts": "127.0.0.1 localhost\n",
    })
    report = _scan(image, d)
    assert report_mod.validate(report) == []
    assert report["findings"], "the sample image must have findings"
    report_path = d / "report.json"
    report_path.write_text(report_mod.dumps(report))
    priv, pub = attest.keygen(d / "signer")
    return {"dir": d, "image": image, "report": report, "report_path": report_path, "priv": priv, "pub": pub}


def test_keygen_writes_a_private_key_only_the_owner_reads(tmp_path, monkeypatch):
    monkeypatch.delenv(attest.PASSWORD_ENV, raising=False)
    priv, pub = attest.keygen(tmp_path / "k")
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert priv.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert pub.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert attest.key_id(attest.load_private_key(priv).public_key()) == attest.key_id(attest.load_public_key(pub))
    with pytest.raises(AttestError, match="exists; not overwriting"):
        attest.keygen(tmp_path / "k")
    attest.keygen(tmp_path / "k", force=True)

    monkeypatch.setenv(attest.PASSWORD_ENV, "correct horse")
    epriv, _ = attest.keygen(tmp_path / "enc")
    assert "ENCRYPTED" in epriv.read_text()
    attest.load_private_key(epriv)
    monkeypatch.delenv(attest.PASSWORD_ENV)
    with pytest.raises(AttestError, match="encrypted"):
        attest.load_private_key(epriv)
    with pytest.raises(AttestError, match="not a usable PEM private key"):
        attest.load_private_key(pub)


def test_statement_and_envelope_shape(evidence):
    env = attest.attest(evidence["report_path"], evidence["priv"])
    assert env["payloadType"] == "application/vnd.in-toto+json"
    [sig] = env["signatures"]
    assert sig["keyid"] == attest.key_id(attest.load_public_key(evidence["pub"]))
    st = json.loads(base64.b64decode(env["payload"]))
    report = evidence["report"]
    assert st["_type"] == "https://in-toto.io/Statement/v1"
    assert st["subject"] == [{"name": "fw.tar.gz", "digest": {"sha256": report["target"]["sha256"]}}]
    assert st["predicateType"] == attest.PREDICATE_TYPE
    p = st["predicate"]
    import hashlib

    assert p["report"]["digest"]["sha256"] == hashlib.sha256(evidence["report_path"].read_bytes()).hexdigest()
    assert p["tool"] == report["tool"] and p["summary"] == report["summary"]
    assert p["findings"] == [attest.identity(f) for f in report["findings"]]
    assert len(p["conformance"]) == len(report["conformance"])
    assert set(p["conformance"][0]) == {"standard", "clause", "status"}
    assert p["scan"]["standards"] == ["EN303645", "GDSI", "TS33117"]
    assert [c["id"] for c in p["scan"]["checks"]] == [c["id"] for c in report["checks"]]


def test_round_trip_and_rescan_reproduces(evidence, tmp_path):
    att = tmp_path / "a.intoto.jsonl"
    att.write_text(json.dumps(attest.attest(evidence["report_path"], evidence["priv"])) + "\n")
    ok = attest.verify(att, evidence["pub"], evidence["image"], report_path=evidence["report_path"])
    assert ok.report_checked and not ok.rescanned and ok.image_sha256 == evidence["report"]["target"]["sha256"]
    ok = attest.verify(att, evidence["pub"], evidence["image"], rescan=True,
                       scan_kwargs={"workdir": tmp_path / "w", "cache_path": tmp_path / "c.sqlite"})
    assert ok.rescanned and ok.findings == len(evidence["report"]["findings"])


def test_tampered_report_is_rejected(evidence, tmp_path):
    att = tmp_path / "a.json"
    att.write_text(json.dumps(attest.attest(evidence["report_path"], evidence["priv"])))
    forged = json.loads(evidence["report_path"].read_text())
    forged["findings"] = forged["findings"][1:]  # hide a finding
    bad = tmp_path / "report.json"
    bad.write_text(report_mod.dumps(forged))
    with pytest.raises(VerificationError, match="report digest mismatch: .* the report was modified after it was attested"):
        attest.verify(att, evidence["pub"], evidence["image"], report_path=bad)


def test_tampered_image_is_rejected(evidence, tmp_path):
    att = tmp_path / "a.json"
    att.write_text(json.dumps(attest.attest(evidence["report_path"], evidence["priv"])))
    other = tmp_path / "fw.tar.gz"
    other.write_bytes(evidence["image"].read_bytes() + b"\0")
    with pytest.raises(VerificationError, match="image digest mismatch: the attestation is for sha256 [0-9a-f]{64}"):
        attest.verify(att, evidence["pub"], other)


def test_tampered_signature_payload_or_key_is_rejected(evidence, tmp_path):
    env = attest.attest(evidence["report_path"], evidence["priv"])
    att = tmp_path / "a.json"

    sig = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
    sig[0] ^= 1
    att.write_text(json.dumps({**env, "signatures": [{**env["signatures"][0], "sig": base64.b64encode(sig).decode()}]}))
    with pytest.raises(VerificationError, match="signature check failed: no signature verifies with key sha256:"):
        attest.verify(att, evidence["pub"], evidence["image"])

    st = json.loads(base64.b64decode(env["payload"]))
    st["predicate"]["findings"] = []  # claim a clean image
    forged = {**env, "payload": base64.b64encode(json.dumps(st).encode()).decode()}
    att.write_text(json.dumps(forged))
    with pytest.raises(VerificationError, match="altered or signed with another key"):
        attest.verify(att, evidence["pub"], evidence["image"])

    _, other_pub = attest.keygen(tmp_path / "other")
    att.write_text(json.dumps(env))
    with pytest.raises(VerificationError, match="signature check failed"):
        attest.verify(att, other_pub, evidence["image"])

    att.write_text(json.dumps({**env, "payloadType": "text/plain"}))
    with pytest.raises(VerificationError, match="unexpected payload type"):
        attest.verify(att, evidence["pub"], evidence["image"])
    att.write_text("garbage")
    with pytest.raises(VerificationError, match="not a JSON DSSE envelope"):
        attest.verify(att, evidence["pub"], evidence["image"])


def test_rescan_that_differs_is_rejected(evidence, tmp_path):
    att = tmp_path / "a.json"
    att.write_text(json.dumps(attest.attest(evidence["report_path"], evidence["priv"])))
    changed = json.loads(json.dumps(evidence["report"]))
    dropped = changed["findings"].pop(0)
    changed["tool"]["rules_version"] = "9.9.9+other"

    def fake_scan(image, **kwargs):
        return changed

    with pytest.raises(VerificationError) as exc:
        attest.verify(att, evidence["pub"], evidence["image"], rescan=True, scan=fake_scan)
    text = str(exc.value)
    assert "rescan does not reproduce the attested findings: 1 missing, 0 new" in text
    assert f"missing: {dropped['rule']} {dropped['path']} ({dropped['fingerprint']})" in text
    assert "attested with rules" in text and "9.9.9+other" in text


def test_triaged_report_rescans_with_the_same_triage(evidence, tmp_path):
    first = evidence["report"]["findings"][0]
    ign = triage.parse_ignore([{"fingerprint": first["fingerprint"], "reason": "accepted"}])
    triaged = triage.apply(evidence["report"], ignore=ign)
    assert len(triaged["findings"]) == len(evidence["report"]["findings"]) - 1
    rp = tmp_path / "triaged.json"
    rp.write_text(report_mod.dumps(triaged))
    att = tmp_path / "a.json"
    att.write_text(json.dumps(attest.attest(rp, evidence["priv"])))
    ok = attest.verify(att, evidence["pub"], evidence["image"], report_path=rp, rescan=True,
                       scan=lambda image, **kw: evidence["report"])
    assert ok.rescanned


def test_attest_refuses_what_is_not_a_report(evidence, tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text('{"findings": []}')
    with pytest.raises(AttestError, match="not a valid veracity report"):
        attest.attest(bad, evidence["priv"])
    with pytest.raises(AttestError, match="cannot read report"):
        attest.attest(tmp_path / "missing.json", evidence["priv"])


# -- the subcommands ---------------------------------------------------------------------------------------------


def _run(argv, **kw):
    p = argparse.ArgumentParser(prog="veracity")
    sub = p.add_subparsers(dest="command")
    handlers = attest.register(sub)
    assert set(handlers) == {"keygen", "attest", "verify"}
    args = p.parse_args(argv)
    return args.handler(args, **kw) if kw else args.handler(args)


def test_cli_keygen_attest_verify(evidence, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(attest.PASSWORD_ENV, raising=False)
    prefix = tmp_path / "ci"
    assert _run(["keygen", "-o", str(prefix)]) == 0
    assert _run(["keygen", "-o", str(prefix)]) == 2
    assert "exists; not overwriting" in capsys.readouterr().err
    report = tmp_path / "report.json"
    report.write_bytes(evidence["report_path"].read_bytes())
    assert _run(["attest", str(report), "--key", f"{prefix}.key"]) == 0
    att = Path(f"{report}.intoto.jsonl")
    assert att.exists() and len(att.read_text().splitlines()) == 1
    capsys.readouterr()

    argv = ["verify", str(att), "--key", f"{prefix}.pub", "--image", str(evidence["image"]), "--report", str(report)]
    assert _run(argv) == 0
    err = capsys.readouterr().err
    assert "verified: signature by sha256:" in err and "report digest matches" in err

    assert _run([*argv, "--rescan"], scan=lambda image, **kw: evidence["report"]) == 0
    assert "rescan reproduced the attested findings" in capsys.readouterr().err

    report.write_text(report.read_text().replace('"high"', '"low"', 1))
    assert _run(argv) == 1
    assert "verification FAILED: report digest mismatch" in capsys.readouterr().err

    assert _run(["verify", str(att), "--key", str(tmp_path / "none.pub"), "--image", str(evidence["image"])]) == 2
    assert "cannot read public key" in capsys.readouterr().err
    assert _run(["attest", str(report), "--key", str(tmp_path / "none.key")]) == 2


def _cli_has(command: str) -> bool:
    import contextlib

    from veracity import cli

    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            cli.parser().parse_args([command, "--help"])
    except SystemExit as exc:
        return exc.code == 0
    return True


@pytest.mark.skipif(not _cli_has("verify"), reason="veracity.cli does not have the attest commands yet")
def test_cli_scan_attest_verify_rescan(evidence, tmp_path, monkeypatch, capsys):
    from veracity import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(attest.PASSWORD_ENV, raising=False)
    cache = ["--cache", str(tmp_path / "c.sqlite")]
    assert cli.main(["keygen", "-o", "k"]) == 0
    assert cli.main(["scan", str(evidence["image"]), "-q", "--format", "json=r.json", *cache]) == 0
    assert cli.main(["attest", "r.json", "--key", "k.key", "-o", "r.att"]) == 0
    verify = ["verify", "r.att", "--key", "k.pub", "--image", str(evidence["image"]), "--report", "r.json"]
    assert cli.main([*verify, "--rescan"]) == 0
    assert "rescan reproduced the attested findings" in capsys.readouterr().err
    tampered = tmp_path / "fw.tar.gz"
    tampered.write_bytes(evidence["image"].read_bytes()[:-1] + b"\x01")
    assert cli.main(["verify", "r.att", "--key", "k.pub", "--image", str(tampered)]) == 1
    assert "image digest mismatch" in capsys.readouterr().err
    assert cli.main(["standards", "gdsi"]) == 0
