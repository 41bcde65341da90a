"""Rendered public pages, cached by data version.

A public page depends only on the reference data and its URL, yet rendering
it costs several times what the rest of the request does. So the bytes are
kept per process under (data stamp, htmx fragment or full page, URL); a staff
edit moves the stamp, so a stale entry is simply never asked for again.

Nothing per visitor may appear in a cached page: forms with CSRF tokens are
loaded separately (see the fix page's actions).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps

from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response, patch_vary_headers

from scopes.services import current_snapshot

_KEPT_HEADERS = ("Content-Type", "HX-Push-Url", "Vary", "Cache-Control", "Location")
CACHE_SECONDS = 6 * 60 * 60


def _key(request: HttpRequest, stamp: str) -> str:
    # One URL has several renderings: the whole page, the wizard swapped by
    # htmx, or a smaller part named by the element htmx will replace.
    kind = "page"
    if request.htmx and not request.htmx.history_restore_request:
        kind = f"fragment:{request.htmx.target or ''}"
    raw = f"{stamp}|{kind}|{request.get_full_path()}"
    return "page:" + hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def cached_page(view: Callable) -> Callable:
    """Serve a GET view's 200 and redirect answers from the per-process page
    cache, with an ETag so browsers can revalidate cheaply."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return view(request, *args, **kwargs)

        snapshot = current_snapshot()
        key = _key(request, snapshot.stamp)
        etag = f'"{key.removeprefix("page:")}"'
        store = caches["pages"]

        entry = store.get(key)
        if entry is None:
            response = view(request, *args, **kwargs)
            if response.status_code not in (200, 301, 302) or response.streaming:
                return response
            entry = (
                response.status_code,
                response.content,
                [(h, response[h]) for h in _KEPT_HEADERS if h in response],
            )
            store.set(key, entry, CACHE_SECONDS)

        status, content, headers = entry
        if status == 200:
            # Preconditions apply to successful answers only (RFC 9110,
            # 13.2.1): a redirect answered 304 would leave nowhere to go.
            not_modified = get_conditional_response(request, etag=etag)
            if not_modified is not None:
                return not_modified

        response = HttpResponse(content, status=status)
        for header, value in headers:
            response[header] = value
        if status == 200:
            response["ETag"] = etag
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response

    return wrapper
