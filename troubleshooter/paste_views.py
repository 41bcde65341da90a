"""Paste to diagnose: the page that reads a pasted error or request, its
"correct what we understood" step, and the same reader as ``POST /api/v1/parse``.

The paste is read in memory and dropped: it is never stored, never logged and
never put in a URL. Only wizard answers go into links; the trace ID, the masked
error body and the workspace ID reach the support ticket through the browser
(static/js/paste.js), not through the server.
"""

from __future__ import annotations

import json
import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_safe

from scopes.services import current_snapshot
from scopes.snapshot import Snapshot
from troubleshooter import ratelimit
from troubleshooter.outage import refuse_writes_while_down
from troubleshooter.paste import (
    EMPTY,
    LOOKED_FOR,
    MAX_PASTE_BYTES,
    NOT_TEXT,
    TOO_LARGE,
    Reading,
    Understanding,
    mask_lines,
    read_paste,
    understand,
)
from troubleshooter.paths import METHODS
from troubleshooter.state import Answers, parse_answers, to_query

logger = logging.getLogger(__name__)

# The form posts multipart/form-data, so the body is the paste plus a small
# envelope (boundaries, the CSRF token); anything declaring more is refused
# before it is read.
MAX_FORM_BODY = MAX_PASTE_BYTES + 64 * 1024
MAX_SHOWN_AGAIN = 65_536
KEY_TYPE_CHOICES = (
    ("admin", "Admin API key"),
    ("workspace_user", "Workspace User API key"),
    ("workspace_service", "Workspace Service API key"),
    ("unknown", "I don't know"),
)
WORKSPACE_CHOICES = (("yes", "Yes"), ("no", "No"), ("unknown", "Not sure"))
INVALID = {
    EMPTY: "Paste something first: an error body, a curl command, response "
    "headers or SDK error output.",
    NOT_TEXT: "This does not look like text: it is mostly control characters or "
    "bytes that are not valid UTF-8. Copy the error as text from your terminal, "
    "log or browser and paste that instead.",
}


def wizard_url(scenario: str, answers: Answers) -> str:
    """The wizard's first unanswered step for these answers (the step view
    redirects on to the fix when nothing is left to ask)."""
    query = to_query(answers.with_(scenario=None))
    url = reverse("wizard:step", args=[scenario])
    return f"{url}?{query}" if query else url


def too_large_message(size: int | None = None) -> str:
    said = f" ({size / 1_000_000:.1f} MB)" if size else ""
    return (
        f"That paste is too large{said}: we read at most 1 MB. Paste only the "
        "error body, the curl command and the response headers; the rest is "
        "rarely needed. Nothing was kept."
    )


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


# -- The page -----------------------------------------------------------------


def _paste_unavailable(request: HttpRequest) -> HttpResponse:
    # Only reached by a process that has never read the reference data.
    error = (
        "We cannot read this paste just now: the reference data is unavailable. "
        "Your text is kept below; send it again in a minute."
    )
    context = _form_context(error, _shown_again(request.POST.get("text", "")))
    return render(request, "paste/paste.html", context, status=503)


@never_cache
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
@refuse_writes_while_down(_paste_unavailable)
def paste(request: HttpRequest) -> HttpResponse:
    # CSRF is checked by csrf_protect in _paste_page, after this size check:
    # the global middleware would read an oversized body first and answer with
    # a bare 400, whereas this returns the polite 413 page without reading it.
    if request.method == "POST" and _declared_length(request) > MAX_FORM_BODY:
        return _too_large(request, _declared_length(request))
    return _paste_page(request)


