"""Rendered public pages and API answers, cached by data version.

A public page depends only on the reference data and its address, yet
rendering it costs several times what the rest of the request does. So the
finished response is kept per process under (data stamp, rendering, address),
within a budget of bytes (troubleshooter/pagestore.py);
a staff edit moves the stamp, so a stale entry is simply never asked for again.

A view stores its answers with ``cached_page`` (or the API's wrapper);
``CachedPageMiddleware`` answers repeats before the session, CSRF, auth and
other per-visitor layers run, since none of them can change a cached answer.

Nothing per visitor may appear in a cached page: forms with CSRF tokens are
loaded separately (see the fix page's actions).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import get_conditional_response, patch_vary_headers

from scopes.services import current_snapshot, current_stamp
from troubleshooter.pagestore import PageStore

_KEPT_HEADERS = (
    "Content-Type",
    "HX-Push-Url",
    "Vary",
    "Cache-Control",
    "Location",
    "ETag",
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Max-Age",
    "Cross-Origin-Resource-Policy",
)
# A 304 carries the validators and policies, not the body's description.
_BODY_HEADERS = ("Content-Type", "Location", "HX-Push-Url")
# The paths some answer was kept for, in this process. Only these are looked
# up early, so an admin page, a form or a mistyped address costs nothing more.
# Cached views answer only the reference's own paths, so the set stays small;
# the cap is a guard, not a limit ever expected to be reached.
_kept_paths: set[str] = set()
_MAX_KEPT_PATHS = 20_000


_store: PageStore | None = None


def page_store() -> PageStore:
    """This process's store of finished answers (PAGE_CACHE_MAX_BYTES)."""
    global _store

    if _store is None or _store.max_bytes != settings.PAGE_CACHE_MAX_BYTES:
        _store = PageStore(settings.PAGE_CACHE_MAX_BYTES)
    return _store


def page_key(request: HttpRequest, stamp: str) -> str:
    """The cache key of a request's answer at a data stamp.

    One address has several renderings: the whole page, the wizard swapped by
    htmx, or a smaller part named by the element htmx will replace. The scheme
    and host are part of the address because pages print absolute share links.
    Raises DisallowedHost for a host the site does not serve.
    """
    meta = request.META
    kind = "page"
    if meta.get("HTTP_HX_REQUEST") == "true" and (
        meta.get("HTTP_HX_HISTORY_RESTORE_REQUEST") != "true"
    ):
        kind = f"fragment:{meta.get('HTTP_HX_TARGET', '')}"
    raw = f"{stamp}|{kind}|{request.build_absolute_uri()}"
    return "page:" + hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def remember(
    request: HttpRequest,
    key: str,
    response: HttpResponse,
    statuses: tuple[int, ...] = (200, 301, 302),
) -> None:
    """Keep a finished answer's bytes and headers, if it is one worth keeping."""
    if response.status_code not in statuses or response.streaming:
        return
    headers = _kept_headers(response)
    size = len(response.content) + sum(len(h) + len(v) for h, v in headers)
    entry = (response.status_code, response.content, headers)
    if page_store().set(key, entry, size) and len(_kept_paths) < _MAX_KEPT_PATHS:
        _kept_paths.add(request.path_info)


def recall(request: HttpRequest, key: str) -> HttpResponse | None:
    """The kept answer for ``key``, or a 304 when the client already has it."""
    entry = page_store().get(key)
    if entry is None:
        return None

    status, content, headers = entry
    not_modified = _not_modified(request, status, headers)
    if not_modified is not None:
        return not_modified

    response = HttpResponse(content, status=status)
    for header, value in headers:
        response[header] = value
    response["Content-Length"] = str(len(content))
    return response


def not_modified(request: HttpRequest, response: HttpResponse) -> HttpResponse | None:
    """A 304 for a client that already holds this fresh ``response``, or None."""
    return _not_modified(request, response.status_code, _kept_headers(response))


def _not_modified(
    request: HttpRequest, status: int, headers: list[tuple[str, str]]
) -> HttpResponse | None:
    etag = dict(headers).get("ETag")
    # Preconditions apply to successful answers only (RFC 9110, 13.2.1): a
    # redirect answered 304 would leave nowhere to go, and "If-None-Match: *"
    # must not turn a refusal into a bare 304.
    if status != 200 or not etag:
        return None
    if get_conditional_response(request, etag=etag) is None:
        return None

    response = HttpResponseNotModified()
    for header, value in headers:
        if header not in _BODY_HEADERS:
            response[header] = value
    return response


def _kept_headers(response: HttpResponse) -> list[tuple[str, str]]:
    return [(h, response[h]) for h in _KEPT_HEADERS if h in response]


def cached_page(view: Callable) -> Callable:
    """Serve a GET view's 200 and redirect answers from the per-process page
    cache, with an ETag so browsers can revalidate cheaply."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return view(request, *args, **kwargs)

        key = page_key(request, current_snapshot().stamp)
        response = recall(request, key)
        if response is not None:
            return response

        response = view(request, *args, **kwargs)
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        if response.status_code == 200:
            response["ETag"] = f'"{key.removeprefix("page:")}"'
        remember(request, key, response)
        return recall(request, key) or response

    return wrapper


class CachedPageMiddleware:
    """Answer a repeated public GET from the page cache, early.

    It sits inside the layers that set response headers (security, CSP,
    frame options) and outside those that only matter to a view that runs
    (sessions, CSRF, sign-in, messages, htmx details, history). A miss, or any
    doubt, goes on down the stack as usual.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD") and request.path_info in _kept_paths:
            try:
                key = page_key(request, current_stamp())
            except (DisallowedHost, DatabaseError):
                # The full stack gives these their proper 400 or 503 page.
                key = None
            if key is not None:
                response = recall(request, key)
                if response is not None:
                    return response
        return self.get_response(request)
