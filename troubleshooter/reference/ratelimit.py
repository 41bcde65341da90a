"""A fixed-window rate limit per client, kept in Django's cache.

The cache must be shared by every worker (database, Redis or Memcached) for
the limit to hold across processes; the counter is created with ``add`` and
raised with ``incr``, which those backends do atomically.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.core.cache import cache


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    count: int
    retry_after: int


def client_id(request) -> str:
    """A short, non-reversible id for the client's address; the address
    itself never reaches the cache or the logs."""
    address = request.META.get("REMOTE_ADDR", "") or "unknown"
    return hashlib.blake2b(address.encode(), digest_size=8).hexdigest()


def _window(action: str, client: str, window: int, now: float) -> tuple[str, int]:
    start = int(now // window) * window
    key = f"ratelimit:{action}:{client}:{start}"
    return key, max(1, int(start + window - now))


def peek(
    action: str, client: str, limit: int, window: int, now: float | None = None
) -> Decision:
    """Whether the client may still act in this window, without counting."""
    key, retry_after = _window(
        action, client, window, time.time() if now is None else now
    )
    count = cache.get(key, 0)
    return Decision(count < limit, count, retry_after)


def hit(
    action: str, client: str, limit: int, window: int, now: float | None = None
) -> Decision:
    """Count one action and say whether it is within the limit."""
    key, retry_after = _window(
        action, client, window, time.time() if now is None else now
    )
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:
        # The window expired between add and incr: this is its first action.
        cache.add(key, 1, timeout=window + 1)
        count = 1
    return Decision(count <= limit, count, retry_after)
