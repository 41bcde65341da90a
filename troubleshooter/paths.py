"""Match what a person pasted (a URL, a path, a method) to an endpoint template.

Pure functions over a snapshot; no database, no request.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from scopes.snapshot import EndpointInfo, Snapshot

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PARAM = re.compile(r"^\{[^/{}]+\}$")
_MAX_PATH_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class PathMatch:
    """The endpoint found for a method and path, or suggestions when none fits."""

    endpoint: EndpointInfo | None
    normalised_path: str
    suggestions: tuple[str, ...] = ()


def normalise_method(method: str | None) -> str | None:
    if not method:
        return None
    upper = method.strip().upper()
    return upper if upper in METHODS else None


def normalise_path(raw: str) -> str:
    """Reduce a URL or path to ``/v1/...`` with no host, query, fragment or
    trailing slash. Gateways are often reached through a base URL that ends in
    ``/v1``, so a bare ``/chat/completions`` gets the prefix added."""
    text = raw.strip()[:_MAX_PATH_LENGTH]
    if "://" in text:
        text = urlsplit(text).path
    elif not text.startswith("/") and "/" in text and "." in text.split("/", 1)[0]:
        # "api.portkey.ai/v1/models": a host without a scheme.
        text = "/" + text.split("/", 1)[1]
    text = text.split("?", 1)[0].split("#", 1)[0]
    text = unquote(text)
    segments = [segment for segment in text.split("/") if segment]
    if segments and segments[0] != "v1":
        segments.insert(0, "v1")
    return "/" + "/".join(segments)


def _specificity(endpoint: EndpointInfo) -> tuple[int, int]:
    literal = sum(1 for segment in endpoint.segments if not _PARAM.match(segment))
    return (literal, len(endpoint.segments))


def _fits(template: tuple[str, ...], segments: list[str]) -> bool:
    if len(template) != len(segments):
        return False
    for expected, actual in zip(template, segments, strict=True):
        if _PARAM.match(expected):
            continue
        if expected != actual:
            return False
    return True


def template_fits(endpoint: EndpointInfo, raw_path: str) -> bool:
    """Whether a pasted path or URL is an instance of the endpoint's template."""
    path = normalise_path(raw_path)
    return _fits(endpoint.segments, [segment for segment in path.split("/") if segment])


def match_endpoint(snapshot: Snapshot, method: str, raw_path: str) -> PathMatch:
    """Find the most specific template that fits, so
    ``/v1/prompts/{id}/completions`` wins over ``/v1/prompts/{id}`` and a
    literal segment wins over a parameter."""
    path = normalise_path(raw_path)
    segments = [segment for segment in path.split("/") if segment]
    upper = normalise_method(method) or ""

    fitting = [e for e in snapshot.endpoints if _fits(e.segments, segments)]
    same_method = [e for e in fitting if e.method == upper]
    if same_method:
        best = max(same_method, key=_specificity)
        return PathMatch(endpoint=best, normalised_path=path)

    return PathMatch(
        endpoint=None,
        normalised_path=path,
        suggestions=_suggest(snapshot, upper, path, fitting),
    )


def _suggest(
    snapshot: Snapshot, method: str, path: str, fitting: list[EndpointInfo]
) -> tuple[str, ...]:
    # The path exists with another method: those are the best suggestions.
    if fitting:
        ranked = sorted(fitting, key=_specificity, reverse=True)
        return tuple(endpoint.label for endpoint in ranked[:5])

    labels = {endpoint.label: endpoint for endpoint in snapshot.endpoints}
    wanted = f"{method} {path}".strip()
    close = difflib.get_close_matches(wanted, list(labels), n=5, cutoff=0.55)
    if not close:
        paths = sorted({endpoint.path for endpoint in snapshot.endpoints})
        for near in difflib.get_close_matches(path, paths, n=3, cutoff=0.5):
            close.extend(label for label in labels if label.endswith(" " + near))
    return tuple(dict.fromkeys(close))[:5]
