"""The paste reader: a corpus of real-looking pastes, the curl word splitter,
the mapping to wizard answers, and properties over arbitrary input (no crash,
bounded time, no secret in the output)."""

import dataclasses
import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from troubleshooter.paste import (
    EMPTY,
    MAX_PASTE_BYTES,
    NOT_TEXT,
    NOTHING_FOUND,
    READ,
    SDK_CALLS,
    TOO_LARGE,
    read_paste,
    scenario_for,
    shell_words,
    understand,
)
from troubleshooter.paths import match_endpoint

CORPUS = Path(__file__).parent / "paste_corpus"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
AB03_BODY = (
    '{"success":false,"data":{"message":"You do not have enough permissions to '
    'execute this request","errorCode":"AB03"}}'
)


def corpus_text(name: str) -> str:
    # Decoded the way Django decodes a posted form: invalid bytes replaced.
    return (CORPUS / name).read_bytes().decode("utf-8", "replace")


def everything_shown(understanding) -> str:
    """Every value the page or the API could show, as one string."""
    reading = dataclasses.asdict(understanding.reading)
    return json.dumps(
        [reading, understanding.headline, str(understanding.answers)], default=str
    )


def test_every_corpus_file_has_an_expectation_and_every_expectation_a_file():
    files = {path.name for path in CORPUS.iterdir() if path.name != "expected.json"}

    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_corpus_paste_gives_the_expected_fields(snapshot, name):
    expected = EXPECTED[name]

    understanding = understand(read_paste(corpus_text(name)), snapshot)

    reading = understanding.reading
    assert reading.outcome == expected["outcome"]
    simple = (
        "error_code",
        "http_status",
        "workspace_id_sent",
        "workspace_id",
        "key_header",
        "trace_id",
        "message",
        "provider",
        "html_source",
    )
    for field in simple:
        if field in expected:
            assert getattr(reading, field) == expected[field], field
    if "headers_sent" in expected:
        assert list(reading.headers_sent) == expected["headers_sent"]
    for label in expected.get("found", []):
        assert label in reading.found
    if "endpoint" in expected:
        endpoint = understanding.endpoint
        assert (endpoint.label if endpoint else None) == expected["endpoint"]
    if "scenario" in expected:
        assert understanding.scenario == expected["scenario"]
    if "context" in expected:
        assert understanding.answers.context == expected["context"]
    if "answers_workspace_id_sent" in expected:
        assert (
            understanding.answers.workspace_id_sent
            == expected["answers_workspace_id_sent"]
        )
    if "not_ab03" in expected:
        reason = understanding.not_ab03.reason if understanding.not_ab03 else None
        assert reason == expected["not_ab03"]
    if "suggestions" in expected:
        assert sorted(understanding.suggestions) == expected["suggestions"]
    for secret in expected.get("secrets", []):
        assert secret in corpus_text(name)
        assert secret not in everything_shown(understanding)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_corpus_paste_ends_in_facts_or_a_clear_headline(snapshot, name):
    understanding = understand(read_paste(corpus_text(name)), snapshot)

    assert understanding.headline.endswith(".")
    if understanding.reading.outcome == READ:
        assert understanding.reading.found


def test_both_wordings_of_ab03_are_recognised_by_the_code_alone(snapshot):
    wordings = [
        "You do not have enough permissions to execute this request",
        "User not allowed to access the resource",
        "Something the gateway may say tomorrow",
    ]

    codes = {
        read_paste(
            json.dumps({"success": False, "data": {"message": m, "errorCode": "AB03"}})
        ).error_code
        for m in wordings
    }

    assert codes == {"AB03"}


def test_a_message_that_sounds_like_ab03_without_the_code_is_not_called_ab03():
    reading = read_paste(
        '{"success": false, "data": {"message": "You do not have enough '
        'permissions to execute this request"}}'
    )

    assert reading.error_code is None


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("AB05", "key itself"),
        ("AB02", "could not be found"),
        ("AB08", "does not exist"),
        ("AB03", "missing from the key's workspace"),
    ],
)
def test_each_code_is_explained_with_what_it_points_to(snapshot, code, words):
    body = json.dumps({"success": False, "data": {"message": "x", "errorCode": code}})

    understanding = understand(read_paste(body), snapshot)

    assert understanding.error.code == code
    assert words in understanding.error.meaning


def test_other_codes_are_told_apart_from_ab03(snapshot):
    body = json.dumps({"success": False, "data": {"errorCode": "AB05"}})

    understanding = understand(read_paste(body), snapshot)

    assert understanding.not_ab03.reason == "other_code"
    assert "not an AB03" in understanding.headline
    assert "AB05 (Unauthorised)" in understanding.headline


