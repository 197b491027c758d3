"""Where a tree's boot starts: init's table, rc directories, OpenWrt's procd, systemd units, cron tables.

:func:`walk` follows, in this order, and only what the tree holds:

1. ``/etc/inittab`` (busybox and SysV formats), or busybox init's built-in table when ``/sbin/init`` is
   busybox and there is no inittab, or ``/etc/init.d/rcS`` alone when neither says more;
2. SysV ``rcN.d`` start links of the default runlevel, and OpenWrt ``/etc/rc.d/S??name`` links (procd runs
   them with ``boot``) that the walk did not already reach;
3. systemd units enabled through ``*.wants/`` and ``*.requires/`` links (services and sockets), and
   ``/etc/rc.local`` where systemd's rc-local runs it;
4. the inetd and xinetd configurations of superservers started by any of the above;
5. cron tables.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import replace

from . import shell
from .interp import _TTY, DAEMON_ACTIONS, DEFAULT_PATH, UNK, Env, Frame, Launch, Problem, Walker, _port_number

INITTAB_ACTIONS = DAEMON_ACTIONS | {"sysinit", "wait", "boot", "bootwait"}
NOT_AT_BOOT = {"shutdown", "ctrlaltdel", "restart", "powerfail", "powerwait", "powerfailnow", "powerokwait",
               "kbrequest", "off", "ondemand", "initdefault"}
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
NOT_AT_BOOT_TARGETS = {"rescue.target", "emergency.target", "shutdown.target", "halt.target", "poweroff.target",
                       "reboot.target", "kexec.target", "final.target", "umount.target", "hibernate.target",
                       "suspend.target", "sleep.target", "hybrid-sleep.target", "suspend-then-hibernate.target",
                       "initrd.target", "initrd-switch-root.target", "initrd-fs.target", "initrd-root-fs.target",
                       "printer.target", "smartcard.target", "sound.target", "bluetooth.target",
                       "system-update.target", "ctrl-alt-del.target", "exit.target"}
CRONTABS = ("/etc/crontab", "/etc/cron.d/*", "/etc/crontabs/*", "/var/spool/cron/crontabs/*", "/var/spool/cron/*")
_RC_DIR = re.compile(r"^/etc/(?:rc\.d/)?rc([0-9S])\.d$")


_BOOT_TOPS = frozenset({"etc", "sbin", "lib", "usr", "run", "var"})
"""The top-level directories every boot file below lies under (inittab, rc scripts, init, unit directories,
crontabs)."""


def entry_points(walker: Walker) -> list[str]:
    """The boot files this tree holds (empty: the tree does not say how it boots)."""
    tree = walker.tree
    if not any(path.split("/", 2)[1] in _BOOT_TOPS for path in tree.nodes if path != "/"):
        return []  # most trees of an image are a decompressed file or a package: answered without a look-up
    found = []
    for path in ("/etc/inittab", "/etc/init.d/rcS", "/etc/rc.local", "/etc/rc.d/rc.local"):
        node = tree.resolve(path)
        if node is not None and node.kind == "file":
            found.append(path)
    if not found and _busybox_init(walker):
        found.append("/sbin/init")
    for path, node in tree.nodes.items():
        if node.kind == "whiteout":
            continue
        parent = posixpath.dirname(path)
        if (parent == "/etc/rc.d" and posixpath.basename(path).startswith("S")) or _RC_DIR.match(parent) or parent.endswith((".wants", ".requires")) and posixpath.dirname(parent) in UNIT_DIRS:
            found.append(path)
    for pattern in CRONTABS:
        found.extend(i.node.path for i in walker.inv.glob(pattern, tree))
    return found


def walk(walker: Walker) -> None:
    tree = walker.tree
    runlevel: str | None = None
    sysv = True
    """Whether init runs rcN.d start links itself (SysV init, or systemd's generator)."""
    inittab = tree.resolve("/etc/inittab")
    if inittab is not None and inittab.kind == "file":
        found = walker_guarded(walker, inittab_entries, "/etc/inittab")
        runlevel, sysv = found if found else (None, False)
    elif _busybox_init(walker):
        sysv = False
        walker.guarded(busybox_default_inittab, "/sbin/init", walker)
    else:
        # Neither init's table nor busybox init: start from the first scripts init would run.
        for path in ("/etc/init.d/rcS", "/etc/rc.d/rc.local", "/etc/rc.local"):
            node = tree.resolve(path)
            if node is not None and node.kind == "file" and node.path not in walker.visited:
                fr = walker.frame(path, chain=(), how="script")
                walker.guarded(lambda _p, path=path, fr=fr: walker.run(["/bin/sh", path], fr, 0), path)
    if sysv:
        walker.guarded(sysv_runlevel, "/etc", walker, runlevel)
    if _openwrt(walker):
        walker.guarded(openwrt_rc_d, "/etc/rc.d", walker)
    walker.guarded(systemd, "/etc/systemd", walker)
    done_confs: set[str] = set()
    while walker.inetd_confs:
        program, conf, fr, _line = walker.inetd_confs.pop(0)
        if conf in done_confs:
            continue
        done_confs.add(conf)
        if program == "inetd":
            walker.guarded(inetd_conf, conf, walker, fr)
        else:
            walker.guarded(xinetd_conf, conf, walker, fr)
    walker.guarded(cron, "/etc/crontab", walker)


def walker_guarded(walker: Walker, fn, path: str):
    result: list = []
    walker.guarded(lambda p: result.append(fn(walker, p)), path)
    return result[0] if result else None


def _busybox_init(walker: Walker) -> bool:
    node = walker.tree.resolve("/sbin/init")
    if node is None:
        return False
    raw = walker.tree.get("/sbin/init")
    names = [node.path, raw.link_target if raw is not None and raw.link_target else ""]
    return any(posixpath.basename(n).startswith("busybox") for n in names)


def _openwrt(walker: Walker) -> bool:
    """procd or rc.common: OpenWrt runs the /etc/rc.d/S??name links itself."""
    return any(walker.tree.resolve(p) is not None for p in ("/sbin/procd", "/etc/rc.common"))


def _systemd_init(walker: Walker) -> bool:
    """/sbin/init is systemd (followed link by link, so a link into a part of the tree not shipped still says)."""
    path = "/sbin/init"
    for _ in range(8):
        parent = walker.tree.resolve(posixpath.dirname(path))
        if parent is None:
            break
        node = walker.tree.get(posixpath.join(parent.path, posixpath.basename(path)))
        if node is None or node.kind != "symlink" or not node.link_target:
            break
        path = posixpath.normpath(posixpath.join(parent.path, node.link_target))
    if posixpath.basename(path) == "systemd":
        return True
    return any(walker.tree.resolve(p) is not None for p in ("/lib/systemd/systemd", "/usr/lib/systemd/systemd"))


def _lines_script(text: str) -> shell.Script:
    return shell.Script([], text.splitlines())


# -- init ---------------------------------------------------------------------------------------------------


def inittab_entries(walker: Walker, path: str) -> tuple[str | None, bool]:
    """Walk every boot-time entry of an inittab. Returns the default runlevel if it names one, and whether
    the table is SysV's (runlevels used; busybox ignores them and never runs rcN.d itself)."""
    text = walker.text(path)
    if text is None:
        return None, False
    lines = _lines_script(text)
    entries = []
    default: str | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.split(":", 3)
        if len(parts) != 4:
            walker.problem(path, lineno, "inittab line is not id:runlevels:action:process")
            continue
        ident, levels, action, process = (p.strip() for p in parts)
        if action == "initdefault":
            default = levels[:1] or None
            continue
        entries.append((lineno, ident, levels, action, process))
    for lineno, ident, levels, action, process in entries:
        if action in NOT_AT_BOOT:
            continue
        if action not in INITTAB_ACTIONS:
            walker.problem(path, lineno, f"unknown inittab action {action!r}")
            continue
        if levels and not _at_default_level(levels, default):
            continue
        # busybox: the first field names the terminal (empty: the console); SysV: an id, and the process
        # runs on the console.
        m = _TTY.match(ident)
        tty = m.group(1) if m else "console"
        fr = walker.frame(path, script=lines, how=f"inittab:{action}", daemon=action in DAEMON_ACTIONS, tty=tty)
        _run_process(walker, process, fr, lineno)
    sysv = default is not None or any(levels for _, _, levels, _, _ in entries)
    return default, sysv


def _run_process(walker: Walker, process: str, fr: Frame, lineno: int) -> None:
    login = process.startswith("-")
    if login:
        process = process[1:]
    if any(c in process for c in "~`!$^&*()=|\\{}[];\"'<>?"):
        walker.run_string(process, fr, lineno)
        return
    argv = process.split()
    if argv:
        walker.run(argv, fr, lineno, login=login)


def _at_default_level(levels: str, default: str | None) -> bool:
    if default is not None:
        return default in levels or "S" in levels.upper()
    return any(c in "2345" for c in levels) or "S" in levels.upper()


def busybox_default_inittab(path: str, walker: Walker) -> None:
    """busybox init without /etc/inittab: rcS at sysinit, then a login shell (askfirst) on the console, and
    on tty2-4 where the image has those devices."""
    lines = shell.Script([], ["(busybox init built-in table, no /etc/inittab)"])
    fr = walker.frame(path, script=lines, how="inittab:sysinit", tty="console")
    walker.run(["/etc/init.d/rcS"], fr, 1)
    ttys = ["console"] + [t for t in ("tty2", "tty3", "tty4") if walker.tree.get(f"/dev/{t}") is not None]
    for tty in ttys:
        fr = walker.frame(path, script=lines, how="inittab:askfirst", daemon=True, tty=tty)
        walker.run(["/bin/sh"], fr, 1, login=True)


def sysv_runlevel(path: str, walker: Walker, runlevel: str | None) -> None:
    """Start links of rcS.d and of the default runlevel, for scripts the walk has not reached already."""
    tree = walker.tree
    dirs: dict[str, str] = {}
    for p, node in tree.nodes.items():
        m = _RC_DIR.match(p)
        if m and node.kind in ("dir", "symlink"):
            target = tree.resolve(p)
            if target is not None and target.kind == "dir":
                dirs.setdefault(m.group(1), p)
    if not dirs:
        return
    levels = ["S"]
    if runlevel and runlevel in dirs:
        levels.append(runlevel)
    elif not runlevel:
        levels.extend(next(([lv] for lv in ("3", "2", "5") if lv in dirs), []))
    systemd_init = _systemd_init(walker)
    for level in levels:
        d = dirs.get(level)
        if d is None:
            continue
        for link in (p for p in walker.children(d) if posixpath.basename(p).startswith("S")):
            name = re.sub(r"^S\d*", "", posixpath.basename(link))
            if systemd_init and _find_unit(walker, f"{name}.service") is not None:
                continue  # systemd's sysv generator skips scripts that have a native unit
            _start_link(walker, link, "start")


def openwrt_rc_d(path: str, walker: Walker) -> None:
    """OpenWrt: procd runs /etc/rc.d/S??name with ``boot``; links the walk has not reached are run here."""
    tree = walker.tree
    for link in (p for p in walker.children("/etc/rc.d")
                 if posixpath.basename(p).startswith("S") and tree.nodes[p].kind != "whiteout"):
        _start_link(walker, link, "boot")


def _start_link(walker: Walker, link: str, action: str) -> None:
    node = walker.tree.resolve(link)
    if node is None or node.kind != "file" or node.path in walker.visited:
        return
    fr = walker.frame(link, chain=(), how="script")
    walker.run([link, action], fr, 0)


# -- systemd ------------------------------------------------------------------------------------------------


def parse_unit(text: str) -> dict[str, list[tuple[str, str, int]]]:
    sections: dict[str, list[tuple[str, str, int]]] = {}
    current = ""
    pending = ""
    pending_line = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if pending:
            line = pending + " " + line
            lineno = pending_line
            pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending, pending_line = line[:-1], lineno
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        key, eq, value = line.partition("=")
        if eq:
            sections.setdefault(current, []).append((key.strip(), value.strip(), lineno))
    return sections


def systemd(path: str, walker: Walker) -> None:
    tree = walker.tree
    masked = set()
    for d in UNIT_DIRS:
        for p in walker.children(d):
            node = tree.nodes[p]
            if node.kind == "symlink" and node.link_target == "/dev/null":
                masked.add(posixpath.basename(p))
    wanted: list[tuple[str, str]] = []
    for p in sorted(tree.nodes):
        parent = posixpath.dirname(p)
        if not parent.endswith((".wants", ".requires")) or posixpath.dirname(parent) not in UNIT_DIRS:
            continue
        owner = posixpath.basename(parent).rsplit(".", 1)[0]
        if owner in NOT_AT_BOOT_TARGETS:
            continue
        wanted.append((p, posixpath.basename(p)))
    seen: set[str] = set()
    for link, unit in wanted:
        if unit in seen or unit in masked:
            continue
        seen.add(unit)
        if unit.endswith(".service"):
            _service_unit(walker, unit, (link,), ())
        elif unit.endswith(".socket"):
            _socket_unit(walker, unit, link)
    if "rc-local.service" in {u for _, u in wanted} or any(d for d in UNIT_DIRS if tree.resolve(d + "/rc-local.service")):
        local = tree.resolve("/etc/rc.local")
        if local is not None and local.kind == "file" and local.mode & 0o111 and local.path not in walker.visited:
            fr = walker.frame("/etc/rc.local", chain=(), how="script")
            walker.run(["/etc/rc.local", "start"], fr, 0)


def _find_unit(walker: Walker, unit: str) -> tuple[str, str | None] | None:
    """(path, instance) of a unit's file; templates ``a@b.service`` come from ``a@.service``."""
    instance = None
    name = unit
    if "@" in unit:
        stem, _, rest = unit.partition("@")
        inst, _dot, suffix = rest.rpartition(".")
        if inst:
            instance = inst
            name = f"{stem}@.{suffix}"
    for d in UNIT_DIRS:
        for candidate in (f"{d}/{unit}", f"{d}/{name}"):
            node = walker.tree.resolve(candidate)
            if node is not None and node.kind == "file":
                return node.path, instance
    return None


def _unit_sections(walker: Walker, path: str, unit: str) -> dict[str, list[tuple[str, str, int, str]]] | None:
    """The unit's settings, then those of its drop-ins (``unit.d/*.conf``), each with its file and line."""
    text = walker.text(path)
    if text is None:
        return None
    sections: dict[str, list[tuple[str, str, int, str]]] = {}
    files = [(path, text)]
    names = [unit]
    if "@" in unit:
        names.append(unit.split("@")[0] + "@." + unit.rsplit(".", 1)[1])
    for d in UNIT_DIRS:
        for name in names:
            for p in walker.children(f"{d}/{name}.d"):
                if p.endswith(".conf"):
                    extra = walker.text(p)
                    if extra:
                        files.append((p, extra))
    for file, body in files:
        for sec, items in parse_unit(body).items():
            sections.setdefault(sec, []).extend((k, v, line, file) for k, v, line in items)
    return sections


def _specifiers(value: str, unit: str, instance: str | None) -> str:
    prefix = unit.split("@")[0].rsplit(".", 1)[0]
    table = {"%i": instance or "", "%I": instance or "", "%n": unit, "%N": unit.rsplit(".", 1)[0], "%p": prefix,
             "%P": prefix, "%%": "%", "%h": "/root", "%u": "root", "%t": "/run", "%S": "/var/lib", "%C": "/var/cache",
             "%L": "/var/log", "%E": "/etc"}
    return re.sub(r"%[%iInNpPhutSCLE]", lambda m: table[m.group()], value)


def _service_unit(walker: Walker, unit: str, chain: tuple[str, ...], ports: tuple[tuple[str, int], ...]) -> None:
    found = _find_unit(walker, unit)
    if found is None:
        if ports:
            walker.launches.append(Launch(unit.split("@")[0].rsplit(".", 1)[0], None, None, (), chain, None, "",
                                          "systemd-socket", daemon=True, ports=ports))
        return
    path, instance = found
    sections = _unit_sections(walker, path, unit)
    if sections is None:
        return
    service = sections.get("Service", [])
    kind = next((v for k, v, _, _ in reversed(service) if k == "Type"), "simple")
    env_vars: dict[str, str] = {}
    opaque = False
    for k, v, _, _ in service:
        if k == "Environment":
            try:
                for item in shlex.split(v):
                    name, eq, value = item.partition("=")
                    if eq:
                        env_vars[name] = value
            except ValueError:
                pass
        elif k == "EnvironmentFile":
            env_file = _specifiers(v.lstrip("-"), unit, instance)
            text = walker.text(env_file) if walker.tree.resolve(env_file) is not None else None
            if text is None:
                opaque = opaque or not v.startswith("-") or env_file.startswith(("/run", "/var", "/tmp"))
                continue
            for raw in text.splitlines():
                m = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)", raw)
                if m and not raw.lstrip().startswith("#"):
                    env_vars[m.group(1)] = m.group(2).strip().strip("\"'")
    execs: list[tuple[str, int, str]] = []
    for k, v, line, file in service:
        if k == "ExecStart":
            if not v:
                execs = []
            else:
                execs.append((v, line, file))
    chain = chain + (path,) if chain[-1:] != (path,) else chain
    tty = instance if instance and _TTY.match(instance) else None
    for value, line, file in execs:
        script = _lines_script(walker.text(file) or "")
        value = _specifiers(value, unit, instance).lstrip("-@:+!")
        try:
            argv = shlex.split(value)
        except ValueError:
            walker.problem(file, line, "ExecStart= has unbalanced quotes")
            continue
        expanded: list[str] = []
        for a in argv:
            m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", a)
            if m:  # $VAR unbraced: split into words; an empty value adds none
                value = env_vars.get(m.group(1), UNK if opaque else "")
                expanded.extend(value.split() if value != UNK else [UNK])
            else:
                expanded.append(_unit_env(a, env_vars, opaque))
        argv = expanded
        env = Env({"PATH": DEFAULT_PATH, **env_vars}, {"PATH", *env_vars}, opaque=opaque)
        fr = walker.frame(file, chain=chain + ((file,) if file != path else ()), script=script, env=env,
                          how="systemd-socket" if ports else "systemd", daemon=kind != "oneshot", tty=tty, ports=ports)
        walker.run(argv, fr, line)


