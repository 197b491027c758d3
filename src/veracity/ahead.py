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

The work starts before the tree is complete: while a large filesystem is read (the engine asks :meth:`Ahead.watch`
when it starts writing one), its files are handed, in batches of ``BATCH_BYTES`` as they are written, to a child
forked for that tree (``parallel.Stream``, at a lower priority: reading a filesystem leaves part of the second core
idle, decompression comes in bursts and a stretch of small files is work for one core). One batch at a time, so
that what the child holds when the filesystem is complete is little: the rest of the tree is shared as above. What
a batch found counts only where the file on disk is still the one it read (same hash) when the tree is complete.
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
BATCH_BYTES = 8 * 2**20
"""Content handed to the child at a time while a filesystem is being read (one batch at a time: what it holds when
the filesystem is complete is not done twice)."""
BATCH_NICE = 10
"""The child takes what the reading of the filesystem leaves of the processors, not a share of it."""


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
        self._watched: Tree | None = None
        self._streamed = False
        self._halted = False
        self._pending: list[Node] = []
        self._pending_bytes = 0
        self._stream: parallel.Stream | None = None
        self._busy: list[list[Node]] = []
        """The files of the batches the child is working on, in the order they were sent."""
        self._snapshot: list[Tree] = []
        """The trees unpacked when the watched one was started (what the child's inventory knows)."""
        self._contents: dict[str, FileFacts] = {}
        """Facts of the contents this process analysed (text left in the file), by hash: a content met again in a
        later batch or share (a hard link, a copy) is not analysed again."""

    def watch(self, tree: Tree, trees: list[Tree], packed: int) -> Callable[[Node], None] | None:
        """Called when the engine starts writing ``tree`` (``packed`` bytes of image): the function to tell of each
        file written, if its files are to be worked on as they come (the first large tree only)."""
        # only with the checks' per-file work: the inventory's alone costs less than what a second process working
        # beside the reading of a filesystem slows it down (measured: `--checks none` 7.4 s without, 7.9 s with)
        if self.used or self._streamed or packed < inventory.PARALLEL_BYTES or not self.checks or \
                not parallel.may_fork():
            return None
        self._streamed = True  # one tree at most, and none of those unpacked from it
        self._watched = tree
        self._snapshot = list(trees)
        return self._wrote

    def _start(self) -> bool:
        """Fork the child, once the first batch is ready. lief is imported here first when the batch holds a
        program: once, for both processes, rather than by each of them (a third of a second of CPU time each)."""
        try:
            inventory.prepare(self._pending, self.patterns)
            tree, snapshot = self._watched, self._snapshot
            self._stream = parallel.Stream(lambda groups: self._analyse(tree, groups, snapshot), nice=BATCH_NICE)
        except Exception:  # noqa: BLE001 - a speed-up must never cost the unpacking
            self._stream = None
        if self._stream is not None and not self._stream.alive:
            self._stream = None
        return self._stream is not None

    def _wrote(self, node: Node) -> None:
        if self._watched is None or self._halted:
            return
        try:
            self._pending.append(node)
            self._pending_bytes += node.size
            stream = self._stream
            if stream is None:
                if self._pending_bytes < BATCH_BYTES:
                    return
                if not self._start():
                    self._halted = True  # no child: the tree is shared when it is complete, as any other
                    return
                stream = self._stream
            if not stream.idle:  # type: ignore[union-attr]
                self._take(stream.answers())  # type: ignore[union-attr]
            if stream.idle and self._pending_bytes >= BATCH_BYTES:  # type: ignore[union-attr]
                self._send()
        except Exception:  # noqa: BLE001 - a speed-up must never cost the unpacking: the rest is done later
            self._halted = True  # no more batches; what came back is still checked when the tree is complete

    def _send(self) -> None:
        size = n = 0
        while n < len(self._pending) and size < BATCH_BYTES:  # at most a batch: the rest waits for the next one
            size += self._pending[n].size
            n += 1
        nodes, self._pending = self._pending[:n], self._pending[n:]
        self._pending_bytes -= size
        if self._stream is None or (self.deadline is not None and time.monotonic() > self.deadline):
            return
        groups = [[replace(node, fetch=None) for node in group] for _size, group in self._groups(nodes)]
        if groups and self._stream.send(groups):
            self._busy.append(nodes)

    def _take(self, answers: list[Any]) -> None:
        for answer in answers:
            if self._busy:
                self._busy.pop(0)
            if answer is not None:
                self.facts.update(answer[0])
                self.results.update(answer[1])

    def close(self) -> None:
        """Stop the child of a watched tree the engine never said was complete (unpacking ended by an error): what
        came back counts only for the files that are still what it read."""
        if self._stream is not None:
            self._stream.kill()
            self._stream = None
        if self._watched is not None:
            self._verify(self._watched)
            self._watched = None

    def __call__(self, tree: Tree, trees: list[Tree], rest: Callable[[], None]) -> None:
        """Run ``rest`` (the unpacking of what ``tree`` holds) here, while a child works on the files of ``tree``
        (``trees``: every tree unpacked so far, ``tree`` among them)."""
        watched = tree is self._watched
        if watched:
            self._watched = None
            self._pending, self._pending_bytes = [], 0  # the files not handed out yet: done with the rest below
            if self._stream is not None:
                self._last_batch(tree)
        try:
            if self.used or not parallel.may_fork():  # used: also for the trees opened during the pass
                rest()
                return
            try:
                groups = self._groups(self._left(tree) if watched else self._files(tree))
                worth = sum(size for size, _ in groups) >= inventory.PARALLEL_BYTES and len(groups) >= 2
                if worth:
                    inventory.prepare((group[0] for _size, group in groups), self.patterns)
            except Exception:  # noqa: BLE001 - a speed-up must never cost the unpacking: the inventory does it all
                worth = False
            if not worth:
                before = len(trees)
                rest()
                if watched:  # while the child works on the batches it was sent
                    self._nested(trees[before:], trees)
                return
            self.used = True
            self._work(tree, trees, groups, rest)
        finally:
            if watched:
                if self._stream is not None:
                    self._take(self._stream.close(self.deadline))
                    self._stream = None
                self._verify(tree)

    def _last_batch(self, tree: Tree) -> None:
        """One more batch for the child, queued behind the one it may be working on: it works on it while this
        process gets the rest of the tree ready to share (lief is imported here then, a third of a second in which
        the child would otherwise have nothing to do). The batch's names usually fit in the pipe: sending waits at
        most until the child has done the batch before."""
        stream = self._stream
        try:
            self._take(stream.answers())  # type: ignore[union-attr]
            if stream is not None and not stream.alive:
                self._busy = []  # a child that ended answers no more: its batches are shared below
            elif stream is not None and len(self._busy) < 2 and not self._halted:
                self._pending = self._left(tree)
                self._pending_bytes = sum(node.size for node in self._pending)
                self._send()
        except Exception:  # noqa: BLE001 - a speed-up must never cost the unpacking: the rest is shared below
            self._halted = True
        finally:
            self._pending, self._pending_bytes = [], 0

    @staticmethod
    def _files(tree: Tree) -> list[Node]:
        return sorted((n for n in tree.nodes.values() if n.kind == "file" and n.disk_path), key=lambda n: n.path)

    def _left(self, tree: Tree) -> list[Node]:
        """The files of a watched tree that no batch took (answered, or still in the background)."""
        busy = {node.disk_path for batch in self._busy for node in batch}
        return [n for n in self._files(tree) if n.disk_path not in busy and (
            n.disk_path not in self.facts or self.facts[n.disk_path].sha256 != n.sha256)]  # type: ignore[index]

    def _verify(self, tree: Tree) -> None:
        """Forget what a batch found of a file that is no longer the one it read (written again since)."""
        now = {n.disk_path: n.sha256 for n in tree.nodes.values() if n.kind == "file" and n.disk_path}
        for path in [p for p, f in self.facts.items() if p in now and now[p] != f.sha256]:
            del self.facts[path]

    def _groups(self, nodes: list[Node]) -> list[tuple[int, list[Node]]]:
        """Of ``nodes``, the files that no cache knows, grouped by content (one analysis for all the places of one
        content), with the content's size; written to disk first where they were recorded for later."""
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
        """``groups`` of ``tree`` in shares, taken by a child and by this process once it has run ``rest`` and
        worked on the files of the trees ``rest`` unpacked (``trees`` is the engine's list: they are added to it)."""
        parts = parallel.shares(groups, [float(size) + 4096 for size, _ in groups], SHARES)
        snapshot = list(trees)

        def task(part: int) -> tuple[dict[str, FileFacts], dict[tuple[str, str], Any]]:
            return self._analyse(tree, [group for _size, group in parts[part]], snapshot)

        def before() -> None:
            rest()
            self._nested(trees[len(snapshot):], trees)

        for answer in parallel.shared(SHARES, task, before=before, deadline=self.deadline):
            if answer is not parallel.TIMED_OUT:
                self.facts.update(answer[0])
                self.results.update(answer[1])

    def _nested(self, nested: list[Tree], trees: list[Tree]) -> None:
        """The files of the trees unpacked from the one being shared (compressed files, nested images): worked on
        here while the child takes shares, rather than by the inventory alone after both are done."""
        try:
            where: list[Tree] = []
            groups: list[list[Node]] = []
            for sub in nested:
                for _size, group in self._groups(self._files(sub)):
                    where.append(sub)
                    groups.append(group)
            if groups:
                facts, results = self._analyse(where[0], groups, list(trees), where=where)
                self.facts.update(facts)
                self.results.update(results)
        except Exception:  # noqa: BLE001, S110 - a speed-up must never cost the unpacking: the inventory does it
            pass

    def _analyse(self, tree: Tree, groups: list[list[Node]], trees: list[Tree], where: list[Tree] | None = None
                 ) -> tuple[dict[str, FileFacts], dict[tuple[str, str], Any]]:
        """Facts of the files of ``groups`` (the places of one content each, in ``tree``, or in ``where[i]`` for
        the ``i``-th) by place on disk, and what the checks work out of them."""
        facts: dict[str, FileFacts] = {}
        inv = Inventory(trees, cache=_NoKeep(self.cache))  # type: ignore[arg-type]
        try:
            for n, group in enumerate(groups):
                if where is not None:
                    tree = where[n]
                if self.deadline is not None and time.monotonic() > self.deadline:
                    break  # left to the inventory, which has the scan's own limits
                found = self._analyse_file(group[0])
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

    def _analyse_file(self, node: Node) -> FileFacts | None:
        """The facts of ``node``'s content, analysed once per process."""
        seen = self._contents.get(node.sha256) if node.sha256 else None
        if seen is not None:
            if seen.text != inventory.TEXT_LEFT:
                return seen
            found = inventory.text_of(seen, node)
            return None if found.error else found
        found = inventory.analyse_file(node, self.patterns)
        if found is not None and node.sha256 and found.sha256 == node.sha256:
            self._contents[node.sha256] = inventory.text_left(found)
        return found

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