@csrf_protect
def _paste_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "paste/paste.html", _form_context())

    text = request.POST.get("text", "")
    decision = ratelimit.hit(request, "paste")
    if not decision.allowed:
        error = (
            "You have sent many pastes in a short while. Send this one again in "
            f"{decision.retry_in_words}; your text is kept below."
        )
        context = _form_context(error, _shown_again(text))
        return ratelimit.refused_page(request, decision, "paste/paste.html", context)

    reading = read_paste(text)

    if reading.outcome == TOO_LARGE:
        return _too_large(request, reading.size)
    if reading.outcome in INVALID:
        logger.info("paste refused outcome=%s size=%s", reading.outcome, reading.size)
        context = _form_context(INVALID[reading.outcome], _shown_again(text))
        return render(request, "paste/paste.html", context, status=400)

    snapshot = current_snapshot()
    understanding = understand(reading, snapshot)
    _log(understanding)
    context = {
        **_form_context(text=_shown_again(text)),
        **_result_context(understanding, snapshot),
    }
    return render(request, "paste/paste.html", context)


def _form_context(error: str = "", text: str = "") -> dict:
    return {
        "error": error,
        "text": text,
        "max_bytes": MAX_PASTE_BYTES,
        "too_large_message": too_large_message(),
        "looked_for": LOOKED_FOR,
    }


def _shown_again(text: str) -> str:
    """What goes back into the textarea: masked, so no secret is ever shown,
    and without control characters; very long pastes are not echoed."""
    if len(text) > MAX_SHOWN_AGAIN:
        return ""
    printable = "".join(c for c in text if c in "\t\n" or c.isprintable())
    return mask_lines(printable).text


def _too_large(request: HttpRequest, size: int | None) -> HttpResponse:
    logger.info("paste refused outcome=too_large size=%s", size)
    context = _form_context(error=too_large_message(size))
    return render(request, "paste/paste.html", context, status=413)


def _result_context(understanding: Understanding, snapshot: Snapshot) -> dict:
    reading = understanding.reading
    answers = understanding.answers
    scenario = snapshot.scenarios.get(understanding.scenario)
    return {
        "u": understanding,
        "reading": reading,
        "scenario": scenario,
        "continue_url": wizard_url(understanding.scenario, answers),
        "scenarios": snapshot.scenarios.values(),
        "methods": METHODS,
        "key_types": KEY_TYPE_CHOICES,
        "workspace_choices": WORKSPACE_CHOICES,
        "chosen": {
            "scenario": understanding.scenario,
            "method": answers.method or reading.method or "",
            "path": answers.path or reading.path or "",
            "workspace_id_sent": answers.workspace_id_sent
            or {True: "yes", False: "no"}.get(reading.workspace_id_sent, ""),
            "key_type": "",
            "context": answers.context or "",
        },
        "handoff": {
            "trace_id": reading.trace_id or "",
            "error_body": reading.masked_body or "",
            "workspace_id": reading.workspace_id or "",
        },
        "handed_off": _handed_off(reading),
    }


def _handed_off(reading: Reading) -> str:
    """The ticket fields the paste fills, in words: "the trace ID and ..."."""
    names = [
        name
        for name, value in (
            ("the trace ID", reading.trace_id),
            ("the masked error body", reading.masked_body),
            ("the workspace ID", reading.workspace_id),
        )
        if value
    ]
    if len(names) > 1:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return "".join(names)


def _log(understanding: Understanding) -> None:
    # Only values from fixed vocabularies: never the paste, a path as typed,
    # a header value or a message.
    reading = understanding.reading
    logger.info(
        "paste outcome=%s code=%s status=%s endpoint=%s scenario=%s not_ab03=%s",
        reading.outcome,
        reading.error_code or "-",
        reading.http_status or "-",
        understanding.endpoint.label if understanding.endpoint else "-",
        understanding.scenario,
        understanding.not_ab03.reason if understanding.not_ab03 else "-",
    )


@require_safe
def correct(request: HttpRequest) -> HttpResponse:
    """The "correct what we understood" form: check the answers, then open the
    wizard's first unanswered step, or show the form again with what was typed."""
    snapshot = current_snapshot()
    parsed = parse_answers(request.GET, snapshot)
    scenario = parsed.answers.scenario or "something_else"
    if not parsed.dropped:
        return redirect(wizard_url(scenario, parsed.answers))

    chosen = {
        name: (request.GET.get(name) or "")[:2048]
        for name in ("scenario", "method", "path", "workspace_id_sent", "key_type")
    }
    chosen["context"] = parsed.answers.context or ""
    context = {
        **_form_context(),
        "correcting": True,
        "dropped": parsed.dropped,
        "chosen": chosen,
        "scenarios": snapshot.scenarios.values(),
        "methods": METHODS,
        "key_types": KEY_TYPE_CHOICES,
        "workspace_choices": WORKSPACE_CHOICES,
    }
    return render(request, "paste/paste.html", context, status=400)


