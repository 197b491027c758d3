"""The files of an image's first large tree, worked on while the unpacker opens what is nested in it.

Once a filesystem is read, unpacking goes on with the containers found inside it (compressed files, nested
images): work for one core. Meanwhile a forked child (see veracity.parallel) analyses the tree's files for the
inventory and works out the checks' per-file results for them (each check's ``prefetch``); this process joins in
when it is done unpacking. The inventory then takes those facts (by the file's place on disk, see
``inventory.build``) and the checks recall those results (``Inventory.prefetched``): nothing is done twice.

It changes no result. A result whose key comes out different in the end (a check's key may depend on the whole
image, or on a text the inventory does not keep) is not recalled; a file this pass could not read, a share lost
with the child, or a share past the scan's deadline is left to the inventory and the checks, which work it out as
they would without this pass and report its problems. ``VERACITY_NO_FORK=1`` turns it off.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from . import inventory, parallel
from .inventory import Cache, FileFacts, Inventory, Item
from .patterns import PatternSet
from .tree import Node, Tree

SHARES = 32
"""Shares of the tree's files, taken by the child and (when it is done unpacking) this process in turn."""


class Ahead:
    """Given to the unpacking engine, which calls it once per tree (see ``Engine``); it uses the first tree worth a
    second process. ``facts`` and ``results`` are what was worked out."""

    def __init__(self, cache: Cache, patterns: PatternSet, checks: Iterable[Any] = (), deadline: float | None = None):
        self.cache = cache
        self.patterns = patterns
        self.checks = [c for c in checks if callable(getattr(c, "prefetch", None))]
        self.deadline = deadline
        self.facts: dict[str, FileFacts] = {}
        """Facts by the file's place on disk, the text left in the file (``inventory.TEXT_LEFT``)."""
        self.results: dict[tuple[str, str], Any] = {}
        """The checks' per-file results, by (namespace, key), as ``Inventory.prefetched`` holds them."""
        self.used = False

    def __call__(self, tree: Tree, trees: list[Tree], rest: Callable[[], None]) -> None:
        """Run ``rest`` (the unpacking of what ``tree`` holds) here, while a child works on the files of ``tree``
        (``trees``: every tree unpacked so far, ``tree`` among them)."""
        if self.used or not parallel.may_fork():  # used: also for the trees opened during the pass
            rest()
            return
        try:
            groups = self._groups(tree)
            worth = sum(size for size, _ in groups) >= inventory.PARALLEL_BYTES and len(groups) >= 2
            if worth:
                inventory.prepare((group[0] for _size, group in groups), self.patterns)
        except Exception:  # noqa: BLE001 - a speed-up must never cost the unpacking: the inventory does it all
            worth = False
        if not worth:
            rest()
            return
        self.used = True
        self._work(tree, list(trees), groups, rest)

    def _groups(self, tree: Tree) -> list[tuple[int, list[Node]]]:
        """The tree's files that no cache knows, grouped by content (one analysis for all the places of one
        content), with the content's size; written to disk first where they were recorded for later."""
        nodes = sorted((n for n in tree.nodes.values() if n.kind == "file" and n.disk_path), key=lambda n: n.path)
        work, _ = inventory.unknown(nodes, self.cache, {})
        ready = inventory.written(nodes, work)
        groups: dict[str, list[Node]] = {}
        for n in ready:
            node = nodes[n]
            groups[node.sha256 or f"\0{n}"] = [node]
        for node in nodes:  # the other places of the same contents
            if node.sha256 and node.sha256 in groups and groups[node.sha256][0] is not node:
                groups[node.sha256].append(node)
        return [(group[0].size, group) for group in groups.values()]

    def _work(self, tree: Tree, trees: list[Tree], groups: list[tuple[int, list[Node]]],
              rest: Callable[[], None]) -> None:
        parts = parallel.shares(groups, [float(size) + 4096 for size, _ in groups], SHARES)
        reader = _NoKeep(self.cache)

        def task(part: int) -> tuple[dict[str, FileFacts], dict[tuple[str, str], Any]]:
            facts: dict[str, FileFacts] = {}
            inv = Inventory(trees, cache=reader)  # type: ignore[arg-type]
            try:
                for _size, group in parts[part]:
                    if self.deadline is not None and time.monotonic() > self.deadline:
                        break  # left to the inventory, which has the scan's own limits
                    found = inventory.analyse_file(group[0], self.patterns)
                    if found is None:
                        continue  # the inventory reads it again and says why it cannot
                    for node in group:
                        facts[node.disk_path] = inventory.text_left(found)  # type: ignore[index]
                        if node.sha256 != found.sha256:
                            node = replace(node, sha256=found.sha256)
                        inv.add(Item(tree, node, found))
            except Exception:  # noqa: BLE001 - what this share did not finish, the inventory does
                return facts, {}
            results: dict[tuple[str, str], Any] = {}
            for check in self.checks if inv.items else ():
                try:
                    results.update(check.prefetch(inv, 0, 1))
                except Exception:  # noqa: BLE001, S112 - the check's own run works it out again, and says why
                    continue
            return facts, results

        for answer in parallel.shared(SHARES, task, before=rest, deadline=self.deadline):
            if answer is not parallel.TIMED_OUT:
                self.facts.update(answer[0])
                self.results.update(answer[1])

    def keep(self) -> None:
        """Keep the checks' results in the cache, as the checks would have (they recall them and keep nothing)."""
        for (namespace, key), value in self.results.items():
            self.cache.keep(namespace, key, value)


class _NoKeep:
    """The cache as the checks' per-file work sees it here: recalled from, never written (this process keeps what
    both processes found, once, see :meth:`Ahead.keep`)."""

    def __init__(self, cache: Cache):
        self._cache = cache

    def result(self, namespace: str, key: str) -> Any:
        return self._cache.result(namespace, key)

    def keep(self, namespace: str, key: str, value: Any) -> None:
        pass

    def flush(self) -> None:
        pass
