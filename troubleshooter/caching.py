"""Rendered public pages, cached by data version.

A public page depends only on the reference data and its URL, yet rendering
it costs several times what the rest of the request does. So the bytes are
kept per process under (data stamp, htmx fragment or full page, URL); a staff
edit moves the stamp, so a stale entry is simply never asked for again.

The only per-visitor parts of a page are its CSRF token and the fix page's
feedback token. Templates print *slots* where those go, and every response of
a slotted view gets fresh values just before it leaves, whether it was
rendered now or read from the cache.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable
from functools import wraps

from django.core import signing
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils.cache import get_conditional_response, patch_vary_headers

from scopes.services import current_snapshot

CSRF_SLOT = "csrf-slot-5d0c"
PAGE_VIEW_SALT = "scope-doctor.feedback"
_PAGE_VIEW_SLOT = re.compile(rb"page-view-slot-5d0c:([A-Za-z0-9_=-]*):")
_KEPT_HEADERS = ("Content-Type", "HX-Push-Url", "Vary", "Cache-Control", "Location")
CACHE_SECONDS = 6 * 60 * 60


def page_view_slot(query: str) -> str:
    """A slot for the feedback token of the fix page showing ``query``."""
    encoded = base64.urlsafe_b64encode(query.encode()).decode()
    return f"page-view-slot-5d0c:{encoded}:"


def new_page_view_token(query: str) -> str:
    """One token per page view: the answers it was shown for and a fresh id."""
    return signing.dumps(
        {"q": query, "id": secrets.token_urlsafe(12)}, salt=PAGE_VIEW_SALT
    )


def fill_slots(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if response.streaming or not response.get("Content-Type", "").startswith(
        "text/html"
    ):
        return response

    content = response.content
    if CSRF_SLOT.encode() in content:
        content = content.replace(CSRF_SLOT.encode(), get_token(request).encode())
        # The token ties the page to this visitor's cookie.
        patch_vary_headers(response, ["Cookie"])
    if b"page-view-slot-5d0c:" in content:
        content = _PAGE_VIEW_SLOT.sub(
            lambda m: new_page_view_token(
                base64.urlsafe_b64decode(m.group(1)).decode()
            ).encode(),
            content,
        )
    response.content = content
    return response


def fills_slots(view: Callable) -> Callable:
    """For views that render slotted templates but are not cached."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return fill_slots(request, view(request, *args, **kwargs))

    return wrapper


def _key(request: HttpRequest, stamp: str) -> str:
    fragment = bool(request.htmx) and not request.htmx.history_restore_request
    raw = f"{stamp}|{'fragment' if fragment else 'page'}|{request.get_full_path()}"
    return "page:" + hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def cached_page(view: Callable) -> Callable:
    """Serve a GET view's 200 and redirect answers from the per-process page
    cache; fill the per-visitor slots on every response."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return fill_slots(request, view(request, *args, **kwargs))

        snapshot = current_snapshot()
        key = _key(request, snapshot.stamp)
        etag = f'"{key.removeprefix("page:")}"'
        store = caches["pages"]

        entry = store.get(key)
        if entry is None:
            response = view(request, *args, **kwargs)
            if response.status_code not in (200, 301, 302) or response.streaming:
                return fill_slots(request, response)
            entry = (
                response.status_code,
                response.content,
                [(h, response[h]) for h in _KEPT_HEADERS if h in response],
            )
            store.set(key, entry, CACHE_SECONDS)

        status, content, headers = entry
        slotted = CSRF_SLOT.encode() in content or b"page-view-slot-5d0c:" in content
        if not slotted:
            # Only slot-free pages may be revalidated: a 304 would reuse a
            # stale feedback token.
            not_modified = get_conditional_response(request, etag=etag)
            if not_modified is not None:
                return not_modified
        response = HttpResponse(content, status=status)
        for header, value in headers:
            response[header] = value
        if not slotted:
            response["ETag"] = etag
        patch_vary_headers(response, ["HX-Request"])
        return fill_slots(request, response)

    return wrapper
