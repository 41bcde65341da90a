"""The public JSON API: /api/v1/check, /scopes, /endpoints and its OpenAPI
description. Read-only, cacheable by data version, usable from other origins."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.cache import patch_cache_control

from scopes.services import current_snapshot
from scopes.snapshot import KEY_TYPE_SLUGS, PLANES, SCOPE_GROUPS, Snapshot
from troubleshooter.caching import not_modified, page_key, recall, remember
from troubleshooter.diagnosis import CONTEXTS, Diagnosis, Question, diagnose
from troubleshooter.openapi import openapi_document
from troubleshooter.paths import METHODS, match_endpoint, normalise_method
from troubleshooter.serializers import endpoint_item, scope_item
from troubleshooter.state import Answers, to_query

logger = logging.getLogger(__name__)

JSON = "application/json"
SCOPE_FORM = re.compile(r"^[a-z_]+\.[a-z_]+$")
MAX_PARAM = 2048


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"code": code, "message": message, **extra}}


def invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_parameter", message, field=field)


def read_only_api(view: Callable) -> Callable:
    """GET/HEAD/OPTIONS only, JSON errors, CORS for read-only use, and an ETag
    tied to the data version and the query string."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "OPTIONS":
            return _cors(HttpResponse(status=204))
        if request.method not in ("GET", "HEAD"):
            response = JsonResponse(
                {
                    "error": {
                        "code": "method_not_allowed",
                        "message": "This endpoint only answers GET.",
                    }
                },
                status=405,
            )
            response["Allow"] = "GET, HEAD, OPTIONS"
            return _cors(response)

        snapshot = current_snapshot()
        # Answers depend only on the data and the address: keep them whole.
        key = page_key(request, snapshot.stamp)
        cached = recall(request, key)
        if cached is not None:
            return cached

        try:
            body, status = view(request, snapshot, *args, **kwargs)
        except ApiError as error:
            body, status = error.body, error.status
        etag = _etag(snapshot, request)
        response = JsonResponse(body, status=status, json_dumps_params={"indent": None})
        response = _finish(response, etag)
        remember(request, key, response, statuses=(200, 400, 404))
        return not_modified(request, response) or response

    return wrapper


def _etag(snapshot: Snapshot, request: HttpRequest) -> str:
    digest = hashlib.blake2b(
        request.get_full_path().encode("utf-8", "replace"), digest_size=8
    ).hexdigest()
    stamp = hashlib.blake2b(snapshot.stamp.encode(), digest_size=4).hexdigest()
    return f'"v{snapshot.version}-{stamp}-{digest}"'


def _cors(response: HttpResponse) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
    response["Access-Control-Allow-Headers"] = "If-None-Match"
    response["Access-Control-Max-Age"] = "86400"
    # Other sites may read this API, so the resource policy must allow them.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def _finish(response: HttpResponse, etag: str) -> HttpResponse:
    response["ETag"] = etag
    # Clients revalidate every time; a 304 costs one query on our side.
    patch_cache_control(response, public=True, max_age=0, must_revalidate=True)
    return _cors(response)


def _param(request: HttpRequest, name: str) -> str | None:
    values = request.GET.getlist(name)
    if not values:
        return None
    value = values[-1]
    if len(value) > MAX_PARAM:
        raise invalid(name, f"{name} is longer than {MAX_PARAM} characters.")
    return value.strip()


