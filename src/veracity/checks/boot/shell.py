"""A parser for the shell scripts firmware boots with: good enough for rcS, init.d and rc.common scripts.

It reads POSIX sh (plus the little bash and busybox ash add that boot scripts use) into a small syntax
tree: simple commands with their assignments, pipelines, ``&&``/``||`` lists, ``&``, ``if``, ``for``,
``while``/``until``, ``case``, brace groups, subshells and function definitions. Comments, here-documents
and redirections are read and dropped. Nothing is ever executed; :mod:`.interp` walks the tree.

The parser never raises on bad input: an unterminated quote or a missing ``fi`` closes what is open at
the end of the file and is recorded in :attr:`Script.errors` (line, message), so the caller can report an
incomplete analysis and still walk what was understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_NESTING = 100
"""Deeper nesting than this is hostile or broken; the parser stops descending and records an error."""

_OPERATORS = ("&&", "||", ";;", "<<-", "<<", ">>", ">&", "<&", "<>", ">|", "&>", ";", "&", "|", "(", ")", "<", ">")
_REDIRECTIONS = {"<<-", "<<", ">>", ">&", "<&", "<>", ">|", "&>", "<", ">"}
_META = set(";&|()<> \t\r\n")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\+?=)")
RESERVED = {"if", "then", "elif", "else", "fi", "for", "in", "do", "done", "while", "until", "case", "esac",
            "{", "}", "!", "function", "select"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    """``word``, ``op``, ``nl`` or ``eof``."""
    value: str
    line: int


@dataclass(frozen=True, slots=True)
class Word:
    raw: str
    """As written, quotes included; :mod:`.interp` expands it."""
    line: int


@dataclass(slots=True)
class Simple:
    words: list[Word]
    assigns: list[tuple[str, Word]]
    line: int


@dataclass(slots=True)
class Pipeline:
    commands: list
    negate: bool
    line: int


@dataclass(slots=True)
class AndOr:
    first: Pipeline
    rest: list[tuple[str, Pipeline]]
    line: int


@dataclass(slots=True)
class Stmt:
    node: AndOr
    background: bool
    line: int


@dataclass(slots=True)
class If:
    clauses: list[tuple[list[Stmt], list[Stmt]]]
    orelse: list[Stmt] | None
    line: int


@dataclass(slots=True)
class For:
    var: str
    words: list[Word] | None
    """None: ``for x; do`` iterates over the positional parameters."""
    body: list[Stmt]
    line: int


@dataclass(slots=True)
class While:
    cond: list[Stmt]
    body: list[Stmt]
    until: bool
    line: int


@dataclass(slots=True)
class Case:
    word: Word
    items: list[tuple[list[Word], list[Stmt]]]
    line: int


@dataclass(slots=True)
class Group:
    body: list[Stmt]
    subshell: bool
    line: int


@dataclass(slots=True)
class FuncDef:
    name: str
    body: list[Stmt]
    line: int


@dataclass(slots=True)
class Script:
    body: list[Stmt]
    lines: list[str]
    errors: list[tuple[int, str]] = field(default_factory=list)

    def text(self, line: int) -> str:
        """The source line ``line`` (1-based), stripped, for evidence."""
        if 1 <= line <= len(self.lines):
            return self.lines[line - 1].strip()
        return ""


def parse(text: str) -> Script:
    """Parse a whole script. Never raises."""
    tokens, errors = tokenize(text)
    parser = _Parser(tokens, errors)
    body = parser.program()
    return Script(body, text.splitlines(), errors)


# -- tokens -------------------------------------------------------------------------------------------------


def tokenize(text: str) -> tuple[list[Token], list[tuple[int, str]]]:
    tokens: list[Token] = []
    errors: list[tuple[int, str]] = []
    heredocs: list[tuple[str, bool]] = []
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\\" and text.startswith("\n", i + 1):
            i += 2
            line += 1
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if c == "\n":
            tokens.append(Token("nl", "\n", line))
            i += 1
            line += 1
            if heredocs:
                i, line = _skip_heredocs(text, i, line, heredocs, errors)
                heredocs = []
            continue
        if c.isdigit():
            j = i
            while j < n and text[j].isdigit():
                j += 1
            if j < n and text[j] in "<>":
                i = j  # an io number: the redirection operator follows
                continue
        op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
        if op is not None:
            tokens.append(Token("op", op, line))
            i += len(op)
            if op in ("<<", "<<-"):
                while i < n and text[i] in " \t":
                    i += 1
                start_line = line
                j, line = _read_word(text, i, line, errors)
                raw = text[i:j]
                i = j
                if raw:
                    tokens.append(Token("word", raw, start_line))
                    heredocs.append((_unquote_delimiter(raw), op == "<<-"))
            continue
        start_line = line
        j, line = _read_word(text, i, line, errors)
        tokens.append(Token("word", text[i:j], start_line))
        i = j
    tokens.append(Token("eof", "", line))
    return tokens, errors


def _read_word(text: str, i: int, line: int, errors: list[tuple[int, str]]) -> tuple[int, int]:
    """End of the word starting at ``i`` (quotes, escapes, ``$(...)``, backquotes kept inside)."""
    n = len(text)
    while i < n:
        c = text[i]
        if c in _META:
            break
        if c == "\\":
            if i + 1 < n and text[i + 1] == "\n":
                line += 1
            i += 2
            continue
        if c == "'":
            j = text.find("'", i + 1)
            if j < 0:
                errors.append((line, "unterminated single quote"))
                return n, line + text.count("\n", i)
            line += text.count("\n", i, j)
            i = j + 1
            continue
        if c == '"':
            i, line = _skip_double(text, i + 1, line, errors)
            continue
        if c == "`":
            i, line = _skip_backquote(text, i + 1, line, errors)
            continue
        if c == "$" and i + 1 < n and text[i + 1] in "({":
            i, line = _skip_balanced(text, i + 1, line, errors)
            continue
        i += 1
    return i, line


def _skip_double(text: str, i: int, line: int, errors: list[tuple[int, str]]) -> tuple[int, int]:
    n = len(text)
    start = line
    while i < n:
        c = text[i]
        if c == '"':
            return i + 1, line
        if c == "\\":
            if i + 1 < n and text[i + 1] == "\n":
                line += 1
            i += 2
            continue
        if c == "\n":
            line += 1
        elif c == "`":
            i, line = _skip_backquote(text, i + 1, line, errors)
            continue
        elif c == "$" and i + 1 < n and text[i + 1] in "({":
            i, line = _skip_balanced(text, i + 1, line, errors)
            continue
        i += 1
    errors.append((start, "unterminated double quote"))
    return n, line


def _skip_backquote(text: str, i: int, line: int, errors: list[tuple[int, str]]) -> tuple[int, int]:
    n = len(text)
    start = line
    while i < n:
        c = text[i]
        if c == "`":
            return i + 1, line
        if c == "\\":
            i += 2
            continue
        if c == "\n":
            line += 1
        i += 1
    errors.append((start, "unterminated command substitution (`)"))
    return n, line


def _skip_balanced(text: str, i: int, line: int, errors: list[tuple[int, str]]) -> tuple[int, int]:
    """``i`` at ``(`` or ``{`` after ``$``: the index after the matching closer."""
    n = len(text)
    opener = text[i]
    closer = ")" if opener == "(" else "}"
    depth = 0
    start = line
    while i < n:
        c = text[i]
        if c == opener:
            depth += 1
        elif c == closer:
            depth -= 1
            if depth == 0:
                return i + 1, line
        elif c == "\\":
            i += 2
            continue
        elif c == "'" and opener == "(":
            j = text.find("'", i + 1)
            if j < 0:
                break
            line += text.count("\n", i, j)
            i = j + 1
            continue
        elif c == '"':
            i, line = _skip_double(text, i + 1, line, errors)
            continue
        elif c == "`":
            i, line = _skip_backquote(text, i + 1, line, errors)
            continue
        elif c == "#" and opener == "(" and (text[i - 1] in " \t\n"):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif c == "\n":
            line += 1
        i += 1
    errors.append((start, f"unterminated ${opener}"))
    return n, line


def _unquote_delimiter(raw: str) -> str:
    return raw.replace("'", "").replace('"', "").replace("\\", "")


def _skip_heredocs(text: str, i: int, line: int, docs: list[tuple[str, bool]], errors) -> tuple[int, int]:
    n = len(text)
    for delim, strip_tabs in docs:
        start = line
        while True:
            if i >= n:
                errors.append((start, f"here-document not terminated by {delim!r}"))
                return n, line
            j = text.find("\n", i)
            end = n if j < 0 else j
            body = text[i:end]
            i = end + 1 if j >= 0 else n
            line += 1
            if (body.lstrip("\t") if strip_tabs else body) == delim:
                break
    return i, line


# -- syntax -------------------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, tokens: list[Token], errors: list[tuple[int, str]]):
        self.t = tokens
        self.i = 0
        self.errors = errors
        self.depth = 0

    def peek(self) -> Token:
        return self.t[self.i]

    def next(self) -> Token:
        tok = self.t[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def is_word(self, *values: str) -> bool:
        tok = self.t[self.i]
        return tok.kind == "word" and tok.value in values

    def is_op(self, *values: str) -> bool:
        tok = self.t[self.i]
        return tok.kind == "op" and tok.value in values

    def skip_newlines(self) -> None:
        while self.t[self.i].kind == "nl":
            self.i += 1

    def expect_word(self, value: str, opener: str, line: int) -> None:
        self.skip_newlines()
        if self.is_word(value):
            self.next()
        else:
            self.errors.append((line, f"{opener} without {value}"))

    def program(self) -> list[Stmt]:
        body: list[Stmt] = []
        while True:
            body.extend(self.stmts(()))
            tok = self.peek()
            if tok.kind == "eof":
                return body
            # A stray closer at the top level: note it and carry on after it.
            self.errors.append((tok.line, f"unexpected {tok.value!r}"))
            self.next()

    def stmts(self, stop_words: tuple[str, ...], stop_ops: tuple[str, ...] = ()) -> list[Stmt]:
        out: list[Stmt] = []
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                self.errors.append((self.peek().line, "nesting too deep"))
                self._skip_to_end()
                return out
            while True:
                while self.peek().kind == "nl" or self.is_op(";"):
                    self.next()
                tok = self.peek()
                if tok.kind == "eof":
                    return out
                if tok.kind == "word" and tok.value in stop_words:
                    return out
                if tok.kind == "op" and (tok.value in stop_ops or tok.value in (")", ";;", "&&", "||", "|", "&")):
                    if tok.value in stop_ops:
                        return out
                    if tok.value in (")", ";;"):
                        return out  # the caller decides whether this closer is expected
                    self.errors.append((tok.line, f"unexpected {tok.value!r}"))
                    self.next()
                    continue
                if tok.kind == "word" and tok.value in ("then", "elif", "else", "fi", "do", "done", "esac", "}", "in"):
                    return out
                start = self.i
                node = self.and_or()
                background = False
                if self.is_op("&"):
                    self.next()
                    background = True
                elif self.is_op(";"):
                    self.next()
                out.append(Stmt(node, background, node.line))
                if self.i == start:  # no progress: drop the token rather than loop
                    self.next()
        finally:
            self.depth -= 1

    def _skip_to_end(self) -> None:
        self.i = len(self.t) - 1

    def and_or(self) -> AndOr:
        first = self.pipeline()
        rest: list[tuple[str, Pipeline]] = []
        while self.is_op("&&", "||"):
            op = self.next().value
            self.skip_newlines()
            rest.append((op, self.pipeline()))
        return AndOr(first, rest, first.line)

    def pipeline(self) -> Pipeline:
        line = self.peek().line
        negate = False
        if self.is_word("!"):
            self.next()
            negate = True
        commands = [self.command()]
        while self.is_op("|"):
            self.next()
            self.skip_newlines()
            commands.append(self.command())
        return Pipeline(commands, negate, line)

    def command(self):
        tok = self.peek()
        line = tok.line
        if tok.kind == "word":
            v = tok.value
            if v == "if":
                node = self.if_()
            elif v in ("for", "select"):
                node = self.for_()
            elif v in ("while", "until"):
                node = self.while_()
            elif v == "case":
                node = self.case()
            elif v == "{":
                self.next()
                body = self.stmts(("}",))
                self.expect_word("}", "{", line)
                node = Group(body, False, line)
            elif v == "function":
                node = self.function()
            elif (
                _NAME.match(v)
                and self.t[self.i + 1].kind == "op" and self.t[self.i + 1].value == "("
                and self.t[self.i + 2].kind == "op" and self.t[self.i + 2].value == ")"
            ):
                self.i += 3
                node = FuncDef(v, self.function_body(line), line)
            else:
                return self.simple()
        elif tok.kind == "op" and tok.value == "(":
            self.next()
            if self.is_op("("):  # (( arithmetic ))
                self._skip_arith()
                return Simple([], [], line)
            body = self.stmts((), (")",))
            if self.is_op(")"):
                self.next()
            else:
                self.errors.append((line, "( without )"))
            node = Group(body, True, line)
        else:
            return self.simple()
        self.redirections()
        return node

    def _skip_arith(self) -> None:
        depth = 1
        while self.peek().kind != "eof" and depth:
            tok = self.next()
            if tok.kind == "op" and tok.value == "(":
                depth += 1
            elif tok.kind == "op" and tok.value == ")":
                depth -= 1
        if self.is_op(")"):
            self.next()

    def redirections(self) -> None:
        while self.is_op(*_REDIRECTIONS):
            self.next()
            if self.peek().kind == "word":
                self.next()

    def simple(self) -> Simple:
        line = self.peek().line
        words: list[Word] = []
        assigns: list[tuple[str, Word]] = []
        while True:
            tok = self.peek()
            if tok.kind == "word":
                self.next()
                m = _ASSIGN.match(tok.value)
                if not words and m:
                    assigns.append((m.group(1), Word(tok.value[m.end():], tok.line)))
                else:
                    words.append(Word(tok.value, tok.line))
            elif tok.kind == "op" and tok.value in _REDIRECTIONS:
                self.next()
                if self.peek().kind == "word":
                    self.next()
            else:
                break
        return Simple(words, assigns, line)

    def function_body(self, line: int) -> list[Stmt]:
        self.skip_newlines()
        node = self.command()
        if isinstance(node, Group):
            return node.body
        if isinstance(node, Simple):
            self.errors.append((line, "function without a body"))
        return [Stmt(AndOr(Pipeline([node], False, line), [], line), False, line)]

    def function(self) -> FuncDef:
        line = self.next().line
        tok = self.next()
        name = tok.value if tok.kind == "word" else ""
        if self.is_op("(") and self.t[self.i + 1].kind == "op" and self.t[self.i + 1].value == ")":
            self.i += 2
        return FuncDef(name, self.function_body(line), line)

    def if_(self) -> If:
        line = self.next().line
        clauses: list[tuple[list[Stmt], list[Stmt]]] = []
        orelse: list[Stmt] | None = None
        while True:
            cond = self.stmts(("then",))
            self.expect_word("then", "if", line)
            body = self.stmts(("elif", "else", "fi"))
            clauses.append((cond, body))
            if self.is_word("elif"):
                self.next()
                continue
            if self.is_word("else"):
                self.next()
                orelse = self.stmts(("fi",))
            break
        self.expect_word("fi", "if", line)
        return If(clauses, orelse, line)

    def for_(self) -> For:
        line = self.next().line
        tok = self.next()
        var = tok.value if tok.kind == "word" else ""
        if tok.kind == "op" and tok.value == "(":  # for (( ; ; )) - bash arithmetic loop
            self._skip_arith()
            var = ""
        words: list[Word] | None = None
        self.skip_newlines()
        if self.is_word("in"):
            self.next()
            words = []
            while self.peek().kind == "word":
                tok = self.next()
                words.append(Word(tok.value, tok.line))
        while self.peek().kind == "nl" or self.is_op(";"):
            self.next()
        self.expect_word("do", "for", line)
        body = self.stmts(("done",))
        self.expect_word("done", "for", line)
        return For(var, words, body, line)

    def while_(self) -> While:
        tok = self.next()
        line = tok.line
        cond = self.stmts(("do",))
        self.expect_word("do", tok.value, line)
        body = self.stmts(("done",))
        self.expect_word("done", tok.value, line)
        return While(cond, body, tok.value == "until", line)

    def case(self) -> Case:
        line = self.next().line
        tok = self.next()
        word = Word(tok.value if tok.kind == "word" else "", tok.line)
        self.skip_newlines()
        if self.is_word("in"):
            self.next()
        else:
            self.errors.append((line, "case without in"))
        items: list[tuple[list[Word], list[Stmt]]] = []
        while True:
            self.skip_newlines()
            if self.is_word("esac") or self.peek().kind == "eof":
                break
            if self.is_op("("):
                self.next()
            patterns: list[Word] = []
            while True:
                tok = self.peek()
                if tok.kind == "word":
                    patterns.append(Word(tok.value, tok.line))
                    self.next()
                elif tok.kind == "op" and tok.value == "|":
                    self.next()
                else:
                    break
            if self.is_op(")"):
                self.next()
            else:
                self.errors.append((self.peek().line, "case pattern without )"))
                if not patterns:
                    self.next()
                    continue
            body = self.stmts(("esac",), (";;",))
            items.append((patterns, body))
            if self.is_op(";;"):
                self.next()
            elif self.is_op(";") and self.t[self.i + 1].kind == "op" and self.t[self.i + 1].value in ("&", ";&"):
                self.i += 2
        self.expect_word("esac", "case", line)
        return Case(word, items, line)
