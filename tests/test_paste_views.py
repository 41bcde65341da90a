"""Paste to diagnose through HTTP: the page, its "correct it" step and
POST /api/v1/parse, including size limits, CSRF, masking and logging."""

import logging
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from troubleshooter.openapi import openapi_document
from troubleshooter.paste import MAX_PASTE_BYTES

CORPUS = Path(__file__).parent / "paste_corpus"
PASTE = "/paste/"
PARSE = "/api/v1/parse"
SECRET = "pk7Hq2mZp9Xw4Lr8Tn3Vb6Yc1Kd5Fg0"
TRACE = "0b7d9c3e-5a21-4f6e-8d4c-2e9f1a7b6c50"
AB03_CURL = f"""curl -X POST https://api.portkey.ai/v1/chat/completions \\
  -H "Content-Type: application/json" \\
  -H "x-portkey-api-key: {SECRET}" \\
  -d '{{"model": "gpt-4o-mini", "messages": []}}'

HTTP/2 403
x-portkey-trace-id: {TRACE}

{{"success":false,"data":{{"message":"You do not have enough permissions to execute this request","errorCode":"AB03"}}}}
"""


def count_h1(html: str) -> int:
    return len(re.findall(r"<h1[\s>]", html))


def validate(body: dict, name: str) -> None:
    document = openapi_document("http://testserver/")
    jsonschema.validate(body, {"$ref": f"#/components/schemas/{name}", **document})


def continue_link(html: str) -> str:
    found = re.search(
        r'<a class="button" href="([^"]+)">Looks right: continue</a>', html
    )
    assert found, "no continue link"
    return found.group(1).replace("&amp;", "&")


# -- The page ---------------------------------------------------------------


def test_the_paste_page_offers_a_csrf_protected_multipart_form(client, reference):
    response = client.get(PASTE)

    html = response.content.decode()
    assert response.status_code == 200
    assert count_h1(html) == 1
    assert 'enctype="multipart/form-data"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'data-max-bytes="1000000"' in html


def test_the_home_page_links_to_the_paste_page(client, reference):
    html = client.get(reverse("home")).content.decode()

    assert f'href="{PASTE}"' in html
    assert "Paste the error or curl command" in html


def test_every_page_loads_the_paste_script_for_the_ticket_handoff(client, reference):
    html = client.get(reverse("home")).content.decode()

    assert 'src="/static/js/paste.js" defer' in html


def test_an_ab03_curl_and_body_are_summarised_with_everything_known(client, reference):
    response = client.post(PASTE, {"text": AB03_CURL})

    html = response.content.decode()
    assert response.status_code == 200
    assert count_h1(html) == 1
    assert "POST /v1/chat/completions was refused with 403 AB03" in html
    assert "<code>x-portkey-api-key</code>" in html
    assert f"<code>{TRACE}</code>" in html
    assert "Not sent" in html
    assert SECRET not in html


def test_continue_opens_the_first_unanswered_step_with_the_answers_filled(
    client, reference
):
    html = client.post(PASTE, {"text": AB03_CURL}).content.decode()

    url = continue_link(html)
    parts = urlsplit(url)
    assert parts.path == reverse("wizard:step", args=["completions"])
    assert parse_qs(parts.query) == {
        "context": ["code"],
        "method": ["POST"],
        "path": ["/v1/chat/completions"],
    }
    step = client.get(url).content.decode()
    assert "Which kind of API key was used?" in step
    assert 'name="path" value="/v1/chat/completions"' in step


def test_the_paste_never_reaches_a_link(client, reference):
    html = client.post(PASTE, {"text": AB03_CURL}).content.decode()

    links = re.findall(r'href="([^"]*)"', html)
    assert links
    for link in links:
        assert TRACE not in link
        assert SECRET not in link
        assert "AB03" not in link


def test_the_trace_id_and_masked_body_are_handed_to_the_browser_only(client, reference):
    html = client.post(PASTE, {"text": AB03_CURL}).content.decode()

    handoff = re.search(r"<div hidden data-paste-handoff ([^>]*)>", html)
    assert handoff
    attributes = handoff.group(1)
    assert f'data-trace-id="{TRACE}"' in attributes
    assert "errorCode&quot;:&quot;AB03" in attributes
    assert SECRET not in attributes
    assert "ticket gets the trace ID and the masked error body filled in" in html


def test_the_textarea_comes_back_masked_so_the_paste_can_be_edited(client, reference):
    html = client.post(PASTE, {"text": AB03_CURL}).content.decode()

    textarea = re.search(
        r"<textarea id=\"paste-text\"[^>]*>(.*?)</textarea>", html, re.S
    )
    assert "x-portkey-api-key: [masked]" in textarea.group(1)
    assert SECRET not in textarea.group(1)


