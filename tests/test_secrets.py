"""The secrets check: cloud keys, service tokens, JWTs, URLs with credentials, password assignments, PPP
secrets; each with look-alikes that must stay quiet. Token-shaped values are assembled at run time (they
are random strings in the documented shapes, not anyone's credentials)."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from conftest import corpus, findings

import veracity.checks.registry
from veracity.checks.secrets import SecretsCheck, mask
from veracity.patterns import PatternSet
from veracity.testing.memfs import inventory_from

PATTERNS = PatternSet(SecretsCheck.PATTERNS)

AWS_ID = "AKIA" + "ZQ7XK2M4NB6VC3LP"
AWS_SECRET = "wJa9rXUtnF3MI7K5MDENGb8PxRfiCYz2kQ" + "v4Lm1T"
GH_TOKEN = "ghp_" + "R8mZ2kq0Lw5XvT9bN4cJ7yH1sD6fG3aP0eUi"
SLACK_HOOK = "https://hooks.slack.com/services/" + "T0A1B2C3D/B4E5F6G7H/" + "q8W9e0R1t2Y3u4I5o6P7a8S9"
TELEGRAM = "7123456789:" + "AAH4kq9Zx2Lm7Vb0Nc3Rt8Yw1Pe5Ud6Sf0Q"
GOOGLE = "AIza" + "SyB3kL9mQ2wE7rT5yU1iO8pA4sD6fG0hJ2k"
AZURE_KEY = base64.b64encode(bytes(range(7, 39))).decode()
ALIBABA = "LTAI" + "5tQ8mZ2kW9xYp3Lr"
TENCENT = "AKID" + "q9Zx2Lm7Vb0Nc3Rt8Yw1Pe5Ud6Sf"


def _jwt(claims: dict) -> str:
    def enc(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return f"{enc({'alg': 'HS256', 'typ': 'JWT'})}.{enc(claims)}.{'Zk3Lq9Wm2Xp7Tn4Rb8Yc1Vd6Hs0Ge5Ja3KuOiPl'}"


def _run(files: dict, tmp_path) -> list:
    inv = inventory_from(files, tmp_path, patterns=PATTERNS)
    return list(SecretsCheck().run(inv, {}))


def _by(found, rule=None):
    return sorted((f.rule, f.path) for f in found if rule is None or f.rule == rule)


def _never_in_full(found, *secrets):
    for f in found:
        for secret in secrets:
            assert secret not in f.evidence and secret not in f.title, (f.rule, f.evidence)


# -- cloud keys and service tokens --------------------------------------------------------------------------


def test_aws_key_pair(tmp_path):
    creds = f"[default]\naws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}\n"
    found = _run({"/root/.aws/credentials": creds}, tmp_path)
    assert _by(found) == [("VER-SEC-001", "/root/.aws/credentials")] * 2
    assert {f.severity for f in found} == {"high"} and {f.category for f in found} == {"credential.hardcoded"}
    ident = next(f for f in found if "access key id" in f.evidence)
    assert ident.line == 2 and "with its secret access key wJ***" in ident.evidence
    _never_in_full(found, AWS_ID, AWS_SECRET)


def test_aws_key_id_alone_in_a_program_is_medium(tmp_path):
    elf = b"\x7fELF\x01\x02\x01" + b"\x00" * 64 + b"upload\x00" + AWS_ID.encode() + b"\x00bucket\x00"
    found = _run({"/usr/bin/uploader": elf}, tmp_path)
    assert _by(found) == [("VER-SEC-001", "/usr/bin/uploader")]
    assert found[0].severity == "medium" and found[0].offset == 64 + 7 + 7 and found[0].line is None
    _never_in_full(found, AWS_ID)


def test_gcp_azure_alibaba_tencent(tmp_path):
    sa = json.dumps({
        "type": "service_account", "project_id": "acme-iot", "private_key_id": "0f1e2d",
        "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIE...\\n-----END PRIVATE KEY-----\\n",
        "client_email": "fleet@acme-iot.iam.gserviceaccount.com",
    }, indent=1)
    files = {
        "/etc/gcp/sa.json": sa,
        "/etc/iot/hub.conf": f"conn=HostName=acme.azure-devices.net;DeviceId=d1;SharedAccessKey={AZURE_KEY}\n",
        "/etc/oss.conf": f"endpoint=oss-cn-hangzhou.aliyuncs.com\nkey_id={ALIBABA}\n",
        "/etc/cos.ini": f"[cos]\nsecret_id = {TENCENT}\n",
    }
    found = _run(files, tmp_path)
    assert _by(found) == [("VER-SEC-001", p) for p in sorted(["/etc/cos.ini", "/etc/gcp/sa.json",
                                                              "/etc/iot/hub.conf", "/etc/oss.conf"])]
    ev = {f.path: f.evidence for f in found}
    assert "fleet@acme-iot.iam.gserviceaccount.com" in ev["/etc/gcp/sa.json"] and "acme-iot" in ev["/etc/gcp/sa.json"]
    assert ev["/etc/iot/hub.conf"].startswith("Azure shared access key SharedAccessKey=")
    assert "Alibaba" in ev["/etc/oss.conf"] and "Tencent" in ev["/etc/cos.ini"]
    _never_in_full(found, AZURE_KEY, ALIBABA, TENCENT)


def test_generic_ak_sk_pair(tmp_path):
    sk = "Hx7Kp2Lq9Zm4Wn8Rt3Yv6Bc1Df5Gj0Ks2Ua9Xe4P"
    found = _run({"/etc/obs.conf": f"ak=QWERTYUIOP12ASDFGH34\nsk={sk}\n"}, tmp_path)
    assert _by(found) == [("VER-SEC-001", "/etc/obs.conf")] * 2
    assert sorted(f.evidence.split(" ")[1] for f in found) == ["access", "secret"]
    _never_in_full(found, sk, "QWERTYUIOP12ASDFGH34")


def test_service_tokens(tmp_path):
    files = {
        "/usr/bin/deploy.sh": f"#!/bin/sh\ncurl -H 'Authorization: token {GH_TOKEN}' https://api.github.com/x\n",
        "/etc/alert.conf": f"webhook={SLACK_HOOK}\ntelegram={TELEGRAM}\n",
        "/www/js/map.js": f'var mapsKey = "{GOOGLE}";\n',
    }
    found = _run(files, tmp_path)
    assert _by(found) == [("VER-SEC-002", "/etc/alert.conf")] * 2 + [("VER-SEC-002", "/usr/bin/deploy.sh"),
                                                                     ("VER-SEC-002", "/www/js/map.js")]
    sev = {f.evidence.split(" ")[0]: f.severity for f in found}
    assert sev == {"GitHub": "high", "Slack": "high", "Telegram": "high", "Google": "medium"}
    _never_in_full(found, GH_TOKEN, SLACK_HOOK, TELEGRAM, GOOGLE)


def test_documented_examples_and_docs(tmp_path):
    files = {
        "/etc/aws.conf": "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",  # AWS's own documentation example
        "/usr/share/doc/tool/README.md": f"export GITHUB_TOKEN={GH_TOKEN}\npassword=hunter2x\n",
    }
    found = _run(files, tmp_path)
    assert _by(found) == [("VER-SEC-002", "/usr/share/doc/tool/README.md")]
    assert found[0].severity == "low"


def test_files_unpacked_from_documentation_are_documentation(tmp_path):
    files = {"/test-summary": f"export GITHUB_TOKEN={GH_TOKEN}\n"}
    nested = ("fw.img", "squashfs@0x0", "/usr/share/doc/tool/test-summary.gz", "gzip@0x0")
    inv = inventory_from(files, tmp_path, patterns=PATTERNS, container=nested)
    found = list(SecretsCheck().run(inv, {}))
    assert _by(found) == [("VER-SEC-002", "/test-summary")] and found[0].severity == "low"
    product = ("fw.img", "squashfs@0x0", "/etc/app/env.gz", "gzip@0x0")
    inv = inventory_from(files, tmp_path, patterns=PATTERNS, container=product)
    assert [f.severity for f in SecretsCheck().run(inv, {})] == ["high"]


# -- JWT, URLs ----------------------------------------------------------------------------------------------


def test_jwt(tmp_path):
    token = _jwt({"iss": "cloud.acme.example", "sub": "device-fleet", "exp": 4102444800})
    found = _run({"/www/js/app.js": f'const AUTH = "Bearer {token}";\n'}, tmp_path)
    assert _by(found) == [("VER-SEC-003", "/www/js/app.js")]
    assert "alg=HS256" in found[0].evidence and "sub=device-fleet" in found[0].evidence
    _never_in_full(found, token, token.split(".")[2])


def test_jwt_look_alike_stays_quiet(tmp_path):
    fake = "eyJub3QiOiJhIGp3dCJ9.eyJzdWIiOiJ4In0x.sig"  # header without "alg"
    assert _run({"/www/js/app.js": f'x = "{fake}"\n'}, tmp_path) == []


def test_url_with_credentials(tmp_path):
    files = {
        "/etc/init.d/S90cloud": "#!/bin/sh\nmosquitto_sub -L mqtt://device:S3cr3tPa55@broker.acme-iot.cn:1883/t &\n",
        "/etc/opkg.conf": "src/gz base ftp://mirror:Mirr0rPw@ftp.acme.cn/packages\n",
    }
    found = _run(files, tmp_path)
    assert _by(found) == [("VER-SEC-004", "/etc/init.d/S90cloud"), ("VER-SEC-004", "/etc/opkg.conf")]
    ev = {f.path: f.evidence for f in found}
    assert ev["/etc/init.d/S90cloud"] == "mqtt://device:S3***@broker.acme-iot.cn:1883"
    _never_in_full(found, "S3cr3tPa55", "Mirr0rPw")


def test_url_placeholders_stay_quiet(tmp_path):
    files = {
        "/etc/x.conf": "a=ftp://user:password@host/x\nb=http://%s:%s@%s/\nc=rtsp://admin:${PASS}@cam\n"
                       "d=http://u:p4ssw0rd@www.example.com/\n",
        "/usr/lib/app/x.py": 'URL = "https://{user}:{password}@api/"\n',
    }
    assert _run(files, tmp_path) == []


# -- assignments --------------------------------------------------------------------------------------------


def test_uci_cloud_credentials_are_high(tmp_path):
    uci = (
        "config mqtt 'broker'\n\toption host 'iot.acme.cn'\n\toption username 'dev'\n\toption password 'Pr0dMqtt!'\n"
        "\noption RootPasswordAuth 'on'\n"
    )
    wireless = "config wifi-iface 'ap'\n\toption encryption 'psk2'\n\toption key 'Welcome2Acme'\n"
    uhttpd = "config uhttpd main\n\toption cert /etc/uhttpd.crt\n\toption key /etc/uhttpd.key\n"
    found = _run({"/etc/config/mqtt": uci, "/etc/config/wireless": wireless, "/etc/config/uhttpd": uhttpd}, tmp_path)
    assert _by(found) == [("VER-SEC-005", "/etc/config/mqtt"), ("VER-SEC-005", "/etc/config/wireless")]
    ev = {f.path: f for f in found}
    assert ev["/etc/config/mqtt"].severity == "high" and ev["/etc/config/mqtt"].line == 4
    assert "option password Pr***" in ev["/etc/config/mqtt"].evidence
    assert "config mqtt 'broker'" in ev["/etc/config/mqtt"].evidence
    assert ev["/etc/config/wireless"].severity == "medium" and "We***" in ev["/etc/config/wireless"].evidence
    _never_in_full(found, "Pr0dMqtt!", "Welcome2Acme")


def test_assignments_in_configs_scripts_code_and_programs(tmp_path):
    files = {
        "/etc/wpa_supplicant.conf": 'network={\n\tssid="acme"\n\tpsk="GuestWifi2020"\n}\n',
        "/usr/sbin/setup.sh": "#!/bin/sh\nADMIN_PASS=admin123\nchpasswd_root() { :; }\n",
        "/etc/app/config.json": json.dumps({"db": {"user": "app", "password": "Sup3rS3cret!"}}),
        "/usr/lib/app/settings.py": 'DB_PASSWORD = "xyz123abc"\nTIMEOUT = 3\n',
        "/etc/acs.xml": "<cwmp><acsPassword>acs-Pa55</acsPassword></cwmp>\n",
        "/usr/lib/libnvram.so": b"\x7fELF\x01\x02\x01" + b"\x00" * 64 + b"http_passwd=Adm1nPw\x00wl0_ssid=acme\x00",
        "/etc/default.conf": "admin_password=changeme\n",
    }
    found = _run(files, tmp_path)
    assert _by(found) == [("VER-SEC-005", p) for p in sorted(files)]
    ev = {f.path: f for f in found}
    assert ev["/etc/acs.xml"].severity == "high"  # a TR-069 ACS credential
    assert "(string in a program)" in ev["/usr/lib/libnvram.so"].evidence
    assert "placeholder that works as a default password" in ev["/etc/default.conf"].evidence
    assert ev["/usr/sbin/setup.sh"].line == 2
    _never_in_full(found, "GuestWifi2020", "admin123", "Sup3rS3cret!", "xyz123abc", "acs-Pa55", "Adm1nPw", "changeme")


def test_non_secrets_stay_quiet(tmp_path):
    files = {
        "/etc/app.conf": (
            "password=\npassword=$PASS\npassword=%s\npassword=${PASSWORD}\npassword=<password>\n"
            "password_required=true\nmin_password_length=8\npassword_file=/etc/app/pw\n"
            "# password=commented0ut\ntoken=Bearer\napi_key=your_api_key_here\npassword=********\n"
            "secret = pass:insta # demo CA\n"
        ),
        "/etc/ssh/sshd_config": "PasswordAuthentication no\nPermitEmptyPasswords no\n",
        "/etc/nsswitch.conf": "passwd: files\nshadow: compat\n",
        "/usr/lib/app/code.py": (
            'password = get_password()\nself.password = password\ntoken = request.headers["X-Token"]\n'
            'def f():\n    """Example: f(password="hunter22")"""\n'
            "FIELDS = {'allPass': 'overEvery', 'password': 'Password'}\n"
        ),
        "/www/login.htm": (
            '<!-- default: <password>admin123</password> -->\n<input type="password" name="password">\n'
            'if (cf.Password.value == "") { cf.Password.value = "\\t\\t\\t"; }\n'
        ),
        "/usr/bin/login": b"\x7fELF\x01\x02\x01" + b"\x00" * 64 + b"Password: \x00passwd: unknown user %s\x00"
                          b"password=%s\x00Token=stdin\x00",
        "/usr/lib/python3/x/__pycache__/m.cpython-311.pyc": b"\x00\x00password=docstring1\x00",
        "/etc/dhcp6c.conf.sample": "password=sampleonly1\n",
    }
    assert _run(files, tmp_path) == []


def test_mobile_carrier_profiles_are_low_and_grouped(tmp_path):
    isp = "dial_num=#777\napn=\nusername=ctnet@mycdma.cn\npassword=vnet.mobi\n"
    js = "".join(f'isp{i} : {{ apn : "apn{i}.net", username : "u{i}", password : "carrier{i}x" }},\n' for i in range(7))
    found = _run({"/etc/3gISP/ISP0": isp, "/web/3g.js": js}, tmp_path)
    assert _by(found) == [("VER-SEC-005", "/etc/3gISP/ISP0"), ("VER-SEC-005", "/web/3g.js")]
    assert {f.severity for f in found} == {"low"}
    grouped = next(f for f in found if f.path == "/web/3g.js")
    assert grouped.evidence.startswith("7 password(s)") and "+2 more" in grouped.evidence


def test_capped_candidates_are_reported(tmp_path):
    lines = "".join(f"user{i}_password=Pw{i:04d}xyz\n" for i in range(40))
    found = _run({"/etc/users.conf": lines}, tmp_path)
    assert ("VER-SEC-007", "/etc/users.conf") in _by(found)
    assert len(_by(found, "VER-SEC-005")) == 32 and next(f for f in found if f.rule == "VER-SEC-007").severity == "info"


# -- PPP / IPsec --------------------------------------------------------------------------------------------


def test_ppp_and_ipsec_secrets(tmp_path):
    files = {
        "/etc/ppp/chap-secrets": '# client server secret IP\n"isp-user"\t*\t"IspPa55"\n',
        "/etc/ppp/pap-secrets": "# client server secret\n",
        "/etc/ipsec.secrets": ': PSK "SharedVpnKey42"\n',
    }
    found = _run(files, tmp_path)
    assert _by(found) == [("VER-SEC-006", "/etc/ipsec.secrets"), ("VER-SEC-006", "/etc/ppp/chap-secrets")]
    sev = {f.path: f.severity for f in found}
    assert sev == {"/etc/ipsec.secrets": "medium", "/etc/ppp/chap-secrets": "low"}
    assert "isp-user" in next(f for f in found if f.path.endswith("chap-secrets")).evidence
    _never_in_full(found, "IspPa55", "SharedVpnKey42")


def test_mask():
    assert mask("admin123") == "ad***" and mask("abcd") == "a***" and mask("ab") == "***"
    assert mask(GH_TOKEN, 4) == "ghp_***"


def test_rules_are_documented():
    ids = [r.id for r in SecretsCheck.RULES]
    assert ids == [f"VER-SEC-00{i}" for i in range(1, 8)]
    for r in SecretsCheck.RULES:
        assert r.description and (r.references or r.category == "analysis.incomplete")
        assert r.category in ("credential.hardcoded", "analysis.incomplete")


# -- real samples -------------------------------------------------------------------------------------------


@pytest.fixture
def only_secrets(monkeypatch):
    monkeypatch.setattr(veracity.checks.registry, "CHECKS", (SecretsCheck(),))


def _sec(report):
    return sorted((f["rule"], f["path"], f["severity"]) for f in report["findings"] if f["rule"].startswith("VER-SEC-"))


@pytest.mark.corpus
def test_broadcom_ppp_placeholders(run_scan, only_secrets):
    report = run_scan(corpus("firmware/broadcom-bcm63xx-squashfs-v2.bin"))
    assert _sec(report) == [("VER-SEC-006", "/etc/ppp/chap-secrets", "low"), ("VER-SEC-006", "/etc/ppp/pap-secrets", "low")]
    assert all("client 'test'" in f["evidence"] for f in findings(report, "VER-SEC-006"))


@pytest.mark.corpus
def test_tplink_carrier_profiles(run_scan, only_secrets):
    report = run_scan(corpus("firmware/tplink-mr3020v1-3.17.2.bin"))
    assert _sec(report) == [
        ("VER-SEC-005", "/etc/3gISP/ISP0", "low"),
        ("VER-SEC-005", "/web/localiztion/3g.js", "low"),
        ("VER-SEC-007", "/web/localiztion/3g.js", "info"),
    ]


@pytest.mark.corpus
def test_alcatel_gpon_ploam_password(run_scan, only_secrets):
    report = run_scan(corpus("firmware/alcatel-g010s-a-mtd4.jffs2"))
    assert _sec(report) == [("VER-SEC-005", "/etc/config/gpon", "medium")]
    f = findings(report, "VER-SEC-005")[0]
    assert "option nPassword 00***" in f["evidence"] and "config gpon 'ploam'" in f["evidence"]
    assert "0000000001" not in json.dumps(report)


@pytest.mark.corpus
@pytest.mark.parametrize("package", [
    "pypi/requests-2.32.3.tar.gz", "pypi/six-1.16.0.tar.gz", "pypi/paramiko-3.4.0.tar.gz",
    "pypi/certifi-2026.10.19.post1-py3-none-any.whl", "pypi/urllib3-2.8.0-py3-none-any.whl",
    "npm/lodash-4.17.21.tgz", "npm/left-pad-1.3.0.tgz", "npm/axios-1.7.7.tgz",
])
def test_benign_packages_stay_quiet(run_scan, only_secrets, package):
    report = run_scan(corpus("packages/benign/" + package))
    assert [f for f in _sec(report) if f[2] != "info"] == []


def test_clean_system_files_stay_quiet(run_scan, only_secrets, tmp_path):
    root = tmp_path / "clean"
    picks = ["/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/openssl.cnf", "/etc/nsswitch.conf", "/etc/login.defs",
             "/etc/ssh/sshd_config", "/etc/ssh/ssh_config", "/usr/bin/ssh", "/usr/bin/curl", "/usr/bin/openssl",
             "/usr/share/doc/openssh-client/copyright", "/usr/share/doc/curl/copyright"]
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
    assert [f for f in _sec(report) if f[2] != "info"] == []
