"""Fixed-window rate limits on the public forms, counted in the shared cache.

Every public POST (feedback, mistake reports, pastes and the parse API, short
links) is counted per client address and action. The counter lives in
Django's default cache under ``ratelimit:<action>:<hashed address>:<window
start>``: nothing a visitor sends, not even the address itself, becomes part
of a key. It is created with ``add`` and raised with ``incr``, which Redis and
the local-memory cache both do atomically, so with REDIS_URL set the limits
hold across every worker of every app server; without it each process counts
on its own.

The client is ``REMOTE_ADDR``. Behind a load balancer that is the balancer's
address, so set ``RATE_LIMIT_CLIENT_HEADER`` to the header the balancer
overwrites with the visitor's address (for example ``X-Real-IP``). Never name
a header that visitors can set themselves: they would choose a fresh address
for every request.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``requests`` actions per ``window`` seconds from one client."""

    requests: int
    window: int

    @property
    def in_words(self) -> str:
        """As people say it: "5 an hour", "120 every 10 minutes"."""
        if self.window == 3600:
            return f"{self.requests} an hour"
        if self.window % 60 == 0:
            minutes = self.window // 60
            return (
                f"{self.requests} every {minutes} minute{'' if minutes == 1 else 's'}"
            )
        return f"{self.requests} every {self.window} seconds"


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether one action is allowed, and when its window starts afresh."""

    action: str
    allowed: bool
    count: int
    limit: Limit
    retry_after: int

    @property
    def retry_minutes(self) -> int:
        """The wait in whole minutes, rounded up, for people to read."""
        return max(1, math.ceil(self.retry_after / 60))

    @property
    def retry_in_words(self) -> str:
        minutes = self.retry_minutes
        return f"about {minutes} minute{'' if minutes == 1 else 's'}"


def limit_for(action: str) -> Limit:
    """The configured limit for ``action`` (a key of ``settings.RATE_LIMITS``)."""
    requests, window = settings.RATE_LIMITS[action]
    return Limit(requests=requests, window=window)


def client_address(request: HttpRequest) -> str:
    """The visitor's address: REMOTE_ADDR, or the trusted proxy's header."""
    header = settings.RATE_LIMIT_CLIENT_HEADER
    if header:
        meta_name = "HTTP_" + header.upper().replace("-", "_")
        forwarded = request.META.get(meta_name, "")
        # A proxy appends the address it saw last, after any the visitor sent.
        last = forwarded.split(",")[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def login_client_address(request: HttpRequest) -> str | None:
    """The address django-axes records for admin sign-ins, or None.

    Axes stores it in an IP address column, which PostgreSQL checks: a test
    client with no REMOTE_ADDR, or a forged forwarding header, must not turn a
    sign-in into a server error."""
    address = client_address(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def client_id(request: HttpRequest) -> str:
    """A short, non-reversible id for the client; the address itself never
    reaches the cache or the logs."""
    address = client_address(request)
    return hashlib.blake2b(address.encode(), digest_size=8).hexdigest()


def _window(action: str, request: HttpRequest, limit: Limit, now: float):
    start = int(now // limit.window) * limit.window
    key = f"ratelimit:{action}:{client_id(request)}:{start}"
    return key, max(1, math.ceil(start + limit.window - now))


def peek(request: HttpRequest, action: str, now: float | None = None) -> Decision:
    """Whether the client may still act in this window, without counting."""
    limit = limit_for(action)
    key, retry_after = _window(
        action, request, limit, time.time() if now is None else now
    )
    try:
        count = cache.get(key, 0)
    except RedisError:
        return _cache_unreachable(action, limit, retry_after)
    return Decision(action, count < limit.requests, count, limit, retry_after)


def hit(request: HttpRequest, action: str, now: float | None = None) -> Decision:
    """Count one action and say whether it is within the limit."""
    limit = limit_for(action)
    key, retry_after = _window(
        action, request, limit, time.time() if now is None else now
    )
    try:
        cache.add(key, 0, timeout=limit.window + 1)
        try:
            count = cache.incr(key)
        except ValueError:
            # The key expired between add and incr: this is the first action
            # of a new window.
            cache.add(key, 1, timeout=limit.window + 1)
            count = 1
    except RedisError:
        return _cache_unreachable(action, limit, retry_after)
    return Decision(action, count <= limit.requests, count, limit, retry_after)


def _cache_unreachable(action: str, limit: Limit, retry_after: int) -> Decision:
    # A limit protects the forms; it must not take them down with the cache.
    logger.warning("rate limit cache unreachable; allowing %s uncounted", action)
    return Decision(action, True, 0, limit, retry_after)


def with_retry_after(response: HttpResponse, decision: Decision) -> HttpResponse:
    """Mark ``response`` as a refusal: when to retry, and one log line."""
    response["Retry-After"] = str(decision.retry_after)
    logger.warning("rate limit reached for %s by one client", decision.action)
    return response


def refused_page(
    request: HttpRequest,
    decision: Decision,
    template: str = "429.html",
    context: dict[str, Any] | None = None,
) -> HttpResponse:
    """The 429 page: says when to try again; the view's ``context`` brings
    back the form with what was typed."""
    context = {"decision": decision, **(context or {})}
    response = render(request, template, context, status=429)
    return with_retry_after(response, decision)


def refused_json(decision: Decision) -> JsonResponse:
    """The API's 429, in the API's error shape."""
    message = (
        f"Too many requests from this address: at most {decision.limit.requests} "
        f"every {decision.limit.window} seconds. Try again in "
        f"{decision.retry_after} seconds."
    )
    body = {
        "error": {
            "code": "rate_limited",
            "message": message,
            "retry_after": decision.retry_after,
        }
    }
    return with_retry_after(JsonResponse(body, status=429), decision)