def test_the_result_is_never_cached(client, reference):
    response = client.post(PASTE, {"text": AB03_CURL})

    assert "no-store" in response.headers["Cache-Control"]


def test_reading_a_paste_costs_one_query_when_the_reference_is_warm(
    client, reference, django_assert_num_queries
):
    client.get(PASTE)

    with django_assert_num_queries(1):
        # 1. the reference data version stamp behind current_snapshot()
        client.post(PASTE, {"text": AB03_CURL})


def test_one_log_line_per_paste_names_the_outcome_but_not_the_paste(
    client, reference, caplog
):
    caplog.set_level(logging.DEBUG)

    client.post(PASTE, {"text": AB03_CURL})

    lines = [
        r.getMessage() for r in caplog.records if r.name.startswith("troubleshooter")
    ]
    assert lines == [
        "paste outcome=read code=AB03 status=403 endpoint=POST /v1/chat/completions "
        "scenario=completions not_ab03=-"
    ]
    assert SECRET not in caplog.text
    assert TRACE not in caplog.text


def test_the_form_needs_its_csrf_token(reference):
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(PASTE, {"text": AB03_CURL})

    assert response.status_code == 403


def test_an_empty_paste_is_refused_with_a_clear_message(client, reference):
    response = client.post(PASTE, {"text": "   \n "})

    html = response.content.decode()
    assert response.status_code == 400
    assert "Paste something first" in html
    assert count_h1(html) == 1


def test_binary_junk_is_refused_and_what_was_typed_is_kept_masked(client, reference):
    junk = (
        "my note: "
        + SECRET
        + " "
        + (CORPUS / "binary_junk.bin").read_bytes().decode("utf-8", "replace")
    )

    response = client.post(PASTE, {"text": junk})

    html = response.content.decode()
    assert response.status_code == 400
    assert "This does not look like text" in html
    assert "my note: [masked]" in html
    assert SECRET not in html


def test_a_paste_just_over_one_megabyte_gets_the_polite_413_page(client, reference):
    response = client.post(PASTE, {"text": "x" * (MAX_PASTE_BYTES + 10)})

    html = response.content.decode()
    assert response.status_code == 413
    assert "too large (1.0 MB)" in html
    assert count_h1(html) == 1


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(reference):
    # Even before the CSRF check, which would have to read the body first.
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(PASTE, {"text": "x" * (3 * MAX_PASTE_BYTES)})

    assert response.status_code == 413
    assert "we read at most 1 MB" in response.content.decode()


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        (
            "cloudflare_403.html",
            "is not an AB03: the answer is an HTML page from Cloudflare",
        ),
        ("openai_provider_error.txt", "This 403 is not an AB03"),
        ("ab05_envelope.json", "The key itself was not accepted"),
        ("python_requests_error.txt", "it could be"),
        ("unrelated_text.txt", "We looked for:"),
        ("js_sdk_error.txt", "The call was refused with 403 AB03"),
    ],
)
def test_corpus_pastes_render_a_summary_never_an_error_page(
    client, reference, name, shown
):
    text = (CORPUS / name).read_bytes().decode("utf-8", "replace")

    response = client.post(PASTE, {"text": text})

    html = response.content.decode()
    assert response.status_code == 200
    assert shown in html
    assert "Looks right: continue" in html
    assert count_h1(html) == 1


# -- Correcting what was understood ---------------------------------------------


def test_corrected_answers_open_the_wizard_at_the_next_question(client, reference):
    response = client.get(
        reverse("paste:continue"),
        {
            "scenario": "admin_api",
            "context": "code",
            "method": "GET",
            "path": "/v1/prompts",
            "key_type": "admin",
            "workspace_id_sent": "no",
        },
    )

    assert response.status_code == 302
    parts = urlsplit(response.url)
    assert parts.path == reverse("wizard:step", args=["admin_api"])
    assert parse_qs(parts.query) == {
        "context": ["code"],
        "key_type": ["admin"],
        "method": ["GET"],
        "path": ["/v1/prompts"],
        "workspace_id_sent": ["no"],
    }


