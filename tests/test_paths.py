"""Matching what people paste to an endpoint template."""

import pytest

from troubleshooter.paths import match_endpoint, normalise_path


@pytest.mark.parametrize(
    "raw",
    [
        "/v1/chat/completions",
        "/v1/chat/completions/",
        "https://api.portkey.ai/v1/chat/completions",
        "https://api.portkey.ai/v1/chat/completions?stream=true#x",
        "api.portkey.ai/v1/chat/completions",
        "/chat/completions",
        "  /v1/chat/completions  ",
    ],
)
def test_urls_and_paths_in_any_form_reach_the_same_endpoint(snapshot, raw):
    match = match_endpoint(snapshot, "post", raw)

    assert match.endpoint is not None
    assert match.endpoint.label == "POST /v1/chat/completions"


def test_the_method_is_case_insensitive(snapshot):
    assert match_endpoint(snapshot, "gEt", "/v1/models").endpoint.path == "/v1/models"


def test_parameters_match_any_segment(snapshot):
    match = match_endpoint(snapshot, "GET", "/v1/integrations/my-openai")

    assert match.endpoint.path == "/v1/integrations/{slug}"


def test_the_most_specific_template_wins(snapshot):
    completions = match_endpoint(snapshot, "POST", "/v1/prompts/pp-1/completions")
    partials = match_endpoint(snapshot, "GET", "/v1/prompts/partials")
    exports = match_endpoint(snapshot, "GET", "/v1/logs/exports")

    assert completions.endpoint.path.endswith("/completions")
    assert partials.endpoint.path == "/v1/prompts/partials"
    assert exports.endpoint.path == "/v1/logs/exports"


def test_a_path_known_under_another_method_suggests_that_method(snapshot):
    match = match_endpoint(snapshot, "GET", "/v1/chat/completions")

    assert match.endpoint is None
    assert match.suggestions[0] == "POST /v1/chat/completions"


def test_a_typo_gets_close_suggestions(snapshot):
    match = match_endpoint(snapshot, "POST", "/v1/chat/completion")

    assert match.endpoint is None
    assert "POST /v1/chat/completions" in match.suggestions


def test_nonsense_matches_nothing_without_raising(snapshot):
    match = match_endpoint(snapshot, "BREW", "\x00\x01 /../../etc/passwd")

    assert match.endpoint is None


def test_normalising_drops_host_query_and_trailing_slash():
    assert normalise_path("https://h/v1/a/b/?q=1") == "/v1/a/b"
    assert normalise_path("a/b") == "/v1/a/b"