def parse_check_request(request: HttpRequest) -> tuple[str, str, Answers, Question]:
    """Validate /check's parameters into wizard answers and an engine question."""
    path = _param(request, "path")
    if not path:
        raise invalid("path", "path is required, e.g. path=/v1/chat/completions.")

    raw_method = _param(request, "method") or "GET"
    method = normalise_method(raw_method)
    if method is None:
        raise invalid("method", f"method must be one of {', '.join(METHODS)}.")

    key_type = _param(request, "key_type") or "unknown"
    if key_type not in (*KEY_TYPE_SLUGS, "unknown"):
        raise invalid(
            "key_type",
            "key_type must be one of admin, workspace_user, workspace_service, unknown.",
        )

    raw_scopes = _param(request, "scopes")
    scopes: frozenset[str] | None = None
    if raw_scopes is not None:
        names = [s.strip() for s in raw_scopes.split(",") if s.strip()]
        for name in names:
            if not SCOPE_FORM.match(name.removeprefix("portkey.")):
                raise invalid(
                    "scopes",
                    "every scope must look like resource.action, "
                    f"e.g. completions.write; got {name[:60]!r}.",
                )
        scopes = frozenset(name.removeprefix("portkey.") for name in names)

    context = _param(request, "context")
    if context is not None and context not in CONTEXTS:
        raise invalid("context", f"context must be one of {', '.join(CONTEXTS)}.")

    # Only whether workspace_id was sent matters; its value is never kept.
    workspace_id_sent = bool(_param(request, "workspace_id"))

    answers = Answers(
        context=context,
        key_type=key_type,
        method=method,
        path=path,
        scopes=scopes,
        scopes_unknown=scopes is None,
        workspace_id_sent="yes" if workspace_id_sent else "no",
    )
    question = Question(
        key_type=None if key_type == "unknown" else key_type,
        scopes=scopes,
        workspace_id_passed=workspace_id_sent,
        context=context,
    )
    return method, path, answers, question


def diagnosis_body(diagnosis: Diagnosis, share_url: str) -> dict:
    target = diagnosis.target
    return {
        "allowed": diagnosis.allowed,
        "verdict": diagnosis.verdict,
        "endpoint": {
            "method": target.method,
            "path": target.path,
            "plane": target.plane,
        },
        "key_type_ok": diagnosis.key_type_ok,
        "required": [list(alt) for alt in diagnosis.required],
        "missing": [list(alt) for alt in diagnosis.missing],
        "reasons": [{"code": r.code, "message": r.message} for r in diagnosis.reasons],
        "fix": {"summary": diagnosis.fix_summary, "steps": list(diagnosis.fix_steps)},
        "share_url": share_url,
    }


@read_only_api
def check(request: HttpRequest, snapshot: Snapshot):
    method, path, answers, question = parse_check_request(request)

    match = match_endpoint(snapshot, method, path)
    if match.endpoint is None:
        raise ApiError(
            404,
            "unknown_endpoint",
            f"No known endpoint matches {method} {match.normalised_path}.",
            suggestions=list(match.suggestions),
        )

    endpoint = match.endpoint
    diagnosis = diagnose(snapshot, endpoint, question)
    answers = answers.with_(method=endpoint.method, path=endpoint.path)
    share_url = request.build_absolute_uri(
        reverse("wizard:fix") + "?" + to_query(answers)
    )
    logger.info(
        "check %s %s key_type=%s verdict=%s reasons=%s",
        endpoint.method,
        endpoint.path,
        answers.key_type,
        diagnosis.verdict,
        ",".join(r.code for r in diagnosis.reasons) or "-",
    )
    return diagnosis_body(diagnosis, share_url), 200


def _filter(request: HttpRequest, name: str, allowed) -> str | None:
    value = _param(request, name)
    if value is not None and value not in allowed:
        raise invalid(name, f"{name} must be one of {', '.join(allowed)}.")
    return value


@read_only_api
def scopes(request: HttpRequest, snapshot: Snapshot):
    key_type = _filter(request, "key_type", KEY_TYPE_SLUGS)
    group = _filter(request, "group", SCOPE_GROUPS)

    items = [
        scope_item(scope)
        for scope in sorted(snapshot.scopes.values(), key=lambda s: s.name)
        if (key_type is None or key_type in scope.key_types)
        and (group is None or scope.group == group)
    ]
    return {"count": len(items), "scopes": items}, 200


@read_only_api
def endpoints(request: HttpRequest, snapshot: Snapshot):
    key_type = _filter(request, "key_type", KEY_TYPE_SLUGS)
    plane = _filter(request, "plane", PLANES)

    items = [
        endpoint_item(endpoint)
        for endpoint in snapshot.endpoints
        if (key_type is None or key_type in endpoint.key_types)
        and (plane is None or endpoint.plane == plane)
    ]
    return {"count": len(items), "endpoints": items}, 200


@read_only_api
def openapi(request: HttpRequest, snapshot: Snapshot):
    return openapi_document(request.build_absolute_uri("/")), 200


def not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    response = JsonResponse(
        {
            "error": {
                "code": "not_found",
                "message": "No such API endpoint; see /api/v1/openapi.json.",
            }
        },
        status=404,
    )
    return _cors(response)
