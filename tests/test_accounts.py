"""The accounts check: hidden superusers, login-capable service accounts, empty, default and plaintext
passwords, weak hash schemes, the cracking budget, and what the three real router images ship.

Hashes are generated in the test with the system's crypt() from passwords of the knowledge base (or from
random ones that are in no list); nothing secret is committed."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import warnings

import pytest
from conftest import corpus, findings

import veracity.checks.registry
from veracity.checks import accounts as accounts_mod
from veracity.checks import credentials_kb as kb_mod
from veracity.checks.accounts import AccountsCheck, parse_passwd
from veracity.checks.base import NotApplicable
from veracity.patterns import PatternSet
from veracity.testing.memfs import inventory_from

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

PATTERNS = PatternSet(AccountsCheck.PATTERNS)
CONTRACT = {"name", "uid", "gid", "shell", "home", "password_state", "source"}
EXTRA = {"container", "login", "password_hint", "finding"}


def _crypt(password: str, setting: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return crypt.crypt(password, setting)


def _strong() -> str:
    return "Zq" + base64.b32encode(os.urandom(15)).decode()  # in no list


def run(tmp_path, files, links=None, **kw):
    inv = inventory_from(files, tmp_path, links=links, patterns=PATTERNS, **kw)
    sections: dict[str, list[dict]] = {}
    out = list(AccountsCheck().run(inv, sections))
    return out, sections.get("accounts", [])


def hits(out, prefix="VER-ACC-"):
    return sorted((f.rule, f.path) for f in out if f.rule.startswith(prefix))


def by_rule(out, rule):
    return [f for f in out if f.rule == rule]


def passwd(*lines: str) -> str:
    return "root:x:0:0:root:/root:/bin/sh\n" + "".join(line + "\n" for line in lines)


def shadow(root: str, *lines: str) -> str:
    return f"root:{root}:19000:0:99999:7:::\n" + "".join(line + "\n" for line in lines)


@pytest.fixture(autouse=True)
def fresh_memo(monkeypatch):
    """A clean memo, and a small budget for slow schemes so that the tests stay fast."""
    monkeypatch.setattr(kb_mod, "PER_HASH_BUDGET_US", 150_000)
    monkeypatch.setattr(kb_mod, "IMAGE_BUDGET_US", 1_500_000)
    kb_mod._MEMO.clear()
    yield
    kb_mod._MEMO.clear()


# -- account.hidden --------------------------------------------------------------------------------------


def test_second_uid0_account(tmp_path):
    out, _ = run(tmp_path, {
        "/etc/passwd": passwd("toor:x:0:0::/root:/bin/sh", "halt:x:0:0::/sbin:/sbin/halt"),
        "/etc/shadow": shadow("*", f"toor:{_crypt(_strong(), '$6$saltsalt$')}:1:0:99999:7:::", "halt:*:1::::::"),
    })
    found = by_rule(out, "VER-ACC-001")
    assert [(f.path, f.line, f.severity) for f in found] == [("/etc/passwd", 2, "high"), ("/etc/passwd", 3, "low")]
    assert "'toor' has uid 0 like 'root'" in found[0].evidence
    assert {f.category for f in found} == {"account.hidden"}


def test_first_uid0_is_the_superuser_when_there_is_no_root(tmp_path):
    out, _ = run(tmp_path, {"/etc/passwd": "admin:*:0:0::/:/bin/sh\nsupport:*:0:0::/:/bin/sh\n"})
    assert [(f.rule, f.line) for f in by_rule(out, "VER-ACC-001")] == [("VER-ACC-001", 2)]
    assert "like 'admin'" in by_rule(out, "VER-ACC-001")[0].evidence


def test_only_root_is_benign(tmp_path):
    out, accounts = run(tmp_path, {
        "/etc/passwd": passwd("daemon:x:1:1::/:/usr/sbin/nologin", "www:x:33:33::/var/www:/bin/false",
                              "user:x:1000:1000::/home/user:/bin/bash", "sync:x:4:65534::/bin:/bin/sync"),
        "/etc/shadow": shadow("!", "daemon:*:1::::::", "www:*:1::::::", "user:!$6$x$y:1::::::", "sync::1::::::"),
    })
    assert hits(out) == []
    assert [a["login"] for a in accounts] == [False] * 5


def test_login_capable_service_account(tmp_path):
    out, accounts = run(tmp_path, {
        "/etc/passwd": passwd("bin:x:1:1:bin:/bin:/bin/sh", "ap71:x:500:0::/root:"),
        "/etc/shadow": shadow("*", f"bin:{_crypt(_strong(), '$6$abcdefgh$')}:1::::::", "ap71:$6$zz$" + "A" * 86 + ":1::::::"),
    })
    found = by_rule(out, "VER-ACC-002")
    assert [(f.path, f.line) for f in found] == [("/etc/passwd", 2), ("/etc/passwd", 3)]
    assert "shell /bin/sh (empty field)" in found[1].evidence and "gid 0 (root group)" in found[1].evidence
    assert [a["login"] for a in accounts] == [False, True, True]


def test_program_writing_root_group_members(tmp_path):
    prog = b"\x7fELF" + b"\x00" * 60 + b"/etc/passwd\x00admin\x00Administrator\x00/etc/group\x00root::0:root,admin,support,user\x00"
    out, _ = run(tmp_path, {"/bin/cfm": prog})
    found = by_rule(out, "VER-ACC-009")
    assert [(f.path, f.category) for f in found] == [("/bin/cfm", "account.hidden")]
    assert "accounts admin, support, user are members of group root" in found[0].evidence


def test_group_lines_in_the_group_file_or_unrelated_programs_are_benign(tmp_path):
    out, _ = run(tmp_path, {
        "/etc/group": "root::0:root,admin\n",
        "/etc/passwd": passwd(),
        "/usr/bin/tool": b"\x7fELF" + b"\x00" * 60 + b"wheel::0:alice,bob\x00no account file named here\x00",
    })
    assert by_rule(out, "VER-ACC-009") == []


# -- credential.empty ----------------------------------------------------------------------------------


def test_empty_password(tmp_path):
    out, accounts = run(tmp_path, {
        "/etc/passwd": passwd("admin:x:0:0::/root:/bin/sh", "guest:x:100:100::/:/bin/ash"),
        "/etc/shadow": shadow("*", "admin::1::::::", "guest::1::::::"),
    })
    found = by_rule(out, "VER-ACC-003")
    assert [(f.path, f.line, f.severity) for f in found] == [("/etc/shadow", 2, "critical"), ("/etc/shadow", 3, "high")]
    assert [a["password_state"] for a in accounts] == ["locked", "empty", "empty"]
    assert accounts[1]["finding"] == found[0].fingerprint


def test_empty_password_without_a_shell_is_benign(tmp_path):
    out, _ = run(tmp_path, {
        "/etc/passwd": passwd("nobody:x:65534:65534::/:/bin/false", "ftp::55:55::/:/sbin/nologin"),
        "/etc/shadow": shadow("*", "nobody::1::::::"),
    })
    assert by_rule(out, "VER-ACC-003") == []


# -- credential.default: every scheme --------------------------------------------------------------------

SCHEMES = [
    ("des", "ab"),
    ("md5crypt", "$1$vEr4c1ty$"),
    ("sha256crypt", "$5$rounds=5000$abcdefghijkl$"),
    ("sha512crypt", "$6$abcdefgh$"),
    ("bcrypt", "$2b$04$abcdefghijklmnopqrstuu"),
    ("yescrypt", "$y$j9T$abcdefghijklmnop$"),
]


@pytest.mark.parametrize(("scheme", "setting"), SCHEMES)
def test_default_password_cracked(tmp_path, scheme, setting):
    if not kb_mod.supported(scheme):
        pytest.skip(f"{scheme} not supported by this system's crypt()")
    out, accounts = run(tmp_path, {
        "/etc/passwd": passwd("support:x:10:10::/:/bin/sh"),
        "/etc/shadow": shadow("*", f"support:{_crypt('zlxx.', setting)}:1::::::"),  # Mirai's, listed for support
    })
    found = by_rule(out, "VER-ACC-004")
    assert [(f.path, f.line, f.category) for f in found] == [("/etc/shadow", 2, "credential.default")]
    assert "zlxx." not in found[0].evidence and "z****" in found[0].evidence
    assert f"{scheme} hash matches the known default password" in found[0].evidence
    support = accounts[1]
    assert support["password_state"] == "cracked" and support["password_hint"] == "z****"
    assert support["finding"] == found[0].fingerprint
    assert kb_mod.identify(_crypt("x", setting)) == scheme


def test_every_password_is_tried_for_every_account(tmp_path):
    # "smcadmin" is listed for user admin only; the account here has another name
    assert "zed" not in kb_mod.load().lookup("smcadmin").users
    out, _ = run(tmp_path, {
        "/etc/passwd": passwd("zed:x:0:0::/:/bin/sh"),
        "/etc/shadow": shadow("*", f"zed:{_crypt('smcadmin', '$1$abcdefgh$')}:1::::::"),
    })
    assert [(f.rule, f.line) for f in by_rule(out, "VER-ACC-004")] == [("VER-ACC-004", 2)]


def test_password_equal_to_the_account_name(tmp_path):
    out, _ = run(tmp_path, {
        "/etc/passwd": passwd("qxvendor7:x:0:0::/:/bin/sh"),
        "/etc/shadow": shadow("*", f"qxvendor7:{_crypt('qxvendor7', '$1$abcdefgh$')}:1::::::"),
    })
    found = by_rule(out, "VER-ACC-004")
    assert len(found) == 1 and "the account's own name qx*******" in found[0].evidence


def test_unknown_password_is_a_preset_not_a_default(tmp_path):
    out, accounts = run(tmp_path, {
        "/etc/passwd": passwd(),
        "/etc/shadow": shadow(_crypt(_strong(), "$1$abcdefgh$")),
    })
    assert by_rule(out, "VER-ACC-004") == []
    preset = by_rule(out, "VER-ACC-010")
    assert [(f.path, f.category, f.severity) for f in preset] == [("/etc/shadow", "credential.hardcoded", "medium")]
    assert "2971 default-password candidates tried" in preset[0].evidence or "candidates tried" in preset[0].evidence
    assert accounts[0]["password_state"] == "hash:md5crypt" and accounts[0]["password_hint"] is None
    assert by_rule(out, "VER-ACC-008") == []  # md5crypt is cheap: the whole list was tried


def test_locked_hash_is_not_cracked(tmp_path):
    out, accounts = run(tmp_path, {
        "/etc/passwd": passwd(),
        "/etc/shadow": shadow("!" + _crypt("admin", "$1$abcdefgh$")),
    })
    assert hits(out) == [] and accounts[0]["password_state"] == "locked"


def test_same_hash_in_two_files_is_cracked_once(tmp_path, monkeypatch):
    calls = []
    real = kb_mod.run_job

    def counting(job):
        calls.append(job.field)
        return real(job)

    monkeypatch.setattr(kb_mod, "run_job", counting)
    h = _crypt("admin", "$1$abcdefgh$")
    out, _ = run(tmp_path, {
        "/etc/passwd": passwd("Admin:x:0:0::/:/bin/sh"),
        "/etc/shadow": shadow(h, f"Admin:{h}:1::::::"),
        "/etc_ro/passwd": passwd(),
        "/etc_ro/shadow": shadow(h),
    })
    assert calls == [h]
    # root in /etc/shadow and Admin; the copy in /etc_ro adds no finding for the same root credential
    assert [(f.path, f.line) for f in by_rule(out, "VER-ACC-004")] == [("/etc/shadow", 1), ("/etc/shadow", 2)]


def test_copy_of_the_account_database_only_reports_differences(tmp_path):
    out, accounts = run(tmp_path, {
        "/etc/passwd": passwd("ONTUSER:x:0:0::/:/bin/ash"),
        "/etc/shadow": shadow("*", f"ONTUSER:{_crypt('admin', '$1$abcdefgh$')}:1::::::"),
        "/etc/passwd-": passwd("ONTUSER:x:0:0::/:/bin/ash"),
        "/etc/shadow-": shadow(_crypt("root", "$1$abcdefgh$"), f"ONTUSER:{_crypt('admin', '$1$abcdefgh$')}:1::::::"),
    })
    assert [(f.rule, f.path, f.line) for f in out if f.rule in ("VER-ACC-001", "VER-ACC-004")] == [
        ("VER-ACC-004", "/etc/shadow", 2), ("VER-ACC-001", "/etc/passwd", 2), ("VER-ACC-004", "/etc/shadow-", 1),
    ]
    copy = [a for a in accounts if a["source"] == "/etc/passwd-"]
    assert [a["name"] for a in copy] == ["root", "ONTUSER"]
    main_ont = next(a for a in accounts if a["source"] == "/etc/passwd" and a["name"] == "ONTUSER")
    assert copy[1]["finding"] == main_ont["finding"] is not None


# -- web, MQTT, RPC and vendor default accounts ------------------------------------------------------------


def test_htpasswd_schemes(tmp_path):
    sha = base64.b64encode(hashlib.sha1(b"password").digest()).decode()
    out, accounts = run(tmp_path, {
        "/www/.htpasswd": (
            f"admin:{kb_mod.apr1('admin', 'abcdefgh')}\n"
            f"user:{{SHA}}{sha}\n"
            f"ops:{_crypt('1234', '$2b$04$abcdefghijklmnopqrstuu')}\n"
            f"vendor:{_strong()}\n"
            "guest:\n"
        ),
    })
    assert [(f.rule, f.line) for f in out if f.rule in ("VER-ACC-003", "VER-ACC-004", "VER-ACC-005")] == [
        ("VER-ACC-004", 1), ("VER-ACC-004", 2), ("VER-ACC-004", 3), ("VER-ACC-005", 4), ("VER-ACC-003", 5),
    ]
    assert [a["password_state"] for a in accounts] == ["cracked", "cracked", "cracked", "plaintext", "empty"]
    assert all(a["login"] is False and a["uid"] is None for a in accounts)
    assert by_rule(out, "VER-ACC-004")[0].severity == "high"
    weak = by_rule(out, "VER-ACC-006")
    assert sorted(f.evidence.split()[0] for f in weak) == ["apr1", "ldap-sha1"]


def test_htdigest_and_busybox_httpd(tmp_path):
    digest = hashlib.md5(b"admin:Router:admin").hexdigest()
    out, accounts = run(tmp_path, {
        "/etc/lighttpd/lighttpd.htdigest": f"admin:Router:{digest}\n",
        "/etc/httpd.conf": "A:*\n/cgi-bin:admin:1234\n/adm:ops:$1$abcdefgh$" + "x" * 22 + "\n.html:text/html\n",
    })
    assert [(f.rule, f.path, f.line) for f in by_rule(out, "VER-ACC-004")] == [
        ("VER-ACC-004", "/etc/httpd.conf", 2), ("VER-ACC-004", "/etc/lighttpd/lighttpd.htdigest", 1),
    ]
    assert {a["name"] for a in accounts} == {"admin", "ops"}


def test_mosquitto_password_files(tmp_path):
    salt = b"0123456789abcdef"
    sha = base64.b64encode(hashlib.sha512(b"admin" + salt).digest()).decode()
    pbkdf2 = base64.b64encode(hashlib.pbkdf2_hmac("sha512", b"password", salt, 101)).decode()
    b64salt = base64.b64encode(salt).decode()
    out, accounts = run(tmp_path, {
        "/etc/mosquitto/mosquitto.conf": "listener 1883\npassword_file /etc/mosquitto/pwfile\n",
        "/etc/mosquitto/pwfile": f"dev:$6${b64salt}${sha}\nsvc:$7$101${b64salt}${pbkdf2}\n",
    })
    assert [(f.rule, f.line) for f in by_rule(out, "VER-ACC-004")] == [("VER-ACC-004", 1), ("VER-ACC-004", 2)]
    assert "MQTT broker login" in by_rule(out, "VER-ACC-004")[0].evidence
    assert [a["password_state"] for a in accounts] == ["cracked", "cracked"]


def test_openwrt_rpcd(tmp_path):
    out, accounts = run(tmp_path, {
        "/etc/config/rpcd": (
            "config login\n\toption username 'root'\n\toption password '$p$root'\n\tlist read '*'\n\n"
            "config login\n\toption username 'cloud'\n\toption password 'admin'\n"
        ),
        "/etc/passwd": passwd(),
    })
    assert [(f.rule, f.path, f.line) for f in by_rule(out, "VER-ACC-004")] == [("VER-ACC-004", "/etc/config/rpcd", 8)]
    rpc = [a for a in accounts if a["source"] == "/etc/config/rpcd"]
    assert [(a["name"], a["password_state"]) for a in rpc] == [("root", "locked"), ("cloud", "plaintext")]


def test_vendor_default_configuration_pairs(tmp_path):
    md5 = hashlib.md5(b"admin").hexdigest()
    out, accounts = run(tmp_path, {
        "/etc/nvram.default": (
            "lan_ipaddr=192.168.1.1\nhttp_username=admin\nhttp_passwd=admin\n"
            "telnet_user=tech\ntelnet_pass=Zq7-vendor-Unlisted\n"
            f"web_password={md5}\n"
        ),
        "/etc/default.cfg": '<psitree>\n<sysUserName value="admin"/>\n<sysPassword value="1234"/>\n</psitree>\n',
    })
    got = [(f.rule, f.path, f.line) for f in out if f.rule in ("VER-ACC-004", "VER-ACC-005")]
    assert got == [
        ("VER-ACC-004", "/etc/default.cfg", 3),
        ("VER-ACC-004", "/etc/nvram.default", 3),
        ("VER-ACC-005", "/etc/nvram.default", 5),
        ("VER-ACC-004", "/etc/nvram.default", 6),
    ]
    rows = {(a["source"], a["name"]): a["password_state"] for a in accounts}
    assert rows == {
        ("/etc/default.cfg", "admin"): "plaintext", ("/etc/nvram.default", "admin"): "plaintext",
        ("/etc/nvram.default", "tech"): "plaintext", ("/etc/nvram.default", "web_password"): "cracked",
    }
    assert "Zq7-vendor-Unlisted" not in " ".join(f.evidence for f in out)


def test_files_unpacked_from_documentation_hold_no_accounts(tmp_path):
    """A changelog decompressed from /usr/share/doc quotes configuration lines; it configures nothing."""
    files = {"/nvram.default": "http_username=admin\nhttp_passwd=admin\n" + "".join(f"fix{n}=1\n" for n in range(2100)),
             "/passwd": passwd("root::0:0:root:/root:/bin/sh")}
    nested = ("fw.img", "squashfs@0x0", "/usr/share/doc/tool/examples.tar.gz", "tar.gz@0x0")
    with pytest.raises(NotApplicable):
        run(tmp_path, files, container=nested)
    out, accounts = run(tmp_path, files, container=("fw.img", "squashfs@0x0", "/etc/defaults.tar.gz", "tar.gz@0x0"))
    assert {a["name"] for a in accounts} == {"root", "admin"} and any(f.rule == "VER-ACC-007" for f in out)


def test_admin_password_key_in_an_ini_file(tmp_path):
    out, accounts = run(tmp_path, {"/etc/webs/system.ini": "[admin]\nadmin_user=root\nadmin_password=password\n"})
    assert [(f.rule, f.line) for f in by_rule(out, "VER-ACC-004")] == [("VER-ACC-004", 3)]
    assert [(a["name"], a["password_state"], a["password_hint"]) for a in accounts] == [("root", "plaintext", "pa******")]


def test_configuration_look_alikes_are_benign(tmp_path):
    out, accounts = run(tmp_path, {
        "/etc/nvram.default": "http_passwd=\nwl0_wpa_psk=admin\npassword_min_len=8\npasswd_file=/etc/passwd\n"
                              "login_password=0\n",
        "/etc/default.cfg": '<protocol upnp="enable" encodePassword="enable" enAuth="enable"/>\n',  # Broadcom
        "/etc/3gISP/ISP0": "dial_num=#777\napn=\nusername=ctnet@mycdma.cn\npassword=vnet.mobi\n",
        "/etc/app.conf": "db_password=Zq-something-secret\npassword=${PASSWORD}\n",
        "/www/login.js": "var password='admin';\n",
        "/etc/passwd": passwd(),
        "/etc/shadow": shadow("*"),
    })
    assert hits(out) == []
    assert [a["source"] for a in accounts] == ["/etc/passwd"]


def test_embedded_passwd_line_in_a_script(tmp_path):
    h = _crypt("admin", "$1$abcdefgh$")
    out, accounts = run(tmp_path, {
        "/etc/init.d/rcS": f"#!/bin/sh\nmkdir -p /var\necho '{h.replace('$', '$')}' >/dev/null\n"
                           f"echo 'root:{h}:0:0:root:/root:/bin/sh' > /var/passwd\n"
                           "echo 'guest::0:0::/:/bin/sh' >> /var/passwd\n",
    })
    assert [(f.rule, f.path, f.line) for f in out if f.rule in ("VER-ACC-001", "VER-ACC-003", "VER-ACC-004")] == [
        ("VER-ACC-004", "/etc/init.d/rcS", 4), ("VER-ACC-003", "/etc/init.d/rcS", 5), ("VER-ACC-001", "/etc/init.d/rcS", 5),
    ]
    assert [(a["name"], a["uid"], a["password_state"]) for a in accounts] == [("root", 0, "cracked"), ("guest", 0, "empty")]


def test_passwd_template_strings_are_benign(tmp_path):
    out, _ = run(tmp_path, {
        "/usr/sbin/adduser": b"\x7fELF" + b"\x00" * 60 + b"%s:x:%u:%u:%s:%s:%s\x00root:x:0:0:root:/root:/bin/sh\x00",
        "/usr/share/doc/pkg/passwd.example": "root:$1$abcdefgh$" + "x" * 22 + ":0:0::/:/bin/sh\n",
        "/etc/passwd": passwd(),
        "/etc/shadow": shadow("*"),
    })
    assert hits(out) == []


# -- config.insecure, analysis.incomplete ---------------------------------------------------------------


def test_weak_hash_scheme(tmp_path):
    out, _ = run(tmp_path, {
        "/etc/passwd": passwd("op:x:100:100::/:/bin/sh"),
        "/etc/shadow": shadow(_crypt(_strong(), "ab"), f"op:{_crypt(_strong(), '$1$abcdefgh$')}:1::::::"),
    })
    weak = by_rule(out, "VER-ACC-006")
    assert sorted((f.path, f.evidence) for f in weak) == [
        ("/etc/shadow", "des hashes for 'root'"), ("/etc/shadow", "md5crypt hashes for 'op'"),
    ]
    assert weak[0].standards[0] == "EN303645:5.1-3"


def test_strong_hash_scheme_is_benign(tmp_path):
    out, _ = run(tmp_path, {"/etc/passwd": passwd(), "/etc/shadow": shadow(_crypt(_strong(), "$6$abcdefgh$"))})
    assert by_rule(out, "VER-ACC-006") == []


def test_malformed_lines_and_missing_shadow(tmp_path):
    out, accounts = run(tmp_path, {"/etc/passwd": passwd("this is not an entry", "admin:x:0:0::/:/bin/sh")})
    assert [(f.line, f.severity) for f in by_rule(out, "VER-ACC-007") if f.line] == [(2, "low")]
    assert any("shadow file" in f.evidence for f in by_rule(out, "VER-ACC-007"))
    assert [a["password_state"] for a in accounts] == ["locked", "locked"]


def test_shadow_without_passwd(tmp_path):
    out, accounts = run(tmp_path, {"/etc/shadow": shadow(_crypt("root", "$1$abcdefgh$"), "guest::1::::::")},
                        links={"/etc/passwd": "/var/passwd"})
    assert [(f.rule, f.line) for f in out if f.rule in ("VER-ACC-002", "VER-ACC-003", "VER-ACC-004", "VER-ACC-007")] == [
        ("VER-ACC-004", 1), ("VER-ACC-003", 2),
    ]
    assert [(a["name"], a["uid"], a["source"]) for a in accounts] == [("root", None, "/etc/shadow"), ("guest", None, "/etc/shadow")]


def test_garbage_passwd_file(tmp_path):
    out, accounts = run(tmp_path, {"/etc/passwd": b"\x00\x01binary garbage\xff" * 10})
    assert [(f.path, f.line) for f in by_rule(out, "VER-ACC-007")] == [("/etc/passwd", None)]
    assert "is not a passwd file" in by_rule(out, "VER-ACC-007")[0].evidence and accounts == []


def test_runtime_passwd_link(tmp_path):
    out, accounts = run(tmp_path, {"/bin/sh": b"\x7fELF" + b"\x00" * 60}, links={"/etc/passwd": "/var/passwd"})
    found = by_rule(out, "VER-ACC-007")
    assert [(f.path, f.category) for f in found] == [("/etc/passwd", "analysis.incomplete")]
    assert "created at boot" in found[0].evidence and accounts == []


def test_runtime_passwd_link_with_a_default_copy(tmp_path):
    out, accounts = run(tmp_path, {"/etc/passwd.default": "root:*:0:0::/root:/bin/sh\nadmin::0:0::/:/bin/sh\n"},
                        links={"/etc/passwd": "/var/passwd"})
    assert by_rule(out, "VER-ACC-007") == []
    assert [(f.rule, f.path) for f in by_rule(out, "VER-ACC-003")] == [("VER-ACC-003", "/etc/passwd.default")]
    assert [a["source"] for a in accounts] == ["/etc/passwd.default"] * 2


def test_unsupported_scheme_is_not_attempted(tmp_path, monkeypatch):
    monkeypatch.setattr(kb_mod, "supported", lambda scheme: False)
    out, accounts = run(tmp_path, {"/etc/passwd": passwd(), "/etc/shadow": shadow(_crypt("admin", "$6$abcdefgh$"))})
    found = by_rule(out, "VER-ACC-008")
    assert [(f.path, f.severity) for f in found] == [("/etc/shadow", "info")]
    assert "cannot be verified on this system" in found[0].evidence
    assert accounts[0]["password_state"] == "hash:sha512crypt"
    assert "not compared with default passwords" in by_rule(out, "VER-ACC-010")[0].evidence


def test_huge_account_file_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(kb_mod, "IMAGE_BUDGET_US", 200_000)
    planned = []
    real_crack = kb_mod.crack

    def spy(jobs, **kw):
        planned.extend(jobs)
        return real_crack(jobs, **kw)

    monkeypatch.setattr(kb_mod, "crack", spy)
    rnd = base64.b64encode(os.urandom(3000 * 24), altchars=b"./").decode()
    lines = [f"u{i}:$1$s{i % 1000:03d}$" + rnd[i * 24 : i * 24 + 22] + ":0:0::/:/bin/sh" for i in range(2500)]
    out, accounts = run(tmp_path, {"/etc/passwd": "\n".join(lines) + "\n"})
    assert len(accounts) == accounts_mod.MAX_ENTRIES == 2000
    assert [f.evidence for f in by_rule(out, "VER-ACC-007")] == ["0 malformed lines; 500 entries beyond the first 2000 not assessed"]
    assert len(planned) == kb_mod.MAX_HASHES
    nominal = sum(kb_mod.cost_us(j.scheme, j.field) * j.limit for j in planned)
    assert nominal <= kb_mod.HARD_CAP_FACTOR * 200_000
    skipped = [f for f in by_rule(out, "VER-ACC-008") if "more than 256 distinct hashes" in f.evidence]
    assert len(skipped) == 2000 - kb_mod.MAX_HASHES


def test_not_applicable_without_accounts(tmp_path):
    with pytest.raises(NotApplicable):
        run(tmp_path, {"/usr/lib/python3/site.py": "print('hello')\n"})


# -- the budget --------------------------------------------------------------------------------------------


def test_candidates_follow_prevalence_after_the_user_pairs():
    kb = kb_mod.load()
    assert len(kb) > 2500
    order = kb.candidates(["support"])
    assert order[0] == "support"
    paired = kb.by_user["support"]
    assert order[1 : 1 + len(paired)] == tuple(p for p in paired if p != "support") or order[1] in paired
    rest = [p for p in order if p != "support" and p not in paired]
    ranks = [kb.lookup(p).prevalence for p in rest]
    assert ranks == sorted(ranks, reverse=True)
    assert len(set(order)) == len(order) == len(kb) + (0 if kb.lookup("support") else 1)
    prevalences = [e.prevalence for e in kb.entries]
    assert prevalences == sorted(prevalences, reverse=True)
    assert kb.entries[0].password == "admin"


def test_plan_gives_cheap_schemes_the_whole_list_and_expensive_ones_a_budget(monkeypatch):
    monkeypatch.setattr(kb_mod, "PER_HASH_BUDGET_US", 1_500_000)
    monkeypatch.setattr(kb_mod, "IMAGE_BUDGET_US", 6_000_000)
    n = 3000
    md5 = "$1$abcdefgh$" + "a" * 22
    sha = "$6$abcdefgh$" + "a" * 86
    bc10 = "$2b$10$" + "a" * 53
    bc12 = "$2b$12$" + "a" * 53
    limits = kb_mod.plan([("md5crypt", md5, n), ("sha512crypt", sha, n), ("bcrypt", bc10, n), ("bcrypt", bc12, n)])
    assert limits[0] == n
    assert limits[1] == int(kb_mod.PER_HASH_BUDGET_US // 1700)
    assert limits[2] == int(kb_mod.PER_HASH_BUDGET_US // (64 * 1024))
    assert limits[3] == kb_mod.MIN_CANDIDATES
    # many expensive hashes share the image budget
    many = kb_mod.plan([("sha512crypt", sha, n)] * 20)
    assert many == [int(kb_mod.IMAGE_BUDGET_US / 20 // 1700)] * 20
    # more rounds, fewer candidates
    sha_r = "$6$rounds=50000$abcdefgh$" + "a" * 86
    assert kb_mod.plan([("sha512crypt", sha_r, n)]) == [int(kb_mod.PER_HASH_BUDGET_US // 17000)]


def test_budgeted_hash_tries_the_most_prevalent_candidates_first(tmp_path, monkeypatch):
    tried: list[str] = []
    real = kb_mod.verify

    def spy(scheme, field, password, **kw):
        tried.append(password)
        return real(scheme, field, password, **kw)

    monkeypatch.setattr(kb_mod, "verify", spy)
    monkeypatch.setattr(kb_mod, "PER_HASH_BUDGET_US", 64 * 16 * 25)  # bcrypt cost 4: 25 candidates
    out, _ = run(tmp_path, {
        "/etc/passwd": passwd("svc:x:100:100::/:/bin/sh"),
        "/etc/shadow": shadow("*", f"svc:{_crypt(_strong(), '$2b$04$abcdefghijklmnopqrstuu')}:1::::::"),
    })
    kb = kb_mod.load()
    assert tried == list(kb.candidates(["svc"])[:25])
    assert tried[1:] == [e.password for e in kb.entries[:24]]  # svc is paired with nothing: pure prevalence
    found = by_rule(out, "VER-ACC-008")
    assert len(found) == 1 and f"only the 25 most likely of {len(kb) + 1} candidates" in found[0].evidence


def test_parallel_cracking_matches_serial(monkeypatch):
    kb = kb_mod.load()
    hashes = [_crypt(pw, "$1$abcdefgh$") for pw in ("admin", "5up", _strong(), "xc3511")]
    jobs = [kb_mod.Job("md5crypt", h, kb.candidates(["root"]), 400) for h in hashes]
    serial = kb_mod.crack(jobs, workers=1)
    kb_mod._MEMO.clear()
    monkeypatch.setattr(kb_mod, "PARALLEL_FROM_US", 0)
    parallel = kb_mod.crack(jobs, workers=2)
    assert serial == parallel
    assert [pw for pw, _n in parallel] == ["admin", "5up", None, "xc3511"]
    assert parallel[2][1] == 400


def test_identify_and_mask():
    assert kb_mod.identify("$1$$zdlNHiCDxYDfeF4MZL.H3/") == "md5crypt"
    assert kb_mod.identify("21232f297a57a5a743894a0e4a801fc3") is None  # no raw digests in passwd
    assert kb_mod.identify("21232f297a57a5a743894a0e4a801fc3", context="web") == "md5"
    assert kb_mod.identify("admin", context="web") is None
    assert kb_mod.identify("$apr1$abcdefgh$" + "a" * 22, context="web") == "apr1"
    assert kb_mod.mask("5up") == "5**" and kb_mod.mask("password") == "pa******" and kb_mod.mask("ab") == "**"


def test_knowledge_base_records_its_sources():
    from importlib import resources

    head = [line for line in resources.files("veracity").joinpath("data", "credentials.txt").read_text().splitlines()
            if line.startswith("#")]
    text = "\n".join(head)
    for needle in ("SecLists", "MIT", "Metasploit", "BSD-3-Clause", "DefaultCreds", "mirai_pairs.json",
                   "backdoor_catalogue.json", "hack-gpon.org"):
        assert needle in text


def test_parsers():
    parsed = parse_passwd("root:x:0:0:root:/root:/bin/sh\n# comment\n+::::::\nbroken\n")
    assert [r[1][0] for r in parsed.rows] == ["root"] and parsed.bad == [4]


# -- report section ------------------------------------------------------------------------------------


def test_accounts_section_shape_and_order(tmp_path):
    _out, accounts = run(tmp_path, {
        "/etc/passwd": passwd("b:x:1:1::/:/bin/false", "a:x:2:2::/:/bin/false"),
        "/etc/shadow": shadow(_crypt("5up", "$1$$")),
        "/www/.htpasswd": "web:admin\n",
    })
    assert [(a["source"], a["name"]) for a in accounts] == [
        ("/etc/passwd", "root"), ("/etc/passwd", "b"), ("/etc/passwd", "a"), ("/www/.htpasswd", "web"),
    ]
    for a in accounts:
        assert set(a) == CONTRACT | EXTRA
        assert re.fullmatch(r"empty|locked|cracked|plaintext|hash:[A-Za-z0-9_-]+", a["password_state"])
        assert a["container"] == ["test.img", "squashfs@0x0"]
    assert accounts[0]["password_hint"] == "5**" and accounts[3]["password_hint"] == "a****"
    assert accounts[1]["password_hint"] is None and accounts[1]["finding"] is None


# -- the real images -----------------------------------------------------------------------------------


@pytest.fixture
def only_accounts(monkeypatch):
    monkeypatch.setattr(veracity.checks.registry, "CHECKS", (AccountsCheck(),))


def _acc(report):
    return [(f["rule"], f["path"], f["line"]) for f in report["findings"] if f["rule"].startswith("VER-ACC-")]


@pytest.mark.corpus
def test_alcatel_ontuser_and_root_default_passwords(run_scan, only_accounts):
    report = run_scan(corpus("firmware/alcatel-g010s-a-mtd4.jffs2"))
    assert sorted(_acc(report)) == [
        ("VER-ACC-001", "/etc/passwd", 2),   # ONTUSER uid 0
        ("VER-ACC-004", "/etc/shadow", 1),   # root: md5crypt of a Mirai-listed default
        ("VER-ACC-004", "/etc/shadow", 2),   # ONTUSER: sha512crypt of the documented SUGAR2A041
        ("VER-ACC-006", "/etc/shadow", 1),   # md5crypt
    ]
    ev = {f["line"]: f["evidence"] for f in findings(report, "VER-ACC-004")}
    assert "md5crypt hash matches the known default password 12****" in ev[1]
    assert "sha512crypt hash matches the known default password SU********" in ev[2]
    assert "SUGAR2A041" not in report.__repr__() and "123456" not in ev[1]
    main = [a for a in report["accounts"] if a["source"] == "/etc/passwd"]
    assert [(a["name"], a["uid"], a["password_state"], a["login"], a["password_hint"]) for a in main] == [
        ("root", 0, "cracked", True, "12****"), ("ONTUSER", 0, "cracked", True, "SU********"),
        ("daemon", 1, "locked", False, None), ("ftp", 55, "locked", False, None),
        ("network", 101, "locked", False, None), ("nobody", 65534, "locked", False, None),
    ]
    # the overlay's passwd-/shadow- copies: root locked there ('x' in shadow-), ONTUSER the same credential
    copy = {a["name"]: a for a in report["accounts"] if a["source"] == "/etc/passwd-"}
    assert copy["root"]["password_state"] == "locked"
    assert copy["ONTUSER"]["finding"] == main[1]["finding"]


@pytest.mark.corpus
def test_tplink_root_and_admin_share_the_5up_default(run_scan, only_accounts):
    report = run_scan(corpus("firmware/tplink-mr3020v1-3.17.2.bin"))
    assert sorted(_acc(report)) == [
        ("VER-ACC-001", "/etc/passwd", 2),   # Admin uid 0
        ("VER-ACC-002", "/etc/passwd", 3), ("VER-ACC-002", "/etc/passwd", 4), ("VER-ACC-002", "/etc/passwd", 5),
        ("VER-ACC-002", "/etc/passwd", 12), ("VER-ACC-002", "/etc/passwd", 13),  # bin daemon adm nobody ap71
        ("VER-ACC-003", "/etc/shadow", 3), ("VER-ACC-003", "/etc/shadow", 4), ("VER-ACC-003", "/etc/shadow", 5),
        ("VER-ACC-003", "/etc/shadow", 12), ("VER-ACC-003", "/etc/shadow", 13),
        ("VER-ACC-004", "/etc/shadow", 1), ("VER-ACC-004", "/etc/shadow", 2),  # root and Admin: 5up
        ("VER-ACC-006", "/etc/shadow", 1),
    ]
    for f in findings(report, "VER-ACC-004"):
        assert "md5crypt hash matches the known default password 5**" in f["evidence"] and f["severity"] == "critical"
    states = {a["name"]: (a["password_state"], a["password_hint"]) for a in report["accounts"]}
    assert states["root"] == states["Admin"] == ("cracked", "5**")
    assert states["ap71"] == ("empty", None) and states["operator"] == ("locked", None)
    # the 3G dial-up profiles (/etc/3gISP) are carrier data, not accounts
    assert {a["source"] for a in report["accounts"]} == {"/etc/passwd"}


@pytest.mark.corpus
def test_broadcom_accounts_are_created_at_boot(run_scan, only_accounts):
    report = run_scan(corpus("firmware/broadcom-bcm63xx-squashfs-v2.bin"))
    assert sorted(_acc(report)) == [("VER-ACC-007", "/etc/passwd", None), ("VER-ACC-009", "/bin/cfm", None)]
    boot = findings(report, "VER-ACC-009")[0]
    assert "root::0:root,admin,support,user" in boot["evidence"] and boot["offset"] is not None
    assert "/var/passwd" in findings(report, "VER-ACC-007")[0]["evidence"]
    assert report["accounts"] == []


@pytest.mark.corpus
def test_reports_are_deterministic(run_scan, only_accounts):
    first = run_scan(corpus("firmware/alcatel-g010s-a-mtd4.jffs2"))
    kb_mod._MEMO.clear()
    second = run_scan(corpus("firmware/alcatel-g010s-a-mtd4.jffs2"))
    assert first["findings"] == second["findings"] and first["accounts"] == second["accounts"]
