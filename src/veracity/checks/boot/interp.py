"""Walk a tree's boot path statically and record every program it starts.

:class:`Walker` reads the shell syntax trees of :mod:`.shell` the way the device's ``sh`` would run them,
without running anything: variables assigned in the script are tracked, unknown values (command
substitutions, values read from NVRAM or UCI at run time) become :data:`UNK`, ``[ -x /path ]`` tests are
answered from the tree where the tree can answer them, ``for s in /etc/init.d/S*`` loops expand against the
tree in sorted order, and branches whose condition cannot be decided are all walked, marked conditional.
Scripts, sourced files, functions, OpenWrt ``rc.common``/procd helpers, ``start-stop-daemon`` and
superservers (inetd, xinetd, tcpsvd/udpsvd) are followed; loops between scripts and excessive depth are
cut. Each program started is a :class:`Launch`; :mod:`.daemons` decides which launches are services.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from ...inventory import Inventory, Item
from ...tree import Node, Tree
from . import shell

UNK = "\x00"
"""Stands for a value the walk cannot know (output of a command, a configuration value)."""

MAX_DEPTH = 24
"""Nested script, source and function calls."""
MAX_STEPS = 100_000
"""Simple commands walked per tree; beyond it the walk stops and says so."""
MAX_SCRIPT = 512 * 1024
"""Larger shell scripts are not parsed (reported): boot scripts are a few KiB, a hostile one could be MiBs."""
MAX_LOOP = 256
"""Values one ``for`` loop iterates over."""

DEFAULT_PATH = "/sbin:/usr/sbin:/bin:/usr/bin:/usr/local/sbin:/usr/local/bin"
RUNTIME_DIRS = ("/tmp", "/var", "/run", "/proc", "/sys", "/dev", "/mnt", "/media", "/data", "/userdata",
                "/overlay", "/jffs", "/config", "/etc/config/.runtime")
"""Paths created or mounted at run time: a test on them cannot be answered from the image."""
DAEMON_ACTIONS = {"respawn", "once", "askfirst", "askconsole", "respawnlate", "askconsolelate"}
_TTY = re.compile(r"^(?:/dev/)?(tty[A-Za-z0-9_.]*|console|hvc\d+|xvc\d+|ttyS\d+|pts/\d+|ttyp\d+)$")

_WRAPPERS = {"exec", "nohup", "setsid", "builtin", "time", "stdbuf", "ionice", "taskset", "chrt", "nice", "env",
             "timeout", "chroot", "sudo", "doas", "flock", "runuser", "chpst", "softlimit", "setuidgid",
             "daemonize", "daemon", "start-stop-daemon", "service_start", "command", "su"}
_PREFER_BUILTIN = {"config_foreach", "config_get", "config_get_bool", "config_load", "uci_load_validate",
                   "service_start", "rc_procd"}
"""OpenWrt helpers emulated here even when /lib/functions.sh (sourced) defines them: its versions read UCI."""
_NOOP = {":", "true", "false", "test", "[", "[[", "echo", "printf", "cd", "trap", "umask", "ulimit", "wait",
         "alias", "unalias", "hash", "type", "getopts", "let", "shopt", "pushd", "popd", "logger", "sleep",
         "usleep", "config_load", "config_set", "uci_set", "uci_get", "uci_commit", "uci_add", "uci_remove",
         "json_init", "json_load", "json_add_string", "json_add_int", "json_add_boolean", "json_add_object",
         "json_close_object", "json_add_array", "json_close_array", "json_get_var", "json_select", "json_dump",
         "include", "append", "list_contains", "procd_add_jail", "procd_add_mdns", "procd_open_trigger",
         "procd_close_trigger", "procd_add_reload_trigger", "procd_add_interface_trigger",
         "procd_add_validation", "procd_open_validate", "procd_close_validate", "procd_add_raw_trigger",
         "procd_set_param_respawn", "procd_kill", "service_stop", "service_kill", "killall", "kill", "pkill",
         "ubus", "network_get_device", "network_get_ipaddr",
         "network_get_subnet", "network_is_up", "network_get_physdev"}


@dataclass(frozen=True, slots=True)
class Launch:
    """One program the boot path starts."""

    name: str
    """Program name as the device sees it: a busybox applet is named after the applet."""
    binary: str | None
    """Absolute path as started (after the PATH search), or None for built-in superserver services."""
    target: str | None
    """The file that path resolves to in the tree (``/bin/busybox`` for an applet)."""
    args: tuple[str, ...]
    chain: tuple[str, ...]
    line: int | None
    evidence: str
    how: str
    """script, inittab:<action>, procd, systemd, systemd-socket, inetd, xinetd, tcpsvd, udpsvd, cron, ..."""
    daemon: bool = False
    """Started the way daemons are: ``&``, respawn, start-stop-daemon, procd, a unit's ExecStart, inetd."""
    conditional: bool = False
    tty: str | None = None
    ports: tuple[tuple[str, int], ...] = ()
    """Ports given by a superserver or a socket unit."""
    login_shell: bool = False
    busybox: bool = False


@dataclass(slots=True)
class Env:
    vars: dict[str, str] = field(default_factory=dict)
    exported: set[str] = field(default_factory=set)
    funcs: dict[str, tuple[shell.FuncDef, str, shell.Script]] = field(default_factory=dict)
    positional: list[str] = field(default_factory=list)
    procd: dict | None = None
    rc_common: bool = False
    opaque: bool = False
    """Something the walk could not read may have set variables (a file sourced from /tmp, an ``eval`` of
    unknown text): a variable never assigned is then unknown rather than empty."""

    def child(self) -> Env:
        """The environment a script started from this one inherits: exported variables only."""
        vars_ = {k: v for k, v in self.vars.items() if k in self.exported}
        return Env(vars_, set(self.exported), opaque=self.opaque)

    def copy(self) -> Env:
        return Env(dict(self.vars), set(self.exported), dict(self.funcs), list(self.positional), None, self.rc_common,
                   self.opaque)


