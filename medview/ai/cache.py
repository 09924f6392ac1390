"""Prepared plugins kept between runs: an LRU keyed on (plugin id, device).

Loading a model costs seconds and device memory; running it again on the next series should
not. Each entry holds one plugin instance and a lock: an instance runs one job at a time
(plugins need not be thread-safe), while different plugins, or the same plugin on different
devices, run in parallel. Past ``capacity`` the least recently used idle entry is released;
an entry evicted while in use is released by its user when it finishes (:meth:`done`).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from medview.ai import torch_backend
from medview.ai.api import Plugin

log = logging.getLogger("medview.ai.cache")


@dataclass(eq=False)
class Prepared:
    """One cache entry; ``plugin`` is None until the first job prepares it."""

    key: tuple[str, str]
    plugin: Plugin | None = None
    evicted: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class PreparedCache:
    """Thread-safe LRU of prepared plugins; calls ``release()`` on what it drops."""

    def __init__(self, capacity: int = 2) -> None:
        self.capacity = max(1, int(capacity))
        self._entries: OrderedDict[tuple[str, str], Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, key: tuple[str, str]) -> Prepared:
        """The entry for ``key``, locked for the caller (waits while another job uses it)."""
        idle: list[Prepared] = []
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = Prepared(key)
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                _, oldest = self._entries.popitem(last=False)
                oldest.evicted = True
                if oldest.lock.acquire(blocking=False):
                    idle.append(oldest)  # released below, outside the cache lock
        for old in idle:
            self._release(old)
            old.lock.release()
        entry.lock.acquire()
        return entry

    def done(self, entry: Prepared) -> None:
        """Give ``entry`` back; releases the plugin if it was evicted meanwhile."""
        try:
            if entry.evicted:
                self._release(entry)
        finally:
            entry.lock.release()

    def evict(self, entry: Prepared) -> None:
        """Drop ``entry`` (after a crash, an out-of-memory or a hang): the next job prepares
        a fresh instance. Its user releases it in :meth:`done`."""
        with self._lock:
            if self._entries.get(entry.key) is entry:
                del self._entries[entry.key]
            entry.evicted = True

    def clear(self) -> None:
        """Release every idle entry (shutdown); busy ones are released by their users."""
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
        for entry in entries:
            entry.evicted = True
            if entry.lock.acquire(blocking=False):
                self._release(entry)
                entry.lock.release()

    def loaded(self) -> list[tuple[str, str]]:
        """The (plugin id, device) pairs held, least recently used first."""
        with self._lock:
            return list(self._entries)

    @staticmethod
    def _release(entry: Prepared) -> None:
        plugin, entry.plugin = entry.plugin, None
        if plugin is None:
            return
        try:
            plugin.release()
        except Exception:  # a plugin failing to clean up must not take the runner down
            log.exception("plugin %s: release() failed", entry.key[0])
        torch_backend.empty_cache(entry.key[1])
