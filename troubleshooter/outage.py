"""What the site does while its database is unreachable.

Reads carry on: ``scopes.services.current_snapshot`` answers from the last
snapshot it holds in memory. Writes cannot, so each public form's view is
wrapped in ``refuse_writes_while_down``, which turns a lost connection into a
503 page that says when to try again and shows the form again with what the
person typed. ``DatabaseOutageMiddleware`` is the net under every other view:
a lost connection answers a plain 503 page, never a traceback.

Recovery needs no restart: Django drops a connection that failed and opens a
new one on the next request (``CONN_HEALTH_CHECKS`` checks kept ones first).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render

logger = logging.getLogger(__name__)

# What a lost or refused connection raises; errors in the SQL itself (an
# IntegrityError, a ProgrammingError) are bugs and stay 500s.
DATABASE_DOWN = (OperationalError, InterfaceError)

View = Callable[..., HttpResponse]


def retry_after() -> int:
    return settings.OUTAGE_RETRY_AFTER


def unavailable_page(
    request: HttpRequest,
    template: str = "503.html",
    context: dict[str, Any] | None = None,
) -> HttpResponse:
    """A 503 with ``Retry-After``; ``context`` may bring back a form."""
    seconds = retry_after()
    context = {
        "retry_after": seconds,
        "retry_minutes": max(1, round(seconds / 60)),
        "reading": request.method in ("GET", "HEAD"),
        **(context or {}),
    }
    response = render(request, template, context, status=503)
    response["Retry-After"] = str(seconds)
    return response


def refuse_writes_while_down(refusal: View) -> Callable[[View], View]:
    """Answer ``refusal(request)`` when the view loses the database.

    ``refusal`` renders the form again from ``request.POST``; if it needs the
    database too, the middleware's plain 503 page answers instead.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except DATABASE_DOWN:
                logger.warning("database unreachable: refused %s", view.__name__)
            response = refusal(request)
            response.status_code = 503
            response["Retry-After"] = str(retry_after())
            return response

        return wrapper

    return decorator


class DatabaseOutageMiddleware:
    """Any view that loses the database answers a clear 503 page."""

    def __init__(self, get_response: View) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_DOWN):
            return None

        match = request.resolver_match
        logger.warning(
            "database unreachable: answered 503 for %s",
            match.view_name if match else "an unrouted request",
        )
        if match is not None and "api" in match.namespaces:
            return unavailable_json()

        response = unavailable_page(request, context=sent_again(request))
        if getattr(request, "htmx", False) and request.method in ("GET", "HEAD"):
            # A fragment swap has nowhere to show a whole page: load it as one.
            response["HX-Redirect"] = request.get_full_path()
        return response


def sent_again(request: HttpRequest) -> dict[str, Any]:
    """Context that shows a refused form post as a form to send once more.

    The net for views with no refusal of their own, above all the admin: a
    staff member's edit comes back whole, to be sent again unchanged once the
    database answers. The CSRF token is left out (the page puts in a fresh
    one) and so is any password, which is never written into a page.
    """
    if request.method != "POST":
        return {}
    try:
        sent = [
            (name, value) for name, values in request.POST.lists() for value in values
        ]
    except (SuspiciousOperation, MultiPartParserError, UnreadablePostError):
        return {}

    kept = [(name, value) for name, value in sent if _may_be_shown(name)]
    if not kept:
        return {}

    message = "Your changes were not saved."
    if any(_is_password(name) for name, _ in sent):
        message += " Type your password again when you send it."
    return {
        "message": message,
        "resend": {
            "action": request.get_full_path(),
            "hidden": kept,
            "buttons": [("", "", "Send it again")],
        },
        # What reads as typed prose, to copy out while waiting.
        "kept": [(name, value) for name, value in kept if " " in value.strip()],
    }


def _is_password(name: str) -> bool:
    return "password" in name.lower()


def _may_be_shown(name: str) -> bool:
    return name != "csrfmiddlewaretoken" and not _is_password(name)


def unavailable_json() -> JsonResponse:
    """The API's 503, in the API's error shape."""
    seconds = retry_after()
    body = {
        "error": {
            "code": "unavailable",
            "message": "The reference data cannot be read just now; "
            f"try again in {seconds} seconds.",
        }
    }
    response = JsonResponse(body, status=503)
    response["Retry-After"] = str(seconds)
    return response
