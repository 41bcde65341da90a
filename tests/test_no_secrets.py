"""No secret a visitor sends ever reaches a URL the site makes, a log line or a
stored row.

Keys travel the ways people really leak them: x-portkey-api-key and
Authorization headers, query strings, paths, pasted curl commands, mistake
reports, wizard answers and API calls, plus a few hundred fuzzed requests that
each carry them. Afterwards every log record (caplog at DEBUG, and what the
console handler wrote), every row of every model and every URL in the
answers (Location, HX-Push-Url, share links, links and form targets in
pages, URLs in JSON) is searched for the keys.
"""

import io
import json
import logging
import re
from html.parser import HTMLParser
from urllib.parse import quote, unquote

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import models
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import HostileRequest, hostile_requests, public_targets, send

PORTKEY_KEY = "pk-live-Zx81mQ2vR7tLw0sN5yB3cK9dQ4aT"
BEARER_TOKEN = "Qm7vT2xL9pR4wN8zK3cJ6hB1dF5gYt0Ws"
VIRTUAL_KEY = "vk-9Hq2Lm4Xz7Pw1Rt6Ys3Nd8Kb5Jc0FeUu"
SECRETS = (PORTKEY_KEY, BEARER_TOKEN, VIRTUAL_KEY)
SECRET_HEADERS = {
    "HTTP_X_PORTKEY_API_KEY": PORTKEY_KEY,
    "HTTP_AUTHORIZATION": f"Bearer {BEARER_TOKEN}",
    "HTTP_X_PORTKEY_VIRTUAL_KEY": VIRTUAL_KEY,
}
CURL = (
    "curl https://api.portkey.ai/v1/chat/completions \\\n"
    f'  -H "x-portkey-api-key: {PORTKEY_KEY}" \\\n'
    f'  -H "Authorization: Bearer {BEARER_TOKEN}" \\\n'
    f'  -H "x-portkey-virtual-key: {VIRTUAL_KEY}" \\\n'
    '  -d \'{"model": "gpt-4o"}\'\n'
    '{"error": {"message": "You do not have enough permissions", '
    '"errorCode": "AB03"}, "status": 403}'
)
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "hx-get", "hx-post")
URL_ATTRIBUTES += ("hx-push-url", "hx-put", "hx-delete", "hx-patch", "data-url")
FUZZED = 100


def everywhere(secret_spot: str) -> dict[str, str]:
    """Query parameters that carry the keys under every name a view reads."""
    names = ("q", "path", "scopes", "scopes_text", "want", "workspace_id", "key")
    return {name: secret_spot for name in names}


class _Urls(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if not value:
                continue
            if name in URL_ATTRIBUTES:
                self.urls.append(value)
            elif name == "value" and re.match(r"(https?://|/)", value):
                # Share links are shown in read-only inputs to copy.
                self.urls.append(value)


def urls_in(response) -> list[str]:
    """Every URL the site put in this answer."""
    found = [
        response[header]
        for header in ("Location", "HX-Push-Url", "HX-Redirect", "Content-Location")
        if header in response
    ]
    content_type = response.get("Content-Type", "")
    if response.streaming or response.get("Content-Encoding"):
        return found
    text = response.content.decode("utf-8", "replace")
    if content_type.startswith("text/html"):
        parser = _Urls()
        parser.feed(text)
        found += parser.urls
    elif content_type.startswith("application/json") and text:
        found += [
            value
            for value in _strings(json.loads(text))
            if re.match(r"(https?://|/)", value)
        ]
    return found


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def leaked(text: str) -> list[str]:
    """The secrets in ``text``, as typed or percent-encoded."""
    decoded = unquote(unquote(text))
    return [secret for secret in SECRETS if secret in text or secret in decoded]


def stored_leaks() -> list[str]:
    """Every stored value, of every model, that holds a secret."""
    found = []
    for model in apps.get_models():
        text_fields = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, (models.CharField, models.TextField, models.JSONField))
        ]
        if not text_fields:
            continue
        for row in model.objects.values_list(*text_fields):
            for name, value in zip(text_fields, row, strict=True):
                for secret in leaked(str(value)):
                    found.append(f"{model._meta.label}.{name} holds {secret[:8]}...")
    for session in Session.objects.all():
        # Session data is signed and encoded; read it as the site does.
        if leaked(str(session.get_decoded())):
            found.append(f"session {session.session_key[:6]}... holds a key")
    return found


@pytest.fixture
def console_output():
    """What the configured console handler writes, whichever logger it serves."""
    buffer = io.StringIO()
    handlers = {
        handler
        for logger in (logging.getLogger(), logging.getLogger("django"))
        for handler in logger.handlers
        if isinstance(handler, logging.StreamHandler)
        and type(handler) is logging.StreamHandler
    }
    previous = {handler: handler.setStream(buffer) for handler in handlers}
    yield buffer
    for handler, stream in previous.items():
        handler.setStream(stream)


@pytest.fixture
def logs(caplog, console_output):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")

    def lines() -> list[str]:
        records = [record.getMessage() for record in caplog.records]
        return records + console_output.getvalue().splitlines()

    yield lines
    cache.clear()


@pytest.fixture
def seen_urls():
    return []


def visit(client, seen_urls: list[str], method: str, path: str, **kwargs):
    response = getattr(client, method)(path, **kwargs)
    seen_urls += urls_in(response)
    return response