def test_a_correction_naming_an_unknown_path_keeps_what_was_typed(client, reference):
    response = client.get(
        reverse("paste:continue"),
        {"scenario": "admin_api", "method": "GET", "path": "/v1/no-such-thing"},
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "We no longer know the endpoint GET /v1/no-such-thing" in html
    assert 'value="/v1/no-such-thing"' in html
    assert count_h1(html) == 1


# -- POST /api/v1/parse -----------------------------------------------------------


def test_the_api_returns_every_field_it_found(client, reference):
    response = client.post(PARSE, {"text": AB03_CURL}, content_type="application/json")

    body = response.json()
    assert response.status_code == 200
    validate(body, "ParseResult")
    assert body["error_code"] == "AB03"
    assert body["http_status"] == 403
    assert body["method"] == "POST"
    assert body["endpoint"] == {
        "method": "POST",
        "path": "/v1/chat/completions",
        "plane": "data",
        "area": "Inference",
    }
    assert body["workspace_id_sent"] is False
    assert body["key_header"] == "x-portkey-api-key"
    assert body["trace_id"] == TRACE
    assert body["not_ab03"] is None
    assert body["answers"]["scenario"] == "completions"
    assert body["wizard_url"] == (
        "http://testserver/diagnose/completions/"
        "?context=code&method=POST&path=/v1/chat/completions"
    )
    assert SECRET not in response.content.decode()


def test_the_api_tells_a_provider_403_apart(client, reference):
    text = (CORPUS / "openai_provider_error.txt").read_text()

    body = client.post(PARSE, {"text": text}, content_type="application/json").json()

    validate(body, "ParseResult")
    assert body["not_ab03"]["reason"] == "provider_error"
    assert "not an AB03" in body["not_ab03"]["message"]


def test_the_api_says_what_it_looked_for_when_it_finds_nothing(client, reference):
    body = client.post(
        PARSE, {"text": "it broke again"}, content_type="application/json"
    ).json()

    validate(body, "ParseResult")
    assert body["recognised"] is False
    assert body["looked_for"]
    assert body["wizard_url"].endswith("/diagnose/something_else/")


def test_the_api_is_usable_without_a_csrf_token(reference):
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(PARSE, {"text": AB03_CURL}, content_type="application/json")

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_parameter"),
        ('{"paste": "x"}', "invalid_parameter"),
        ('{"text": 42}', "invalid_parameter"),
        ('{"text": "  "}', "empty"),
        ('{"text": "a\\u0000b"}', "not_text"),
        ("[" * 100_000, "invalid_json"),
    ],
)
def test_bad_api_input_gets_a_400_json_error(client, reference, payload, code):
    response = client.post(PARSE, payload, content_type="application/json")

    assert response.status_code == 400
    body = response.json()
    validate(body, "Error")
    assert body["error"]["code"] == code


def test_the_api_refuses_a_paste_over_one_megabyte_with_413(client, reference):
    response = client.post(
        PARSE, {"text": "x" * (MAX_PASTE_BYTES + 1)}, content_type="application/json"
    )

    assert response.status_code == 413
    validate(response.json(), "Error")


def test_the_api_refuses_a_body_over_djangos_limit_without_reading_it(
    client, reference
):
    response = client.post(
        PARSE, {"text": "x" * (3 * MAX_PASTE_BYTES)}, content_type="application/json"
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_the_api_only_answers_post(client, reference):
    response = client.get(PARSE)

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    validate(response.json(), "Error")


def test_the_openapi_description_documents_parse(client, reference):
    document = client.get("/api/v1/openapi.json").json()

    operation = document["paths"]["/api/v1/parse"]["post"]
    assert set(operation["responses"]) == {"200", "400", "405", "413", "429"}
    for name in ("ParseRequest", "ParseResult"):
        jsonschema.Draft202012Validator.check_schema(
            document["components"]["schemas"][name]
        )


# -- Secrets never leave, whatever the paste ---------------------------------------

places = st.sampled_from(
    [
        "curl https://api.portkey.ai/v1/models -H 'x-portkey-api-key: {s}'",
        "Authorization: Bearer {s}\nHTTP/1.1 403 Forbidden",
        "{{'errorCode': 'AB03', 'api_key': '{s}'}}",
        '{{"error": {{"message": "Incorrect API key provided: {s}{s}"}}}}',
    ]
)
noise = st.text(max_size=200)
secrets = st.from_regex(r"\Ask[A-Za-z]{4}[0-9]{4}[A-Za-z0-9]{4,20}\Z")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(place=places, secret=secrets, before=noise, after=noise)
def test_no_secret_reaches_a_page_a_response_or_a_log(
    client, reference, caplog, place, secret, before, after
):
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    text = before + "\n" + place.format(s=secret) + "\n" + after

    page = client.post(PASTE, {"text": text})
    api = client.post(PARSE, {"text": text}, content_type="application/json")

    assert page.status_code in (200, 400)
    assert api.status_code in (200, 400)
    assert secret not in page.content.decode()
    assert secret not in api.content.decode()
    assert secret not in caplog.text