def test_an_html_403_from_cloudflare_is_not_an_ab03(snapshot):
    understanding = understand(read_paste(corpus_text("cloudflare_403.html")), snapshot)

    assert understanding.not_ab03.reason == "html_page"
    assert "not an AB03" in understanding.not_ab03.message
    assert "Cloudflare" in understanding.not_ab03.message
    assert understanding.reading.html_title == "Attention Required! | Cloudflare"


def test_an_openai_style_provider_403_is_not_an_ab03(snapshot):
    understanding = understand(
        read_paste(corpus_text("openai_provider_error.txt")), snapshot
    )

    assert understanding.not_ab03.reason == "provider_error"
    assert "This 403 is not an AB03" in understanding.not_ab03.message
    assert "(openai)" in understanding.not_ab03.message


def test_an_ab03_behind_cloudflare_is_still_an_ab03(snapshot):
    understanding = understand(read_paste(corpus_text("curl_verbose.txt")), snapshot)

    assert understanding.reading.server == "cloudflare"
    assert understanding.not_ab03 is None


def test_a_403_without_any_body_says_it_cannot_tell(snapshot):
    understanding = understand(read_paste("HTTP/1.1 403 Forbidden\n"), snapshot)

    assert understanding.not_ab03 is None
    assert "cannot tell whether it is an AB03" in understanding.headline


@pytest.mark.parametrize(
    "command",
    [
        "curl -X POST https://api.portkey.ai/v1/chat/completions -d '{}'",
        "curl --request POST 'https://api.portkey.ai/v1/chat/completions' -d '{}'",
        'curl -XPOST "https://api.portkey.ai/v1/chat/completions?trace=1" -d "{}"',
        "curl https://api.portkey.ai/v1/chat/completions --data-raw '{\"a\": 1}'",
        "curl api.portkey.ai/v1/chat/completions --json '{}'",
        "curl -sS -X POST /v1/chat/completions -d @body.json",
        "curl -X POST \\\n  https://api.portkey.ai/v1/chat/completions \\\n  -d '{}'",
        'curl.exe -X POST "https://api.portkey.ai/v1/chat/completions" ^\n -d "{}"',
        "curl -X POST `\n https://api.portkey.ai/v1/chat/completions `\n -d '{}'",
        "curl -X POST ${PORTKEY_GATEWAY_URL}/chat/completions -d '{}'",
    ],
)
def test_curl_commands_in_every_style_name_the_same_call(snapshot, command):
    understanding = understand(read_paste(command), snapshot)

    assert understanding.reading.method_from == "the curl command"
    assert understanding.endpoint.label == "POST /v1/chat/completions"


@pytest.mark.parametrize(
    ("header", "label"),
    [
        ("-H 'x-portkey-api-key: abc123'", "x-portkey-api-key"),
        ('-H "X-Portkey-Api-Key: abc123"', "x-portkey-api-key"),
        ("--header 'Authorization: Bearer abc123'", "Authorization: Bearer"),
        ("-H'authorization: Basic abc123'", "Authorization: Basic"),
        ("-u user:abc123", "basic auth (curl -u)"),
    ],
)
def test_the_key_header_is_named_and_its_value_never_kept(header, label):
    reading = read_paste(f"curl https://api.portkey.ai/v1/models {header}")

    assert reading.key_header == label
    assert "abc123" not in json.dumps(dataclasses.asdict(reading))


def test_workspace_id_in_a_curl_body_counts_as_sent(snapshot):
    reading = read_paste(
        "curl -X POST https://api.portkey.ai/v1/configs "
        '-d \'{"name": "x", "workspace_id": "ws-prod"}\''
    )

    assert reading.workspace_id_sent is True
    assert reading.workspace_id == "ws-prod"


def test_workspace_id_is_unknown_when_the_body_came_from_a_file():
    reading = read_paste("curl -X POST https://api.portkey.ai/v1/configs -d @c.json")

    assert reading.workspace_id_sent is None


def test_workspace_id_mentioned_only_in_the_response_does_not_count_as_sent():
    reading = read_paste(
        "POST /v1/configs HTTP/1.1\n"
        "HTTP/1.1 400 Bad Request\n\n"
        '{"success":false,"data":{"message":"workspace_id: required",'
        '"errorCode":"AB01"}}'
    )

    assert reading.workspace_id_sent is None


def test_get_with_workspace_id_in_the_query_fills_the_admin_question(snapshot):
    understanding = understand(
        read_paste("GET /v1/prompts?workspace_id=ws-1 HTTP/1.1"), snapshot
    )

    assert understanding.answers.workspace_id_sent == "yes"