def _unit_env(arg: str, env: dict[str, str], opaque: bool) -> str:
    def sub(m: re.Match) -> str:
        return env.get(m.group(1) or m.group(2), UNK if opaque else "")

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", sub, arg)


def _socket_unit(walker: Walker, unit: str, link: str) -> None:
    found = _find_unit(walker, unit)
    if found is None:
        return
    path, _ = found
    sections = _unit_sections(walker, path, unit)
    if sections is None:
        return
    sock = sections.get("Socket", [])
    ports: list[tuple[str, int]] = []
    accept = False
    service = None
    for k, v, _, _ in sock:
        if k in ("ListenStream", "ListenDatagram"):
            port = _port_number(v) if not v.startswith(("/", "@", "vsock:")) else None
            if port is not None:
                ports.append(("tcp" if k == "ListenStream" else "udp", port))
        elif k == "Accept":
            accept = v.lower() in ("yes", "true", "1", "on")
        elif k == "Service":
            service = v
    stem = unit.rsplit(".", 1)[0]
    service = service or (f"{stem}@.service" if accept else f"{stem}.service")
    _service_unit(walker, service, (link, path), tuple(ports))


# -- superservers -------------------------------------------------------------------------------------------


def _services_table(walker: Walker, builtin: dict[str, list[str]]) -> dict[tuple[str, str], int]:
    table: dict[tuple[str, str], int] = {}
    for name, entries in builtin.items():
        for e in entries:
            port, _, proto = e.partition("/")
            table[(name, proto)] = int(port)
    text = walker.text("/etc/services") if walker.tree.resolve("/etc/services") else None
    for raw in (text or "").splitlines():
        fields = raw.split("#", 1)[0].split()
        if len(fields) >= 2 and "/" in fields[1]:
            port, _, proto = fields[1].partition("/")
            if port.isdigit():
                for name in [fields[0], *fields[2:]]:
                    table[(name, proto)] = int(port)
    return table