@dataclass(frozen=True, slots=True)
class Frame:
    path: str
    chain: tuple[str, ...]
    script: shell.Script | None
    env: Env
    cond: int = 0
    """How many branches the walk could not decide lie between the boot entry and this point."""
    sbase: int = 0
    """``cond`` where the current script was entered: an ``exit`` at that level certainly runs."""
    fbase: int = 0
    """``cond`` where the current function or sourced file was entered (for ``return``)."""
    lbase: int = -1
    """``cond`` where the current loop was entered (for ``break`` and ``continue``); -1 outside loops."""
    depth: int = 0
    stack: tuple[str, ...] = ()
    how: str = "script"
    daemon: bool = False
    tty: str | None = None
    ports: tuple[tuple[str, int], ...] = ()
    exec_daemon: bool = False
    """The script was started as a daemon (respawn, ``&``, start-stop-daemon): what it ``exec``s is one."""
    fixed_line: int | None = None
    """Commands parsed from a string (``sh -c``, a crontab line) all report the line that held the string."""
    in_function: bool = False

    def under_cond(self) -> Frame:
        return replace(self, cond=self.cond + 1)

    def evidence(self, line: int) -> str:
        if self.script is None:
            return ""
        return self.script.text(line)[:300]


class _Exit(Exception):
    pass


