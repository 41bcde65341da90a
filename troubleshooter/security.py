"""Defences that sit below the views: a Django request-parsing fix, URLs that
are safe to put in an href, and secrets kept out of log lines."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest

from troubleshooter.masking import mask_secrets

SAFE_LINK_SCHEMES = ("https://", "http://")


def _set_encoding(request: HttpRequest, value: str | None) -> None:
    request._encoding = value
    # Only drop what was already parsed: asking hasattr() of the lazy GET
    # would parse the query string right here.
    request.__dict__.pop("GET", None)
    request.__dict__.pop("_post", None)


def keep_request_construction_lazy() -> None:
    """Stop Django parsing the query string while it builds a request.

    Django's ``HttpRequest.encoding`` setter checks ``hasattr(self, "GET")``,
    which evaluates the lazy ``GET``. A request whose Content-Type names a
    charset therefore parses its query string inside ``WSGIRequest()``, before
    any middleware can turn errors into responses: more parameters than
    DATA_UPLOAD_MAX_NUMBER_FIELDS become an unhandled TooManyFieldsSent and
    the WSGI server answers 500. With this setter the same request gets the
    usual 400 page. Remove once Django's setter no longer calls hasattr().
    """
    HttpRequest.encoding = HttpRequest.encoding.setter(_set_encoding)


def web_url(value: object) -> str:
    """``value`` if it is an http(s) URL, else "": the only links staff-entered
    text may become, so a ``javascript:`` source can never be an href."""
    text = str(value or "").strip()
    return text if text.lower().startswith(SAFE_LINK_SCHEMES) else ""


class RedactSecrets(logging.Filter):
    """Masks anything key-like in a log line, traceback included, before the
    handler writes it.

    Django logs the path of every refused request and the Host header of a
    refused host, and a visitor can type a key into either.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        masked = mask_secrets(message)
        if masked.changed:
            record.msg, record.args = masked.text, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text).text
        return True


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out sign-in: a 429 page saying when to
    try again, with the same time in Retry-After."""
    from axes.helpers import get_cool_off
    from django.shortcuts import render

    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    context = {
        "minutes": max(1, round(seconds / 60)),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    response = render(request, "lockout.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