def _lookup_port(walker: Walker, service: str, proto: str) -> int | None:
    if service.isdigit():
        return int(service) if 0 < int(service) < 65536 else None
    table = getattr(walker, "_port_table", None)
    if table is None:
        table = _services_table(walker, walker.builtin_ports)
        walker._port_table = table  # type: ignore[attr-defined]
    return table.get((service, proto))


def inetd_conf(path: str, walker: Walker, started: Frame) -> None:
    """Each active line of an inetd.conf: ``service socktype proto wait user server [argv0 args...]``."""
    node = walker.tree.resolve(path)
    if node is None or node.kind != "file":
        return
    text = walker.text(node.path)
    if text is None:
        return
    lines = _lines_script(text)
    chain = started.chain + (path,)
    for lineno, raw in enumerate(text.splitlines(), 1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        fields = s.split()
        if len(fields) < 6:
            walker.problem(path, lineno, "inetd.conf line has fewer than 6 fields")
            continue
        service, _socktype, proto, _wait, _user, server = fields[:6]
        args = fields[6:]
        service = service.rsplit(":", 1)[-1]
        base_proto = proto.rstrip("46")
        base_proto = base_proto.removeprefix("rpc/")
        port = _lookup_port(walker, service, base_proto) if base_proto in ("tcp", "udp") else None
        ports = ((base_proto, port),) if port is not None else ()
        if port is None and base_proto in ("tcp", "udp"):
            walker.problem(path, lineno, f"inetd service {service!r} has no port in /etc/services")
        fr = walker.frame(path, chain=chain, script=lines, how="inetd", daemon=True, ports=ports,
                          env=Env({"PATH": DEFAULT_PATH}, {"PATH"}))
        fr = replace(fr, cond=started.cond)
        if server == "internal":
            walker.launches.append(Launch(service, None, None, (), chain, lineno, s[:300], "inetd", daemon=True,
                                          conditional=started.cond > 0, ports=ports))
            continue
        argv = [server, *args[1:]]
        if posixpath.basename(server) == "tcpd" and args:
            real = args[0]
            if not real.startswith("/"):
                real = posixpath.join(posixpath.dirname(server), real)
            argv = [real, *args[1:]]
        elif args and posixpath.basename(server) in ("busybox",):
            argv = [server, *args]
        walker.run(argv, fr, lineno)


def xinetd_conf(path: str, walker: Walker, started: Frame) -> None:
    files = [path]
    seen: set[str] = set()
    chain0 = started.chain
    while files:
        f = files.pop(0)
        node = walker.tree.resolve(f)
        if node is None or node.kind != "file" or node.path in seen:
            continue
        seen.add(node.path)
        text = walker.text(node.path)
        if text is None:
            continue
        for lineno, raw in enumerate(text.splitlines(), 1):
            m = re.match(r"\s*includedir\s+(\S+)", raw)
            if m:
                d = m.group(1).rstrip("/")
                files.extend(p for p in walker.children(d)
                             if "." not in posixpath.basename(p) and not p.endswith("~"))
            m = re.match(r"\s*include\s+(\S+)", raw)
            if m:
                files.append(m.group(1))
        for block in _xinetd_blocks(text):
            _xinetd_service(walker, node.path, chain0 + (node.path,), _lines_script(text), block, started)


def _xinetd_blocks(text: str) -> list[tuple[str, int, dict[str, str]]]:
    blocks: list[tuple[str, int, dict[str, str]]] = []
    name: str | None = None
    start = 0
    attrs: dict[str, str] = {}
    inside = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        s = raw.split("#", 1)[0].strip()
        if not s:
            continue
        m = re.match(r"service\s+(\S+)", s)
        if m and not inside:
            name, start, attrs = m.group(1), lineno, {}
            if s.endswith("{"):
                inside = True
            continue
        if s == "{" and name is not None:
            inside = True
            continue
        if s == "}" and inside:
            if name is not None:
                blocks.append((name, start, attrs))
            inside, name = False, None
            continue
        if inside:
            m = re.match(r"([A-Za-z_]+)\s*([+-]?=)\s*(.*)", s)
            if m:
                attrs[m.group(1)] = m.group(3).strip()
    return blocks


def _xinetd_service(walker: Walker, path: str, chain: tuple[str, ...], lines: shell.Script,
                    block: tuple[str, int, dict[str, str]], started: Frame) -> None:
    name, lineno, attrs = block
    if attrs.get("disable", "no").lower() == "yes":
        return
    socktype = attrs.get("socket_type", "stream")
    proto = attrs.get("protocol", "tcp" if socktype == "stream" else "udp").rstrip("46")
    port = _port_number(attrs["port"]) if "port" in attrs else _lookup_port(walker, name, proto)
    ports = ((proto, port),) if port is not None and proto in ("tcp", "udp") else ()
    if "INTERNAL" in attrs.get("type", "").upper() or "server" not in attrs:
        walker.launches.append(Launch(name, None, None, (), chain, lineno, lines.text(lineno), "xinetd",
                                      daemon=True, conditional=started.cond > 0, ports=ports))
        return
    argv = [attrs["server"], *attrs.get("server_args", "").split()]
    fr = walker.frame(path, chain=chain, script=lines, how="xinetd", daemon=True, ports=ports)
    walker.run(argv, replace(fr, cond=started.cond), lineno)


# -- cron ---------------------------------------------------------------------------------------------------


def cron(path: str, walker: Walker) -> None:
    seen: set[str] = set()
    for pattern in CRONTABS:
        for item in walker.inv.glob(pattern, walker.tree):
            if item.node.path in seen:
                continue
            seen.add(item.node.path)
            _crontab(walker, item.node.path, pattern in ("/etc/crontab", "/etc/cron.d/*"))


def _crontab(walker: Walker, path: str, system: bool) -> None:
    text = walker.text(path)
    if text is None:
        return
    lines = _lines_script(text)
    env = Env({"PATH": DEFAULT_PATH, "SHELL": "/bin/sh"}, {"PATH"})
    for lineno, raw in enumerate(text.splitlines(), 1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)", s)
        if m and not s.startswith("@"):
            env.vars[m.group(1)] = m.group(2).strip().strip("\"'")
            continue
        if s.startswith("@"):
            parts = s.split(None, 2 if system else 1)
            command = parts[-1] if len(parts) == (3 if system else 2) else ""
        else:
            parts = s.split(None, 6 if system else 5)
            command = parts[-1] if len(parts) == (7 if system else 6) else ""
        if not command:
            walker.problem(path, lineno, "crontab line without a command")
            continue
        command = re.split(r"(?<!\\)%", command, maxsplit=1)[0]
        fr = walker.frame(path, script=lines, env=Env(dict(env.vars), set(env.exported)), how="cron")
        walker.run_string(command, fr, lineno)


__all__ = ["Problem", "entry_points", "parse_unit", "walk"]
