"""Tests of the malicious-code heuristics (checks/malcode.py).

Ground truth: ``shared/corpus/packages/labelled-snippets/`` (code snippets of real malicious PyPI, npm, Go
and RubyGems packages, from DataDog/guarddog @ca8b5b43 : tests/analyzer/sourcecode/, Apache-2.0). In each
file a ``ruleid:`` comment says the next line is malicious and must be reported, an ``ok:`` comment says the
next line is a benign look-alike that must stay quiet; the ``benign/`` folder must stay entirely quiet. The
snippets are data only: veracity's patterns are its own (guarddog's semgrep/YARA rules are not used).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import veracity.checks.registry
from veracity.checks.malcode import MalcodeCheck
from veracity.patterns import PatternSet
from veracity.testing.memfs import inventory_from

from conftest import CORPUS, corpus, findings

SNIPPETS = CORPUS / "packages" / "labelled-snippets"
PATTERNS = PatternSet(MalcodeCheck.PATTERNS)

# Snippet files whose guarddog rule is one of this check's concerns, with the categories expected there.
# The others (clipboard, screenshots, DLL hijacking, shady links, plain process execution...) are scanned
# too: their ok: lines and benign files must stay quiet, their ruleid: lines are only counted for information.
IN_SCOPE = {
    "download-executable.py": {"code.download-exec"},
    "exec-base64.py": {"code.obfuscated", "code.download-exec"},
    "exfiltrate-sensitive-data.py": {"code.exfiltration"},
    "cmd-overwrite.py": {"code.malicious"},
    "obfuscation.py": {"code.obfuscated"},
    "npm-exec-base64.js": {"code.obfuscated"},
    "npm-exfiltrate-sensitive-data.js": {"code.exfiltration"},
    "npm-install-script.json": {"code.malicious"},
    "npm-obfuscation.js": {"code.obfuscated"},
    "go-exec-base64.go": {"code.obfuscated"},
    "go-exec-download.go": {"code.download-exec"},
    "go-exfiltrate-sensitive-data.go": {"code.exfiltration"},
    "rubygems-exec-base64.rb": {"code.obfuscated"},
    "rubygems-exfiltrate-sensitive-data.rb": {"code.exfiltration"},
    "rubygems-install-hook.rb": {"code.malicious"},
}
# Unlabelled files that are malicious as a whole (guarddog tests them with YARA): at least one finding of
# the category.
FILE_POSITIVES = {
    "threat-process-download-exec.py": "code.download-exec",
    "threat-runtime-dynamic-loader.py": "code.download-exec",
    "threat-runtime-obfuscation-base64exec.py": "code.obfuscated",
    "threat-process-hooks.json": "code.malicious",
    "threat-setup-import-aliasing.py": "code.download-exec",
    "threat-runtime-obfuscation-dynamic-eval.js": "code.obfuscated",
    "threat-runtime-obfuscation-js-mangling.js": "code.obfuscated",
    "threat-runtime-obfuscation-steganography.py": "code.obfuscated",
}
MIN_RECALL = 0.8
LABEL = re.compile(r"(?:#|//|/\*|\*)\s*(ruleid|ok)\s*:\s*([\w-]+)")


def _memfs_path(name: str) -> str:
    if name.endswith(".json"):
        return f"/pkg/{name[:-5]}/package.json"  # npm manifests are only read as package.json
    return f"/snippets/{name}"


def _scan(files: dict[str, str], tmp_path: Path):
    inv = inventory_from(files, tmp_path, patterns=PATTERNS)
    return list(MalcodeCheck().run(inv, {}))


@dataclass
class Labels:
    ruleid: list[tuple[int, int]]  # (first line, last line) of the labelled region
    ok: list[int]


def _labels(text: str) -> Labels:
    lines = text.split("\n")
    marks = [(n + 1, m[1]) for n, line in enumerate(lines) if (m := LABEL.search(line))]
    ruleid, ok = [], []
    for i, (n, kind) in enumerate(marks):
        target = n + 1
        if kind == "ok":
            ok.append(target)
        else:
            # a ruleid region runs to the next label (at most 10 lines): the malicious statement may span lines
            nxt = marks[i + 1][0] if i + 1 < len(marks) else len(lines) + 1
            ruleid.append((target, min(nxt - 1, target + 9)))
    return Labels(ruleid, ok)


def _snippet_files() -> list[Path]:
    if not SNIPPETS.exists():
        return []
    return sorted(p for p in SNIPPETS.iterdir() if p.is_file())


@pytest.fixture(scope="module")
def snippet_results(tmp_path_factory):
    corpus("packages/labelled-snippets")
    tmp = tmp_path_factory.mktemp("snippets")
    results = {}
    for n, path in enumerate(_snippet_files()):
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        sub = tmp / f"s{n}"
        sub.mkdir()
        results[path.name] = (text, _scan({_memfs_path(path.name): text}, sub))
    return results


def test_labelled_snippets_recall_and_precision(snippet_results, capsys):
    """Every in-scope ruleid: line is reported (recall >= 0.8 overall); no ok: line ever is."""
    tp = fn = fp = 0
    report = []
    for name, (text, found) in sorted(snippet_results.items()):
        labels = _labels(text)
        lines = [f.line for f in found]
        hit = [any(a <= ln <= b for ln in lines if ln) for a, b in labels.ruleid]
        wrong = [n for n in labels.ok if n in lines]
        fp += len(wrong)
        if name in IN_SCOPE:
            tp += sum(hit)
            fn += len(hit) - sum(hit)
            cats = {f.category for f in found}
            report.append(f"{name:42} ruleid {sum(hit):2}/{len(hit):2}  ok-hits {len(wrong)}  categories {sorted(cats)}")
        else:
            report.append(f"{name:42} (out of scope) ruleid {sum(hit)}/{len(hit)}  ok-hits {len(wrong)}  findings {len(found)}")
        for f in found:
            assert f.line is not None
    recall = tp / (tp + fn)
    precision = tp / (tp + fp) if tp + fp else 1.0
    with capsys.disabled():
        print("\nlabelled snippets (DataDog/guarddog tests/analyzer/sourcecode, Apache-2.0):")
        print("\n".join("  " + r for r in report))
        print(f"  in-scope ruleid lines: {tp}/{tp + fn} found, recall {recall:.2f}; ok: lines reported {fp}; "
              f"precision on labelled lines {precision:.2f}")
    assert fp == 0, "a benign look-alike (ok: line) was reported"
    assert recall >= MIN_RECALL


def test_labelled_snippets_categories(snippet_results):
    """Findings in the in-scope files carry the category of the guarddog rule's concern."""
    for name, expected in IN_SCOPE.items():
        if name not in snippet_results:
            continue
        cats = {f.category for f in snippet_results[name][1]}
        assert cats & expected, (name, cats)


@pytest.mark.parametrize("name,category", sorted(FILE_POSITIVES.items()))
def test_file_level_positives(snippet_results, name, category):
    found = snippet_results[name][1]
    assert category in {f.category for f in found}, [(f.rule, f.line, f.evidence) for f in found]


def test_benign_snippets_stay_quiet(tmp_path):
    folder = corpus("packages/labelled-snippets/benign")
    for n, path in enumerate(sorted(folder.iterdir())):
        sub = tmp_path / f"b{n}"
        sub.mkdir()
        found = _scan({_memfs_path(path.name): path.read_text()}, sub)
        assert found == [], (path.name, [(f.rule, f.line, f.evidence) for f in found])
