"""Every public URL survives hostile input: random and malicious query strings,
paths, methods, headers and bodies never cause a server error, and every
refusal is a clear page (or the API's JSON error)."""

import os

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import (
    HostileRequest,
    Target,
    fuzz_clients,
    h1_count,
    hostile_requests,
    problems,
    public_targets,
    send,
)
from troubleshooter.models import ShortLink

# A few hundred cases in CI; `make fuzz` runs ten thousand through .ci/fuzz.py.
settings.register_profile(
    "fuzz-ci",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
FUZZ_CI = settings.get_profile("fuzz-ci")


@pytest.fixture
def short_code(reference):
    query = "scenario=completions&key_type=admin&method=POST&path=/v1/chat/completions"
    link = ShortLink.objects.create(
        code=ShortLink.code_for(query), query=query, data_version=reference.version
    )
    return link.code


@pytest.fixture(autouse=True)
def _forget_rate_limits():
    # The fuzz posts many reports; the next module starts with a clean slate.
    yield
    cache.clear()


@FUZZ_CI
@given(data=st.data())
def test_no_hostile_request_to_a_public_url_gets_a_server_error(
    reference, short_code, data
):
    targets = public_targets(reference, short_code)
    clients = fuzz_clients()
    request: HostileRequest = data.draw(hostile_requests(targets, reference))

    response = send(clients, request)

    found = problems(request, response, clients)
    assert not found, request.describe() + "\n" + "\n".join(found)


def test_the_fuzzed_urls_cover_every_scenario_and_reference_row(snapshot):
    targets = public_targets(snapshot, "abc")
    paths = {target.path for target in targets}

    assert {f"/diagnose/{slug}/" for slug in snapshot.scenarios} <= paths
    assert {f"/reference/scopes/{name}/" for name in snapshot.scopes} <= paths
    assert {f"/reference/tasks/{slug}/" for slug in snapshot.operations} <= paths
    assert len(
        [t for t in targets if t.label.startswith("/reference/endpoints/<")]
    ) == (len(snapshot.endpoints))
    assert {"POST"} <= {m for t in targets for m in t.methods}
    assert Target("/api/v1/parse", "/api/v1/parse", ("POST",)) in targets


# -- Regressions the fuzzing found ----------------------------------------------


def wsgi_call(environ_extra: dict) -> tuple[str, bytes]:
    """One request through the production WSGI application, as gunicorn makes it."""
    from io import BytesIO

    from troubleshooter.wsgi import application

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(b""),
        "wsgi.errors": BytesIO(),
        **environ_extra,
    }
    started = []
    body = b"".join(
        application(environ, lambda status, headers: started.append(status))
    )
    return started[0], body


def test_a_charset_with_too_many_parameters_gets_a_400_page_not_a_crash(reference):
    # Django parsed the query string while building the request whenever the
    # Content-Type named a charset, outside every error handler: gunicorn
    # answered 500. troubleshooter.security keeps that parsing lazy.
    status, body = wsgi_call(
        {
            "PATH_INFO": "/keys/simulator/",
            "QUERY_STRING": "&".join(["scope=logs.view"] * 1500),
            "CONTENT_TYPE": "application/json; charset=utf-8",
        }
    )

    assert status.startswith("400")
    assert b"<h1>We could not read that request</h1>" in body


def test_a_charset_in_the_content_type_still_decodes_the_query(reference):
    status, body = wsgi_call(
        {
            "PATH_INFO": "/search/",
            "QUERY_STRING": "q=completions.write",
            "CONTENT_TYPE": "text/plain; charset=utf-8",
        }
    )

    assert status.startswith("200")
    assert b"completions.write" in body


def test_a_method_the_page_does_not_take_gets_a_page_naming_the_allowed_ones(
    client, reference
):
    response = client.post("/reference/")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    html = response.content.decode()
    assert h1_count(html) == 1
    assert "It answers GET, HEAD only." in html
    assert "Content-Security-Policy" in response.headers


def test_a_one_line_refusal_becomes_a_page_that_keeps_the_views_words(
    client, reference
):
    response = client.post("/f/", {"scenario": "no-such-scenario"})

    assert response.status_code == 400
    html = response.content.decode()
    assert h1_count(html) == 1
    assert "Nothing to link to: answer the wizard first." in html


def test_an_htmx_fragment_refusal_is_left_for_htmx_to_swap(client, reference):
    response = client.post("/f/", {}, headers={"HX-Request": "true"})

    assert response.status_code == 400
    assert response.content.decode().startswith("<!doctype html>")


def test_a_form_sent_without_its_csrf_token_gets_a_page_that_says_why(reference):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/feedback/", {"fixed": "yes"})

    assert response.status_code == 403
    html = response.content.decode()
    assert h1_count(html) == 1
    assert "Reload the page and send the form again" in html


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "code"),
    [
        ("post", "/api/v1/check", {}, 405, "method_not_allowed"),
        ("get", "/api/v1/check", {"Host": "evil..example"}, 400, "bad_request"),
        ("get", "/api/", {}, 404, "not_found"),
    ],
)
def test_api_refusals_from_django_itself_are_json_errors(
    client, reference, method, path, headers, status, code
):
    response = getattr(client, method)(path, headers=headers)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