def test_the_workspace_answer_is_left_out_where_the_wizard_never_asks_it(snapshot):
    understanding = understand(
        read_paste("curl -X POST https://api.portkey.ai/v1/chat/completions -d '{}'"),
        snapshot,
    )

    assert understanding.reading.workspace_id_sent is False
    assert understanding.answers.workspace_id_sent is None


def test_the_shell_splitter_keeps_quoted_text_whole_and_stops_at_the_line_end():
    words = shell_words('curl -H "a: \\"b\\"" \'c d\' e\\ f \\\n g | jq\nnext line', 4)

    assert words == ["-H", 'a: "b"', "c d", "e f", "g"]


def test_an_unclosed_quote_runs_to_the_end_instead_of_failing():
    assert shell_words('curl -d \'{"a": 1}', 4) == ["-d", '{"a": 1}']


def test_every_sdk_call_maps_to_a_known_endpoint(snapshot):
    missing = [
        name
        for name, (method, path) in SDK_CALLS.items()
        if match_endpoint(snapshot, method, path).endpoint is None
    ]

    assert missing == []


def test_a_path_with_a_single_method_gets_that_method(snapshot):
    understanding = understand(
        read_paste(
            "requests.exceptions.HTTPError: 403 Client Error: Forbidden "
            "for url: https://api.portkey.ai/v1/audit-logs?limit=5"
        ),
        snapshot,
    )

    assert understanding.endpoint.label == "GET /v1/audit-logs"
    assert understanding.method_guessed is True
    assert understanding.scenario == "logs"


@pytest.mark.parametrize(
    ("method", "path", "scenario"),
    [
        ("GET", "/v1/models", "models"),
        ("POST", "/v1/logs", "logs"),
        ("GET", "/v1/analytics/graphs/cost", "logs"),
        ("PUT", "/v1/mcp-integrations/{id}", "mcp"),
        ("POST", "/v1/embeddings", "completions"),
        ("POST", "/v1/api-keys/{type}/{sub-type}", "admin_api"),
    ],
)
def test_the_scenario_follows_the_endpoint_area(snapshot, method, path, scenario):
    endpoint = match_endpoint(snapshot, method, path).endpoint

    assert scenario_for(snapshot, endpoint) == scenario


def test_without_an_endpoint_the_general_checks_are_chosen(snapshot):
    assert scenario_for(snapshot, None) == "something_else"


def test_an_empty_or_blank_paste_is_refused_as_empty():
    assert read_paste("").outcome == EMPTY
    assert read_paste(" \n\t ").outcome == EMPTY


def test_a_paste_over_one_megabyte_is_refused_counting_bytes_not_characters():
    assert read_paste("x" * MAX_PASTE_BYTES).outcome != TOO_LARGE
    assert read_paste("x" * (MAX_PASTE_BYTES + 1)).outcome == TOO_LARGE
    # Two bytes each in UTF-8: half as many characters already exceed the limit.
    assert read_paste("é" * (MAX_PASTE_BYTES // 2 + 1)).outcome == TOO_LARGE


def test_binary_junk_is_refused_as_not_text():
    assert read_paste("abc\x00def").outcome == NOT_TEXT
    assert read_paste(corpus_text("binary_junk.bin")).outcome == NOT_TEXT


def test_text_with_nothing_recognisable_says_so(snapshot):
    understanding = understand(read_paste("hello there, it broke"), snapshot)

    assert understanding.reading.outcome == NOTHING_FOUND
    assert understanding.recognised is False


def test_a_trace_id_that_looks_like_a_key_is_left_out_with_a_note():
    reading = read_paste("x-portkey-trace-id: a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6\n")

    assert reading.trace_id is None
    assert any("trace ID" in note for note in reading.notes)


def test_a_long_error_body_is_cut_after_masking():
    secret = "Zk4" + "q7" * 30
    body = json.dumps(
        {
            "success": False,
            "data": {"message": "x" * 7990 + " " + secret, "errorCode": "AB03"},
        }
    )

    reading = read_paste(body)

    assert reading.masked_body.endswith("[... cut]")
    assert secret[:10] not in reading.masked_body


# -- Properties --------------------------------------------------------------

FRAGMENTS = [
    "curl ",
    "-X POST ",
    "--request GET ",
    "-H 'x-portkey-api-key: ",
    '-H "Authorization: Bearer ',
    "https://api.portkey.ai/v1/chat/completions",
    "?workspace_id=",
    " \\\n",
    "^\n",
    "'",
    '"',
    "\\",
    "{",
    "}",
    '{"success": false, "data": {"message": "',
    '"errorCode": "AB03"',
    "HTTP/1.1 403 Forbidden\n",
    "x-portkey-trace-id: ",
    "<html><title>",
    "Traceback (most recent call last):\n",
    "    at f (/a.js:1:2)\n",
    "Error code: 403 - {'error': {'message': ",
    "\n",
    "\x00",
    "\ud7ff",
]
pastes = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=40)), max_size=40
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=3000), pastes))
def test_no_input_makes_the_reader_raise_or_take_long(snapshot, text):
    started = time.perf_counter()

    understanding = understand(read_paste(text), snapshot)

    assert time.perf_counter() - started < 1.0
    assert understanding.headline


