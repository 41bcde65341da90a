"""Finished answers kept in this process, within a budget of bytes.

Django's local-memory cache bounds the number of entries, not their size. A
visitor who varies a parameter no view reads (``/reference/endpoints/?x=1``,
``?x=2``, ...) makes every answer a new entry, and the largest pages weigh
over 150 KB: 5,000 of them would hold most of a gigabyte in each worker. This
store counts bytes and drops the least recently used answers first.

Entries never go stale: their keys carry the data stamp, so after an edit the
old ones are simply not asked for again and age out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

# A bookkeeping allowance per entry, on top of its body and headers.
_OVERHEAD = 200


class PageStore:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """The bytes held now."""
        return self._bytes

    def get(self, key: str) -> Any | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def set(self, key: str, entry: Any, size: int) -> bool:
        """Keep ``entry``; answer False when it is too large to be worth it
        (more than an eighth of the budget would churn everything else)."""
        size += _OVERHEAD
        if size > self.max_bytes // 8:
            return False

        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous[1]
            self._entries[key] = (entry, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
        return True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)