class _Return(Exception):
    pass


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Budget(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int | None
    message: str


class Walker:
    """Follows one tree's boot path. Entry points live in :mod:`.entries`; this class is the interpreter."""

    def __init__(self, inv: Inventory, tree: Tree, shells: frozenset[str],
                 builtin_ports: dict[str, list[str]] | None = None):
        self.inv = inv
        self.tree = tree
        self.shells = shells
        self.builtin_ports = builtin_ports or {}
        self.launches: list[Launch] = []
        self.problems: list[Problem] = []
        self.visited: set[str] = set()
        """Scripts entered at least once (their paths as resolved in the tree)."""
        self._done: set[tuple] = set()
        self._parsed: dict[str, shell.Script | None] = {}
        self._reported: set[tuple[str, int | None, str]] = set()
        self._globs: dict[str, list[str]] = {}
        self._paths: list[str] | None = None
        self._children: dict[str, list[str]] | None = None
        self.modes_reliable = any(n.kind == "file" and n.mode & 0o111 for n in tree.nodes.values())
        """False when the unpacker lost permission bits: then ``-x`` and exec permission are not checked."""
        self.steps = 0
        self.inetd_confs: list[tuple[str, str, Frame, int]] = []

    # -- problems and files ---------------------------------------------------------------------------------

    def problem(self, path: str, line: int | None, message: str) -> None:
        key = (path, line, message)
        if key not in self._reported:
            self._reported.add(key)
            self.problems.append(Problem(path, line, message))

    def item(self, path: str) -> Item | None:
        return self.inv.item(self.tree, path)

    def text(self, path: str) -> str | None:
        item = self.item(path)
        if item is None:
            return None
        if item.facts.text is None:
            if item.facts.kind != "empty":
                self.problem(path, None, f"boot file is not readable text ({item.facts.kind}, {item.facts.size} bytes)")
            return None if item.facts.kind != "empty" else ""
        return item.facts.text

    def parsed(self, path: str) -> shell.Script | None:
        if path in self._parsed:
            return self._parsed[path]
        text = self.text(path)
        if text is not None and len(text) > MAX_SCRIPT:
            self.problem(path, None, f"boot script of {len(text)} bytes is too large to follow (limit {MAX_SCRIPT})")
            text = None
        script = None if text is None else shell.parse(text)
        if script is not None:
            for line, message in script.errors:
                self.problem(path, line, f"shell syntax: {message}")
        self._parsed[path] = script
        return script

    def resolve(self, path: str) -> Node | None:
        return self.tree.resolve(path)

    def children(self, directory: str) -> list[str]:
        """Paths directly inside ``directory`` (as written, links not followed), sorted."""
        if self._children is None:
            index: dict[str, list[str]] = {}
            for p in sorted(self.tree.nodes):
                index.setdefault(posixpath.dirname(p), []).append(p)
            self._children = index
        return self._children.get(directory.rstrip("/") or "/", [])

    # -- entry helpers used by .entries ---------------------------------------------------------------------

    def frame(self, path: str, *, chain: tuple[str, ...] | None = None, script: shell.Script | None = None,
              env: Env | None = None, **kw) -> Frame:
        env = env or Env({"PATH": DEFAULT_PATH}, {"PATH"})
        chain = chain if chain is not None else (path,)
        return Frame(path, chain, script, env, stack=chain, **kw)

    def run_string(self, text: str, fr: Frame, line: int) -> bool | None:
        """Walk a command line held in a file (inittab process, crontab command, ExecStart via sh -c)."""
        script = shell.parse(text)
        for _, message in script.errors:
            self.problem(fr.path, line, f"shell syntax: {message}")
        sub = replace(fr, fixed_line=line)
        try:
            return self.block(script.body, sub)
        except (_Exit, _Return, _Break, _Continue):
            return None

    def guarded(self, fn, *args) -> None:
        """Run one entry point; a walk that exhausts its budget is reported, not raised."""
        try:
            fn(*args)
        except _Budget:
            self.problem(args[0] if args and isinstance(args[0], str) else "/", None,
                         f"boot path too large or looping: the walk stopped after {MAX_STEPS} commands")
        except RecursionError:
            self.problem(args[0] if args and isinstance(args[0], str) else "/", None, "boot path nested too deeply")

    # -- statements -----------------------------------------------------------------------------------------

    def block(self, stmts: list[shell.Stmt], fr: Frame) -> bool | None:
        value: bool | None = None
        for st in stmts:
            value = self.and_or(st.node, fr, st.background)
        return value

    def and_or(self, node: shell.AndOr, fr: Frame, background: bool) -> bool | None:
        value = self.pipeline(node.first, fr, background)
        for op, pl in node.rest:
            if (op == "&&" and value is False) or (op == "||" and value is True):
                continue
            sub = fr if value is not None else fr.under_cond()
            second = self.pipeline(pl, sub, background)
            if value is None:
                if op == "&&":
                    value = False if second is False else None
                else:
                    value = True if second is True else None
            else:
                value = second
        return value

    def pipeline(self, pl: shell.Pipeline, fr: Frame, background: bool) -> bool | None:
        value: bool | None = None
        for cmd in pl.commands:
            value = self.command(cmd, fr, background)
        if len(pl.commands) > 1:
            value = None
        if pl.negate and value is not None:
            value = not value
        return value

    def command(self, node, fr: Frame, background: bool) -> bool | None:
        if isinstance(node, shell.Simple):
            return self.simple(node, fr, background)
        if isinstance(node, shell.If):
            return self.if_(node, fr)
        if isinstance(node, shell.For):
            return self.for_(node, fr)
        if isinstance(node, shell.While):
            sub = fr.under_cond()
            sub = replace(sub, lbase=sub.cond)
            try:
                self.block(node.cond, sub)
                self.block(node.body, sub)
            except (_Break, _Continue):
                pass
            return None
        if isinstance(node, shell.Case):
            return self.case(node, fr)
        if isinstance(node, shell.Group):
            if node.subshell:
                sub = replace(fr, env=fr.env.copy())
                try:
                    return self.block(node.body, sub)
                except _Exit:
                    return None
            return self.block(node.body, fr)
        if isinstance(node, shell.FuncDef):
            if fr.script is not None:
                fr.env.funcs[node.name] = (node, fr.path, fr.script)
            return True
        return None

    def if_(self, node: shell.If, fr: Frame) -> bool | None:
        current = fr
        for cond, body in node.clauses:
            value = self.block(cond, current)
            if value is True:
                return self.block(body, current)
            if value is False:
                continue
            current = current.under_cond()
            self.block(body, current)
        if node.orelse is not None:
            self.block(node.orelse, current)
        return None

    def for_(self, node: shell.For, fr: Frame) -> bool | None:
        if node.words is None:
            values = list(fr.env.positional)
        else:
            values = []
            for w in node.words:
                values.extend(self.expand(w.raw, fr))
        sub = fr
        if not node.var or any(UNK in v for v in values):
            values = [v for v in values if UNK not in v] + [UNK]
            sub = sub.under_cond()
        sub = replace(sub, lbase=sub.cond)
        if len(values) > MAX_LOOP:
            self.problem(fr.path, node.line, f"for loop over {len(values)} values; only the first {MAX_LOOP} walked")
            values = values[:MAX_LOOP]
        for value in values:
            if node.var:
                fr.env.vars[node.var] = value
            try:
                self.block(node.body, sub)
            except _Continue:
                continue
            except _Break:
                break
        return None

    def case(self, node: shell.Case, fr: Frame) -> bool | None:
        word = self.expand_one(node.word.raw, fr)
        current = fr
        for patterns, body in node.items:
            verdict: bool | None = False
            for p in patterns:
                pat = self.expand_one(p.raw, fr, pattern=True)
                if UNK in word or UNK in pat:
                    verdict = None
                elif fnmatch.fnmatchcase(word, _sh_pattern(pat)):
                    verdict = True
                    break
            if verdict is True:
                return self.block(body, current)
            if verdict is None:
                current = current.under_cond()
                self.block(body, current)
        return None

    def simple(self, node: shell.Simple, fr: Frame, background: bool) -> bool | None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _Budget
        if not node.words:
            for name, w in node.assigns:
                fr.env.vars[name] = self.expand_one(w.raw, fr)
            return None
        argv: list[str] = []
        for w in node.words:
            argv.extend(self.expand(w.raw, fr))
        line = fr.fixed_line or node.line
        return self.run(argv, fr, line, background=background)

    # -- commands -------------------------------------------------------------------------------------------

    def run(self, argv: list[str], fr: Frame, line: int, *, background: bool = False,
            login: bool = False) -> bool | None:
        """Walk one command: builtins, functions, wrappers, scripts, and programs (which become launches)."""
        daemon = fr.daemon or background or (fr.exec_daemon and argv[:1] == ["exec"])
        busybox_seen = False
        while argv:
            name = argv[0]
            if UNK in name or not name:
                return None
            base = posixpath.basename(name)
            if base in _WRAPPERS and (base not in fr.env.funcs or base in _PREFER_BUILTIN):
                unwrapped = self.unwrap(base, argv)
                if unwrapped is None:
                    return None
                argv, made_daemon = unwrapped
                daemon = daemon or made_daemon
                continue
            break
        if not argv:
            return None
        name = argv[0]
        if name in fr.env.funcs and "/" not in name and name not in _PREFER_BUILTIN and not name.startswith("procd_"):
            return self.call_function(name, argv[1:], fr, line)
        builtin = self.builtin(name, argv, fr, line)
        if builtin is not _NOT_BUILTIN:
            return builtin
        found = self.which(name, fr.env)
        if found is None:
            return None
        invoked, node = found
        if self.modes_reliable and not node.mode & 0o111:
            return None  # not executable: the shell cannot run it
        args = argv[1:]
        program = posixpath.basename(invoked)
        is_busybox = busybox_seen or _is_busybox(node)
        if is_busybox and program.startswith("busybox"):
            if not args:
                return None
            program, args = posixpath.basename(args[0]), args[1:]
        if program in self.shells or (program.startswith("-") and program[1:] in self.shells):
            return self.shell(invoked, args, fr, line, daemon=daemon, login=login or program.startswith("-"))
        item = self.item(node.path)
        if item is not None and not is_busybox and item.facts.kind in ("script", "text", "empty"):
            interpreter = _shebang(item.facts.text or "")
            if interpreter is None or posixpath.basename(interpreter[0]) in self.shells:
                rc_common = interpreter is not None and len(interpreter) > 1 and interpreter[1].endswith("rc.common")
                self.call_script(invoked, node.path, args, fr, line, rc_common=rc_common, daemon=daemon)
                return None
        if program in ("inetd", "xinetd"):
            self.superserver(program, invoked, args, fr, line)
            return None
        if program in ("tcpsvd", "udpsvd"):
            return self.tcpsvd(program, args, fr, line, daemon)
        self.emit(program, invoked, node.path, args, fr, line, daemon=daemon, busybox=is_busybox, login=login)
        return None

    def emit(self, name: str, binary: str | None, target: str | None, args: list[str] | tuple[str, ...],
             fr: Frame, line: int | None, *, daemon: bool, busybox: bool = False, login: bool = False,
             evidence: str | None = None) -> None:
        self.launches.append(Launch(
            name=name, binary=binary, target=target, args=tuple(args), chain=fr.chain, line=line,
            evidence=evidence if evidence is not None else (fr.evidence(line) if line else ""),
            how=fr.how, daemon=daemon, conditional=fr.cond > 0, tty=fr.tty, ports=fr.ports,
            login_shell=login, busybox=busybox,
        ))

    def unwrap(self, base: str, argv: list[str]) -> tuple[list[str], bool] | None:
        """The command a wrapper runs, and whether the wrapper makes it a daemon."""
        rest = argv[1:]
        if base == "start-stop-daemon":
            return _start_stop_daemon(rest)
        if base in ("service_start", "daemonize", "daemon"):
            while rest and rest[0].startswith("-"):
                rest = rest[2:] if rest[0] in ("-p", "-l", "-u", "-c", "-e", "-o", "-a", "-E", "--pidfile",
                                               "--name", "--user") else rest[1:]
            return rest, True
        if base == "command":
            if rest and rest[0] in ("-v", "-V"):
                return None
            return [r for r in rest if r != "-p"] if rest and rest[0] == "-p" else rest, False
        if base in ("nice",):
            while rest and rest[0].startswith("-"):
                rest = rest[2:] if rest[0] == "-n" else rest[1:]
            return rest, False
        if base == "env":
            while rest and ("=" in rest[0] or rest[0].startswith("-")):
                rest = rest[2:] if rest[0] in ("-u", "--unset") else rest[1:]
            return rest, False
        if base == "timeout":
            while rest and rest[0].startswith("-"):
                rest = rest[2:] if rest[0] in ("-s", "-k") else rest[1:]
            return rest[1:], False
        if base in ("chroot",):
            return rest[1:], False
        if base in ("ionice", "taskset", "chrt", "flock", "softlimit", "chpst", "setuidgid", "runuser"):
            while rest and rest[0].startswith("-"):
                rest = rest[2:] if rest[0] in ("-c", "-n", "-t", "-u", "-g", "-m", "-d", "-o", "-p") else rest[1:]
            if base in ("taskset", "chrt", "flock", "setuidgid") and rest:
                rest = rest[1:]
            return rest, False
        if base in ("sudo", "doas"):
            while rest and rest[0].startswith("-"):
                rest = rest[2:] if rest[0] in ("-u", "-g") else rest[1:]
            return rest, False
        if base == "su":
            if "-c" in rest:
                i = rest.index("-c")
                if i + 1 < len(rest):
                    return ["sh", "-c", rest[i + 1]], False
            return None
        return rest, False  # exec, nohup, setsid, builtin, time, stdbuf

    def builtin(self, name: str, argv: list[str], fr: Frame, line: int):
        env = fr.env
        args = argv[1:]
        if name in (".", "source"):
            if args:
                self.source(args[0], args[1:], fr, line)
            return None
        if name in ("true", ":"):
            return True
        if name == "false":
            return False
        if name in ("[", "test", "[["):
            if name == "[" and args and args[-1] == "]":
                args = args[:-1]
            if name == "[[" and args and args[-1] == "]]":
                args = args[:-1]
            return self.test(args)
        if name == "set":
            if args and (args[0] == "--" or not args[0].startswith(("-", "+"))):
                env.positional = args[1:] if args[0] == "--" else list(args)
            return None
        if name == "shift":
            n = int(args[0]) if args and args[0].isdigit() else 1
            env.positional = env.positional[n:]
            return None
        if name in ("export", "local", "readonly", "declare", "typeset"):
            for a in args:
                if a.startswith("-"):
                    continue
                key, eq, value = a.partition("=")
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                    if UNK in key:
                        env.opaque = True
                    continue
                if eq:
                    env.vars[key] = value
                elif name == "local":
                    env.vars[key] = UNK
                if name == "export":
                    env.exported.add(key)
            return None
        if name == "unset":
            functions = "-f" in args
            for a in args:
                if not a.startswith("-"):
                    (env.funcs if functions else env.vars).pop(a, None)
            return None
        if name == "read":
            for a in args:
                if not a.startswith("-"):
                    env.vars[a] = UNK
            return None
        if name == "eval":
            text = " ".join(args)
            if UNK not in text:
                return self.run_string(text, fr, line)
            env.opaque = True
            return None
        if name in ("exit", "return", "break", "continue"):
            if name == "exit" and fr.cond == fr.sbase:
                raise _Exit
            if name == "return" and fr.cond == fr.fbase:
                raise _Return if fr.in_function or fr.how == "source" else _Exit
            if name in ("break", "continue") and fr.cond == fr.lbase:
                raise _Break if name == "break" else _Continue
            return None
        if name in ("config_get", "config_get_bool"):
            if args:
                env.vars[args[0]] = UNK
            return None
        if name == "config_foreach":
            if args and args[0] in env.funcs:
                return self.call_function(args[0], [UNK, *args[2:]], fr, line)
            return None
        if name == "uci_load_validate":
            if len(args) >= 4 and args[3] in env.funcs:
                return self.call_function(args[3], [args[2], UNK], fr, line)
            return None
        if name == "uci_validate_section" or name.startswith("validate_"):
            return None
        if name == "rc_procd":
            if args:
                return self.run(args, fr, line)
            return None
        if name.startswith("procd_"):
            return self.procd(name, args, fr, line)
        if name == "start" and env.rc_common and "start" not in env.funcs:
            if env.vars.get("USE_PROCD") == "1" and "start_service" in env.funcs:
                return self.call_function("start_service", args, fr, line)
            return None
        if name in _NOOP:
            return None
        return _NOT_BUILTIN

    def procd(self, name: str, args: list[str], fr: Frame, line: int) -> None:
        env = fr.env
        if name == "procd_open_instance":
            self.close_procd(fr)
            env.procd = {"argv": None, "line": line, "cond": fr.cond, "frame": fr}
        elif name in ("procd_set_param", "procd_append_param") and args and args[0] == "command":
            if env.procd is None:
                env.procd = {"argv": None, "line": line, "cond": fr.cond, "frame": fr}
            inst = env.procd
            if name == "procd_set_param" or inst["argv"] is None:
                inst.update(argv=list(args[1:]), line=line, cond=fr.cond, frame=fr)
            elif fr.cond == inst["cond"]:
                inst["argv"].extend(args[1:])
        elif name == "procd_close_instance":
            self.close_procd(fr)

    def close_procd(self, fr: Frame) -> None:
        inst = fr.env.procd
        fr.env.procd = None
        if inst and inst["argv"]:
            at: Frame = inst["frame"]
            self.run(inst["argv"], replace(at, how="procd", daemon=True), inst["line"])

    # -- scripts, functions, shells -------------------------------------------------------------------------

    def call_script(self, invoked: str, path: str, args: list[str], fr: Frame, line: int, *,
                    rc_common: bool = False, daemon: bool = False) -> None:
        key = ("script", path, tuple(args))
        if path in fr.stack or key in self._done:
            return
        if fr.depth >= MAX_DEPTH:
            self.problem(fr.path, line, f"boot chain deeper than {MAX_DEPTH} scripts; {invoked} not followed")
            return
        script = self.parsed(path)
        if script is None:
            return
        self._done.add(key)
        self.visited.add(path)
        chain = fr.chain + ((invoked,) if invoked != path else ()) + (path,)
        env = fr.env.child()
        env.vars.setdefault("PATH", DEFAULT_PATH)
        env.vars["0"] = invoked
        env.positional = list(args)
        env.rc_common = rc_common
        sub = Frame(path, chain, script, env, cond=fr.cond, sbase=fr.cond, fbase=fr.cond, depth=fr.depth + 1,
                    stack=fr.stack + (path,), how="script", daemon=False, exec_daemon=daemon, ports=fr.ports,
                    tty=fr.tty if fr.how.startswith("inittab:") else None)
        try:
            self.block(script.body, sub)
            if rc_common:
                self.rc_common(args, sub, line)
        except (_Exit, _Return, _Break, _Continue):
            pass
        self.close_procd(sub)

    def rc_common(self, args: list[str], fr: Frame, line: int) -> None:
        """What OpenWrt's /etc/rc.common does with ``boot`` or ``start``: boot() or start(), or, for procd
        scripts, start_service()."""
        action = args[0] if args else "start"
        env = fr.env
        if action not in ("boot", "start", "restart", "reload", "enable"):
            return
        first = fr.script.body[0].line if fr.script and fr.script.body else 1
        if action == "boot" and "boot" in env.funcs:
            self.call_function("boot", list(args[1:]), fr, line or first)
        elif "start" in env.funcs:
            self.call_function("start", list(args[1:]), fr, line or first)
        elif env.vars.get("USE_PROCD") == "1" and "start_service" in env.funcs:
            self.call_function("start_service", list(args[1:]), fr, line or first)
        self.close_procd(fr)

    def call_function(self, name: str, args: list[str], fr: Frame, line: int) -> bool | None:
        fdef, path, script = fr.env.funcs[name]
        marker = f"{path}#{name}()"
        if marker in fr.stack:
            return None
        if fr.depth >= MAX_DEPTH:
            self.problem(fr.path, line, f"boot chain deeper than {MAX_DEPTH} calls; {name}() not followed")
            return None
        saved = fr.env.positional
        fr.env.positional = list(args)
        chain = fr.chain if path == fr.path else fr.chain + (path,)
        sub = replace(fr, path=path, chain=chain, script=script, depth=fr.depth + 1, stack=fr.stack + (marker,),
                      in_function=True, fbase=fr.cond, lbase=-1,
                      fixed_line=None if path != fr.path else fr.fixed_line)
        try:
            return self.block(fdef.body, sub)
        except _Return:
            return None
        finally:
            fr.env.positional = saved

    def source(self, name: str, args: list[str], fr: Frame, line: int) -> None:
        if UNK in name:
            fr.env.opaque = True
            return
        if "/" not in name:
            found = self.which(name, fr.env)
            path = found[0] if found else posixpath.join(posixpath.dirname(fr.path), name)
        else:
            path = name if name.startswith("/") else posixpath.normpath(posixpath.join(posixpath.dirname(fr.path), name))
        node = self.resolve(path)
        if node is None or node.kind != "file":
            if node is None and (_runtime(path) or self.tree.get(path) is not None):
                fr.env.opaque = True  # made at run time: it may set anything
            return
        if node.path in fr.stack:
            return
        if fr.depth >= MAX_DEPTH:
            self.problem(fr.path, line, f"boot chain deeper than {MAX_DEPTH} scripts; {path} not followed")
            return
        script = self.parsed(node.path)
        if script is None:
            return
        self.visited.add(node.path)
        chain = fr.chain + ((path,) if path != node.path else ()) + (node.path,)
        saved = fr.env.positional
        if args:
            fr.env.positional = list(args)
        sub = Frame(node.path, chain, script, fr.env, cond=fr.cond, sbase=fr.sbase, fbase=fr.cond,
                    depth=fr.depth + 1, stack=fr.stack + (node.path,), how="source", daemon=fr.daemon, tty=fr.tty,
                    ports=fr.ports)
        try:
            self.block(script.body, sub)
        except _Return:
            pass
        finally:
            if args:
                fr.env.positional = saved

    def shell(self, invoked: str, args: list[str], fr: Frame, line: int, *, daemon: bool, login: bool) -> bool | None:
        """``sh script args``, ``sh -c 'cmd'``, or an interactive shell (a console or a network shell)."""
        i = 0
        command: str | None = None
        while i < len(args):
            a = args[i]
            if a == "-c":
                command = args[i + 1] if i + 1 < len(args) else ""
                break
            if a in ("-s", "-i", "-l", "--login", "-e", "-x", "-u", "-v", "-n", "-m", "-"):
                login = login or a in ("-l", "--login")
                i += 1
                continue
            if a.startswith("-") and len(a) > 1 and re.fullmatch(r"-[a-zA-Z]+", a):
                if "c" in a[1:]:
                    command = args[i + 1] if i + 1 < len(args) else ""
                    break
                i += 1
                continue
            break
        if command is not None:
            if UNK in command:
                return None
            return self.run_string(command, fr, line)
        if i < len(args) and UNK not in args[i]:
            script = args[i]
            if not script.startswith("/"):
                script = posixpath.normpath(posixpath.join("/", script))
            node = self.resolve(script)
            if node is not None and node.kind == "file":
                item = self.item(node.path)
                head = (item.facts.text or "") if item else ""
                interpreter = _shebang(head)
                rc_common = interpreter is not None and len(interpreter) > 1 and interpreter[1].endswith("rc.common")
                self.call_script(script, node.path, args[i + 1:], fr, line, rc_common=rc_common)
            return None
        if i < len(args):
            return None
        # An interactive shell: on a console (inittab) or served to a network port (inetd, tcpsvd, socket).
        if fr.tty is not None or fr.ports:
            node = self.resolve(invoked)
            self.emit(posixpath.basename(invoked).lstrip("-"), invoked, node.path if node else None, args, fr, line,
                      daemon=True, busybox=bool(node and _is_busybox(node)), login=login)
            if login and fr.tty is not None:
                self.source_profile(fr, line)
        return None

    def source_profile(self, fr: Frame, line: int) -> None:
        """A login shell on a console reads /etc/profile: what it starts runs at boot, without anyone logging in."""
        node = self.resolve("/etc/profile")
        if node is None or node.kind != "file" or ("profile", node.path) in self._done:
            return
        self._done.add(("profile", node.path))
        script = self.parsed(node.path)
        if script is None:
            return
        self.visited.add(node.path)
        chain = fr.chain + (("/etc/profile",) if node.path == "/etc/profile" else ("/etc/profile", node.path))
        env = Env({"PATH": DEFAULT_PATH, "HOME": "/root", "USER": "root"}, {"PATH", "HOME", "USER"})
        sub = Frame(node.path, chain, script, env, cond=fr.cond, sbase=fr.cond, fbase=fr.cond, depth=fr.depth + 1,
                    stack=fr.stack + (node.path,), how="profile")
        try:
            self.block(script.body, sub)
        except (_Exit, _Return, _Break, _Continue):
            pass

    # -- superservers ---------------------------------------------------------------------------------------

    def superserver(self, program: str, invoked: str, args: list[str], fr: Frame, line: int) -> None:
        """inetd or xinetd started: their configuration decides what listens. Walked by .entries."""
        conf: str | None = None
        if program == "inetd":
            # busybox inetd: -R N and -q N take a value
            skip_next = False
            positional = []
            for a in args:
                if skip_next:
                    skip_next = False
                    continue
                if a in ("-R", "-q"):
                    skip_next = True
                    continue
                if not a.startswith("-"):
                    positional.append(a)
            conf = positional[-1] if positional else "/etc/inetd.conf"
        else:
            conf = "/etc/xinetd.conf"
            if "-f" in args and args.index("-f") + 1 < len(args):
                conf = args[args.index("-f") + 1]
        if UNK in conf:
            conf = "/etc/inetd.conf" if program == "inetd" else "/etc/xinetd.conf"
        self.inetd_confs.append((program, conf, fr, line))

    def tcpsvd(self, program: str, args: list[str], fr: Frame, line: int, daemon: bool) -> bool | None:
        """busybox ``tcpsvd [-hEv] [-c N] [-C N[:MSG]] [-b N] [-u USER] [-l NAME] IP PORT PROG ARGS``."""
        rest = list(args)
        while rest and rest[0].startswith("-") and rest[0] != "-":
            opt = rest.pop(0)
            if opt in ("-c", "-C", "-b", "-u", "-l", "-t", "-i") and rest:
                rest.pop(0)
        if len(rest) < 3:
            return None
        port = _port_number(rest[1])
        proto = "tcp" if program == "tcpsvd" else "udp"
        ports = ((proto, port),) if port is not None else ()
        sub = replace(fr, how=program, daemon=True, ports=ports, tty=None)
        return self.run(rest[2:], sub, line)

    # -- expansion ------------------------------------------------------------------------------------------

    def which(self, name: str, env: Env) -> tuple[str, Node] | None:
        if "/" in name:
            path = name if name.startswith("/") else posixpath.normpath(posixpath.join("/", name))
            node = self.resolve(path)
            return (path, node) if node is not None and node.kind == "file" else None
        path_var = env.vars.get("PATH", DEFAULT_PATH)
        dirs = [d for d in path_var.split(":") if d and UNK not in d and d.startswith("/")]
        for d in dirs + DEFAULT_PATH.split(":"):
            candidate = posixpath.join(d, name)
            node = self.resolve(candidate)
            if node is not None and node.kind == "file":
                return candidate, node
        return None

    def test(self, args: list[str]) -> bool | None:
        """``test`` / ``[`` answered from the tree where possible: True, False, or None (cannot tell)."""
        if not args:
            return False
        if args[0] == "!":
            inner = self.test(args[1:])
            return None if inner is None else not inner
        for op in ("-o", "-a", "||", "&&"):
            if op in args[1:-1]:
                i = args.index(op, 1)
                lv, rv = self.test(args[:i]), self.test(args[i + 1:])
                if op in ("-o", "||"):
                    return True if True in (lv, rv) else (False if lv is False and rv is False else None)
                return False if False in (lv, rv) else (True if lv and rv else None)
        if len(args) == 1:
            return None if UNK in args[0] else args[0] != ""
        if len(args) == 2:
            op, value = args
            if op in ("-n", "-z"):
                if UNK in value:
                    return None
                return (value != "") if op == "-n" else (value == "")
            if op in ("-e", "-f", "-d", "-x", "-s", "-r", "-w", "-h", "-L", "-c", "-b", "-p", "-S", "-a"):
                return self.path_test(op, value)
            return None
        if len(args) == 3:
            left, op, right = args
            if UNK in left or UNK in right:
                return None
            if op in ("=", "=="):
                return left == right
            if op == "!=":
                return left != right
            if op in ("-eq", "-ne", "-lt", "-le", "-gt", "-ge"):
                try:
                    a, b = int(left), int(right)
                except ValueError:
                    return None
                return {"-eq": a == b, "-ne": a != b, "-lt": a < b, "-le": a <= b, "-gt": a > b, "-ge": a >= b}[op]
        return None

    def path_test(self, op: str, path: str) -> bool | None:
        if UNK in path or not path.startswith("/"):
            return None
        path = posixpath.normpath(path)
        raw = self.tree.get(path)
        node = self.resolve(path)
        if op in ("-h", "-L"):
            if raw is not None:
                return raw.kind == "symlink"
            return None if _runtime(path) else False
        if node is None:
            if raw is not None and raw.kind == "symlink":
                return None  # points somewhere made at run time
            if _runtime(path) or any(_runtime(p) for p in _link_dirs(self.tree, path)):
                return None
            return False
        if op in ("-e", "-a", "-r", "-w"):
            return True
        if op == "-f":
            return node.kind == "file"
        if op == "-d":
            return node.kind == "dir"
        if op == "-x":
            if not self.modes_reliable:
                return None
            return node.kind in ("file", "dir") and bool(node.mode & 0o111)
        if op == "-s":
            return node.kind != "file" or node.size > 0
        return {"-c": "chardev", "-b": "blockdev", "-p": "fifo", "-S": "socket"}.get(op) == node.kind

    def expand_one(self, raw: str, fr: Frame, pattern: bool = False) -> str:
        """A word expanded without field splitting or globbing (assignments, case words)."""
        fields = self._expand(raw, fr, split=False, keep_pattern=pattern)
        return " ".join(_field_text(f) for f in fields) if fields else ""

    def expand(self, raw: str, fr: Frame) -> list[str]:
        out: list[str] = []
        for f in self._expand(raw, fr, split=True):
            text = _field_text(f)
            if any(not quoted and any(c in seg for c in "*?[") for seg, quoted in f) and text.startswith("/"):
                matches = self.glob(f)
                if matches:
                    out.extend(matches)
                    continue
            out.append(text)
        return out

    def glob(self, f: list[tuple[str, bool]]) -> list[str]:
        pattern = "".join(seg if not quoted else _escape_glob(seg) for seg, quoted in f)
        if pattern in self._globs:
            return self._globs[pattern]
        if self._paths is None:
            self._paths = sorted(self.tree.nodes)
        depth = pattern.count("/")
        rx = _glob_regex(pattern)
        hits = [p for p in self._paths if p.count("/") == depth and rx.match(p)
                and self.tree.nodes[p].kind != "whiteout"
                and (not posixpath.basename(p).startswith(".") or posixpath.basename(pattern).startswith("."))]
        self._globs[pattern] = hits
        return hits

    def _expand(self, raw: str, fr: Frame, *, split: bool, keep_pattern: bool = False) -> list[list[tuple[str, bool]]]:
        env = fr.env
        fields: list[list[tuple[str, bool]]] = [[]]
        touched = [False]

        def add(text: str, quoted: bool) -> None:
            fields[-1].append((text, quoted))
            touched[-1] = True

        def add_value(value: str, quoted: bool) -> None:
            if quoted or not split:
                add(value, True)
                return
            parts = re.split(r"[ \t\n]+", value)
            for k, part in enumerate(parts):
                if k > 0 and touched[-1]:
                    fields.append([])
                    touched.append(False)
                if part:
                    add(part, False)

        i, n = 0, len(raw)
        while i < n:
            c = raw[i]
            if c == "\\":
                if i + 1 < n:
                    add(raw[i + 1] if not keep_pattern else raw[i:i + 2], True)
                i += 2
            elif c == "'":
                j = raw.find("'", i + 1)
                j = n if j < 0 else j
                add(raw[i + 1:j], True)
                i = j + 1
            elif c == '"':
                i = self._double(raw, i + 1, fr, add, add_value)
            elif c == "`":
                j = raw.find("`", i + 1)
                i = n if j < 0 else j + 1
                add_value(UNK, False)
            elif c == "$":
                value, i, positional = self._dollar(raw, i, env)
                if positional is not None and split:
                    for k, v in enumerate(positional):
                        if k > 0:
                            fields.append([])
                            touched.append(False)
                        add(v, True)
                else:
                    add_value(value, False)
            elif c == "~" and i == 0 and (n == 1 or raw[1] == "/"):
                add(env.vars.get("HOME", "/root"), True)
                i += 1
            else:
                add(c, False)
                i += 1
        return [f for f, t in zip(fields, touched, strict=True) if t]

    def _double(self, raw: str, i: int, fr: Frame, add, add_value) -> int:
        n = len(raw)
        buf: list[str] = []
        add("", True)
        while i < n:
            c = raw[i]
            if c == '"':
                i += 1
                break
            if c == "\\" and i + 1 < n and raw[i + 1] in '$`"\\\n':
                buf.append(raw[i + 1])
                i += 2
            elif c == "$":
                if raw.startswith("$@", i):
                    buf.append(" ".join(fr.env.positional))
                    i += 2
                    continue
                value, i, _ = self._dollar(raw, i, fr.env)
                buf.append(value)
            elif c == "`":
                j = raw.find("`", i + 1)
                i = n if j < 0 else j + 1
                buf.append(UNK)
            else:
                buf.append(c)
                i += 1
        add("".join(buf), True)
        return i

    def _dollar(self, raw: str, i: int, env: Env) -> tuple[str, int, list[str] | None]:
        """Expand the ``$`` construct at ``i``: (value, next index, positional fields for unquoted $@)."""
        n = len(raw)
        if i + 1 >= n:
            return "$", i + 1, None
        c = raw[i + 1]
        if c == "(":
            j = _matching(raw, i + 1, "(", ")")
            return UNK, j, None
        if c == "{":
            j = _matching(raw, i + 1, "{", "}")
            return self._braced(raw[i + 2:j - 1], env), j, None
        if c in "@*":
            return " ".join(env.positional), i + 2, (list(env.positional) if c == "@" else None)
        if c == "#":
            return str(len(env.positional)), i + 2, None
        if c in "?$!-":
            return UNK, i + 2, None
        if c.isdigit():
            return self._var(c, env), i + 2, None
        m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", raw[i + 1:])
        if m:
            return self._var(m.group(), env), i + 1 + m.end(), None
        return "$", i + 1, None

    def _var(self, name: str, env: Env, default_unset: str | None = None) -> str:
        if name.isdigit():
            if name == "0":
                return env.vars.get("0", UNK)
            k = int(name)
            return env.positional[k - 1] if k <= len(env.positional) else ""
        if name in env.vars:
            return env.vars[name]
        if name in ("PATH",):
            return DEFAULT_PATH
        if name == "HOME":
            return "/root"
        if default_unset is not None:
            return default_unset
        # Boot scripts run with init's nearly empty environment: never assigned means empty.
        return UNK if env.opaque else ""

    def _braced(self, inner: str, env: Env) -> str:
        if inner.startswith("#") and len(inner) > 1:
            whole = self._var(inner[1:], env)
            return UNK if UNK in whole else str(len(whole))
        m = re.match(r"([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!])", inner)
        if not m:
            return UNK
        name, rest = m.group(), inner[m.end():]
        is_set = name in env.vars or name.isdigit() and int(name) <= len(env.positional) or name in "@*#"
        value: str | None = (" ".join(env.positional) if name in "@*" else self._var(name, env)) if is_set else None
        if not rest:
            return value if value is not None else self._var(name, env)
        for op in (":-", ":=", ":+", ":?", "-", "=", "+", "?", "##", "#", "%%", "%", "/"):
            if rest.startswith(op):
                word = self._expand_word(rest[len(op):], env)
                break
        else:
            return UNK
        if op in (":-", ":=", "-", "="):
            if value is None or (op.startswith(":") and value == ""):
                if op in (":=", "="):
                    env.vars[name] = word
                return word
            return value
        if op in (":+", "+"):
            if value is None:
                return ""
            if UNK in value:
                return UNK
            return word if (value != "" or op == "+") else ""
        if op in (":?", "?"):
            return value if value is not None else UNK
        if value is None:
            value = UNK
        if UNK in value or UNK in word:
            return UNK
        if op == "/":
            return UNK
        return _strip(value, word, op)

    def _expand_word(self, text: str, env: Env) -> str:
        fr = Frame("/", ("/",), None, env)
        return self.expand_one(text, fr)


_NOT_BUILTIN = object()


def _strip(value: str, pattern: str, op: str) -> str:
    pat = _sh_pattern(pattern)
    rng = range(len(value) + 1)
    if op in ("#", "##"):
        order = rng if op == "#" else reversed(rng)
        for k in order:
            if fnmatch.fnmatchcase(value[:k], pat):
                return value[k:]
    else:
        order = reversed(rng) if op == "%" else rng
        for k in order:
            if fnmatch.fnmatchcase(value[k:], pat):
                return value[:k]
    return value


def _matching(raw: str, i: int, opener: str, closer: str) -> int:
    depth = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c == "\\":
            i += 2
            continue
        if c == "'" and opener == "(":
            j = raw.find("'", i + 1)
            i = n if j < 0 else j + 1
            continue
        if c == opener:
            depth += 1
        elif c == closer:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


def _field_text(f: list[tuple[str, bool]]) -> str:
    return "".join(seg for seg, _ in f)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A shell glob as a regex where ``*`` and ``?`` do not cross ``/``."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 2 if pattern.startswith(("[!", "[^"), i) else i + 1)
            if j < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:j]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def _escape_glob(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _sh_pattern(pat: str) -> str:
    """A shell pattern as fnmatch understands it (``[!x]`` is the same; escapes become classes)."""
    out = []
    i = 0
    while i < len(pat):
        c = pat[i]
        if c == "\\" and i + 1 < len(pat):
            out.append(_escape_glob(pat[i + 1]))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _runtime(path: str) -> bool:
    return any(path == d or path.startswith(d + "/") for d in RUNTIME_DIRS)


def _link_dirs(tree: Tree, path: str) -> Iterator[str]:
    """Targets of symlinked parent directories of ``path`` (``/etc/x -> /var/etc``)."""
    parts = path.strip("/").split("/")
    for k in range(1, len(parts)):
        node = tree.get("/" + "/".join(parts[:k]))
        if node is not None and node.kind == "symlink" and node.link_target:
            yield node.link_target if node.link_target.startswith("/") else "/" + node.link_target


def _is_busybox(node: Node) -> bool:
    names = [node.path]
    if node.link_target:
        names.append(node.link_target)
    return any(posixpath.basename(n).startswith("busybox") for n in names)


def _shebang(text: str) -> list[str] | None:
    if not text.startswith("#!"):
        return None
    first = text[2:].split("\n", 1)[0].strip()
    parts = first.split()
    if not parts:
        return None
    if parts[0].endswith("/env") and len(parts) > 1:
        return parts[1:]
    return parts


def _port_number(value: str) -> int | None:
    if UNK in value:
        return None
    value = value.rsplit(":", 1)[-1].strip("[]")
    if value.isdigit() and 0 < int(value) < 65536:
        return int(value)
    return None


def _start_stop_daemon(rest: list[str]) -> tuple[list[str], bool] | None:
    """The program ``start-stop-daemon -S`` starts (``-a``/``--startas`` over ``-x``/``--exec``), with its
    arguments after ``--``; None for stop, status and other actions."""
    takes_value = {"-x", "--exec", "-a", "--startas", "-n", "--name", "-p", "--pidfile", "-u", "--user",
                   "-c", "--chuid", "-g", "--group", "-r", "--chroot", "-d", "--chdir", "-N", "--nicelevel",
                   "-k", "--umask", "-s", "--signal", "-R", "--retry", "-P", "--procsched", "-I", "--iosched",
                   "--remove-pidfile", "--notify-timeout"}
    start = False
    exe = startas = None
    args: list[str] = []
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--":
            args = rest[i + 1:]
            break
        opt, eq, val = a.partition("=")
        if a in ("-S", "--start"):
            start = True
        elif a in ("-K", "--stop", "-T", "--status", "-H", "--help", "-V", "--version"):
            return None
        elif opt in takes_value:
            value = val if eq else (rest[i + 1] if i + 1 < len(rest) else "")
            if not eq:
                i += 1
            if opt in ("-x", "--exec"):
                exe = value
            elif opt in ("-a", "--startas"):
                startas = value
        elif re.fullmatch(r"-[A-Za-z]{2,}", a):
            # bundled short flags, e.g. -Sbx /usr/sbin/x or -bmS
            if "K" in a:
                return None
            if "S" in a:
                start = True
            if a[-1] in "xa" and i + 1 < len(rest):
                i += 1
                if a[-1] == "x":
                    exe = rest[i]
                else:
                    startas = rest[i]
        elif not a.startswith("-") and exe is None and startas is None:
            args = rest[i:]
            break
        i += 1
    program = startas or exe
    if not start or not program:
        return None
    return [program, *args], True