def test_keys_sent_the_usual_ways_reach_no_url_log_or_row(
    client, reference, logs, seen_urls
):
    secret_client = Client(**SECRET_HEADERS)

    for path in ("/", "/fix/", "/search/", "/keys/simulator/", "/keys/builder/"):
        visit(secret_client, seen_urls, "get", path, data=everywhere(PORTKEY_KEY))
    visit(
        secret_client,
        seen_urls,
        "get",
        "/diagnose/completions/",
        data={"key_type": "workspace_service", "scopes_text": BEARER_TOKEN},
    )
    visit(
        secret_client,
        seen_urls,
        "get",
        "/start/",
        data={"method": "POST", "path": f"/v1/chat/completions?api_key={PORTKEY_KEY}"},
    )
    visit(secret_client, seen_urls, "get", f"/reference/scopes/{PORTKEY_KEY}/")
    visit(secret_client, seen_urls, "get", f"/f/{quote(VIRTUAL_KEY)}/")
    visit(
        secret_client, seen_urls, "get", "/api/v1/check", data=everywhere(PORTKEY_KEY)
    )
    visit(secret_client, seen_urls, "post", "/paste/", data={"text": CURL})
    visit(
        secret_client,
        seen_urls,
        "post",
        "/api/v1/parse",
        data=json.dumps({"text": CURL}),
        content_type="application/json",
    )
    visit(
        secret_client,
        seen_urls,
        "post",
        "/f/",
        data={"scenario": "completions", "scopes": PORTKEY_KEY, "path": BEARER_TOKEN},
    )
    visit(
        secret_client,
        seen_urls,
        "post",
        "/reference/report/",
        data={
            "kind": "scope",
            "key": "completions.write",
            "message": f"My key {PORTKEY_KEY} gets AB03 on this call.",
            "source_url": "https://portkey.ai/docs",
        },
    )
    visit(
        secret_client,
        seen_urls,
        "post",
        "/feedback/",
        data={"page_view": PORTKEY_KEY, "fixed": "yes"},
    )

    url_leaks = [url for url in seen_urls if leaked(url)]
    assert not url_leaks, url_leaks
    log_leaks = [line for line in logs() if leaked(line)]
    assert not log_leaks, log_leaks
    # The line about the refused path is still written, with the key masked.
    assert any("Not Found: /reference/scopes/[masked]/" in line for line in logs())
    assert not stored_leaks()
    assert len(seen_urls) > 100


def test_a_report_whose_source_link_holds_a_key_is_refused_not_stored(
    client, reference
):
    from troubleshooter.models import MistakeReport

    response = client.post(
        "/reference/report/",
        {
            "kind": "scope",
            "key": "completions.write",
            "message": "This scope also allows the embeddings call.",
            "source_url": f"https://portkey.ai/docs?api_key={PORTKEY_KEY}",
        },
    )

    assert response.status_code == 400
    assert "looks like it holds a key or token" in response.content.decode()
    assert not MistakeReport.objects.exists()


def test_a_key_at_the_end_of_a_sentence_is_masked_before_a_report_is_stored(
    client, reference
):
    from troubleshooter.models import MistakeReport

    client.post(
        "/reference/report/",
        {
            "kind": "scope",
            "key": "completions.write",
            "message": f"This call fails for me. My key is {PORTKEY_KEY}.",
        },
    )

    assert MistakeReport.objects.get().message == (
        "This call fails for me. My key is [masked]."
    )


@settings(
    max_examples=FUZZED,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_fuzzed_requests_carrying_keys_leave_none_behind(
    reference, logs, seen_urls, data
):
    targets = public_targets(reference, "000000000000")
    request: HostileRequest = data.draw(hostile_requests(targets, reference))
    where = data.draw(st.sampled_from(["query", "path", "body"]))
    secret = data.draw(st.sampled_from(SECRETS))
    if where == "query":
        spot = f"{request.query}&{data.draw(st.sampled_from(['q', 'path', 'scopes_text', 'want', 'api_key']))}={quote(secret)}"
        request = HostileRequest(**{**_fields(request), "query": spot})
    elif where == "path":
        request = HostileRequest(
            **{**_fields(request), "path": request.path.rstrip("/") + f"/{secret}/"}
        )
    else:
        body = f"text=Authorization: Bearer {secret}&message=key {secret}".encode()
        request = HostileRequest(
            **{
                **_fields(request),
                "body": body,
                "content_type": "application/x-www-form-urlencoded",
            }
        )
    request.headers.update(SECRET_HEADERS)
    clients = {
        enforce: Client(enforce_csrf_checks=enforce, raise_request_exception=False)
        for enforce in (False, True)
    }

    response = send(clients, request)

    assert response.status_code < 500, request.describe()
    url_leaks = [
        url
        for url in urls_in(response)
        if leaked(url) and not _append_slash_echo(request, response, url)
    ]
    assert not url_leaks, (request.describe(), url_leaks)
    log_leaks = [line for line in logs() if leaked(line)]
    assert not log_leaks, (request.describe(), log_leaks)
    assert not stored_leaks(), request.describe()


def _append_slash_echo(request: HostileRequest, response, url: str) -> bool:
    # Django's APPEND_SLASH sends the visitor to their own address with a
    # slash added: it repeats what they typed, it does not spread a key.
    own = request.path + "/" + (f"?{request.query}" if request.query else "")
    return response.status_code == 301 and unquote(url) == unquote(own)


def _fields(request: HostileRequest) -> dict:
    return {name: getattr(request, name) for name in request.__dataclass_fields__}