# -- The JSON API ----------------------------------------------------------------


def _api_error(status: int, code: str, message: str, **extra) -> JsonResponse:
    body = {"error": {"code": code, "message": message, **extra}}
    return JsonResponse(body, status=status)


# Exempt from CSRF because this endpoint is not cookie-authenticated: it reads
# only the JSON body, changes nothing, stores nothing and answers the same for
# everyone, so a forged cross-site request gains nothing, while a CSRF check
# would lock out the scripts and tools it is for. Every other POST keeps CSRF.
@csrf_exempt
@never_cache
def parse_api(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = _api_error(
            405, "method_not_allowed", "This endpoint only answers POST."
        )
        response["Allow"] = "POST"
        return response

    decision = ratelimit.hit(request, "paste")
    if not decision.allowed:
        return ratelimit.refused_json(decision)

    try:
        payload = json.loads(request.body or b"")
    except RequestDataTooBig:
        return _api_error(
            413, "too_large", too_large_message(_declared_length(request))
        )
    except UnreadablePostError:
        return _api_error(400, "unreadable_body", "The request body could not be read.")
    except (ValueError, RecursionError):
        return _api_error(
            400, "invalid_json", 'Send a JSON object such as {"text": "..."}.'
        )
    if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
        return _api_error(
            400,
            "invalid_parameter",
            "text is required and must be a string holding the paste.",
            field="text",
        )

    reading = read_paste(payload["text"])
    if reading.outcome == TOO_LARGE:
        return _api_error(413, "too_large", too_large_message(reading.size))
    if reading.outcome in INVALID:
        return _api_error(400, reading.outcome, INVALID[reading.outcome], field="text")

    understanding = understand(reading, current_snapshot())
    _log(understanding)
    url = wizard_url(understanding.scenario, understanding.answers)
    return JsonResponse(parse_result(understanding, request.build_absolute_uri(url)))


def parse_result(understanding: Understanding, wizard_link: str) -> dict:
    """The API's answer: every field the reader found, already masked."""
    reading = understanding.reading
    answers = understanding.answers
    endpoint = understanding.endpoint
    error = understanding.error
    not_ab03 = understanding.not_ab03
    return {
        "recognised": understanding.recognised,
        "summary": understanding.headline,
        "looked_for": [] if understanding.recognised else list(LOOKED_FOR),
        "found": list(reading.found),
        "error_code": reading.error_code,
        "error": (
            {
                "code": error.code,
                "http_status": error.http_status,
                "title": error.title,
                "meaning": error.meaning,
            }
            if error
            else None
        ),
        "http_status": reading.http_status,
        "message": reading.message,
        "method": reading.method,
        "path": reading.path,
        "endpoint": (
            {
                "method": endpoint.method,
                "path": endpoint.path,
                "plane": endpoint.plane,
                "area": endpoint.area,
            }
            if endpoint
            else None
        ),
        "method_guessed": understanding.method_guessed,
        "suggestions": list(understanding.suggestions),
        "workspace_id_sent": reading.workspace_id_sent,
        "workspace_id": reading.workspace_id,
        "key_header": reading.key_header,
        "headers_sent": list(reading.headers_sent),
        "trace_id": reading.trace_id,
        "not_ab03": (
            {"reason": not_ab03.reason, "message": not_ab03.message}
            if not_ab03
            else None
        ),
        "masked_body": reading.masked_body,
        "notes": list(reading.notes),
        "answers": {
            "scenario": answers.scenario,
            "context": answers.context,
            "method": answers.method,
            "path": answers.path,
            "workspace_id_sent": answers.workspace_id_sent,
        },
        "wizard_url": wizard_link,
    }