ADVERSARIAL = {
    "one long word": "a" * MAX_PASTE_BYTES,
    "key-like run ending in a dot": "a1" * (MAX_PASTE_BYTES // 2 - 1) + ".",
    "open braces": "{" * MAX_PASTE_BYTES,
    "object starts": '{"a":' * (MAX_PASTE_BYTES // 5),
    "quotes": '"' * MAX_PASTE_BYTES,
    "unclosed strings": ('{"m": "' + "x" * 5000) * (MAX_PASTE_BYTES // 5010),
    "curl everywhere": "curl " * (MAX_PASTE_BYTES // 5),
    "one huge curl": "curl -H " + "'x' " * (MAX_PASTE_BYTES // 5),
    "continuations": "curl \\\n" * (MAX_PASTE_BYTES // 7),
    "newlines": "\n" * MAX_PASTE_BYTES,
    "header lines": "x-portkey-trace-id: abc\n" * (MAX_PASTE_BYTES // 24),
    "spaces then no colon": "a" + " " * (MAX_PASTE_BYTES - 2) + "b",
    "error code keys": '"errorCode": ' * (MAX_PASTE_BYTES // 13),
    "stack lines": "    at " + "x" * 600 + "\n" * 1 * (MAX_PASTE_BYTES // 1000),
    "html": "<html>" + "<title>" * (MAX_PASTE_BYTES // 7 - 1),
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_a_hostile_megabyte_is_read_in_bounded_time(snapshot, name):
    text = ADVERSARIAL[name][:MAX_PASTE_BYTES]
    started = time.perf_counter()

    understand(read_paste(text), snapshot)

    # Generous for slow CI machines; typical runs take a small fraction.
    assert time.perf_counter() - started < 3.0


def key_like(min_pairs: int):
    """Secrets with letters and digits mixed, as API keys and tokens are."""
    return st.builds(
        lambda letters, digits: (
            "Sk" + "".join(a + b for a, b in zip(letters, digits, strict=False))
        ),
        st.text("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ", min_size=min_pairs),
        st.text("23456789", min_size=min_pairs, max_size=30),
    )


# A credential's name marks its value as secret whatever its length.
NAMED_PLACES = [
    "curl https://api.portkey.ai/v1/models -H 'x-portkey-api-key: {s}'",
    'curl -X POST "https://api.portkey.ai/v1/chat/completions" '
    '-H "Authorization: Bearer {s}"',
    "curl 'https://api.portkey.ai/v1/prompts?api_key={s}&workspace_id=ws-1'",
    "GET /v1/configs HTTP/1.1\nx-portkey-api-key: {s}\n\nHTTP/1.1 403 Forbidden\n",
    "{{'headers': {{'x-portkey-api-key': '{s}'}}, 'errorCode': 'AB03'}}",
    "x-portkey-virtual-key: {s}\nx-portkey-trace-id: "
    "0b7d9c3e-5a21-4f6e-8d4c-2e9f1a7b6c50",
    "password={s}&user=me",
]
# In free text only long key-like strings can be told from words.
PROSE_PLACES = [
    '{{"success": false, "data": {{"message": "bad key {s}", "errorCode": "AB05"}}}}',
    "Error code: 403 - {{'error': {{'message': 'openai error: key {s} refused'}}}}",
    '{{"error": {{"message": "Incorrect API key provided: {s}"}}, "provider": "x"}}',
]
placed = st.one_of(
    st.tuples(st.sampled_from(NAMED_PLACES), key_like(4)),
    st.tuples(st.sampled_from(PROSE_PLACES), key_like(12)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(placement=placed, noise=pastes)
def test_no_secret_from_the_input_appears_in_the_output(snapshot, placement, noise):
    place, secret = placement
    text = noise + "\n" + place.format(s=secret) + "\n" + noise

    understanding = understand(read_paste(text), snapshot)

    assert secret not in everything_shown(understanding)
