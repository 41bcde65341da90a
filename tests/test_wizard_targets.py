"""The target step's list: what typing finds, and that it stays short."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from troubleshooter.wizard import TARGET_LIST_LIMIT, find_targets, scenario_targets


def labels(found) -> list[str]:
    return [target.label for target in found.shown]


def test_with_nothing_typed_every_call_is_offered_in_the_datas_order(snapshot):
    found = find_targets(snapshot, "completions")

    assert labels(found) == [t.label for t in scenario_targets(snapshot, "completions")]
    assert found.matching == found.offered == len(found.shown)
    assert not found.cut


def test_a_long_list_is_cut_to_the_limit_and_says_how_many_match(snapshot):
    found = find_targets(snapshot, "something_else")

    assert found.offered > TARGET_LIST_LIMIT
    assert len(found.shown) == TARGET_LIST_LIMIT
    assert found.matching == found.offered
    assert found.cut


def test_asking_for_all_shows_every_match(snapshot):
    found = find_targets(snapshot, "something_else", limit=None)

    assert len(found.shown) == found.offered
    assert not found.cut


def test_every_word_must_match_the_area_label_or_summary(snapshot):
    found = find_targets(snapshot, "admin_api", "integrations models")

    assert found.shown
    for target in found.shown:
        text = f"{target.area} {target.label} {target.summary}".lower()
        assert "integrations" in text and "models" in text


def test_a_method_word_keeps_that_method_only(snapshot):
    found = find_targets(snapshot, "admin_api", "delete configs")

    assert labels(found) == ["DELETE /v1/configs/{slug}"]


@pytest.mark.parametrize(
    "typed",
    [
        "/v1/configs/pc-abc123",
        "https://api.portkey.ai/v1/configs/pc-abc123?workspace_id=ws-1",
        "configs/pc-abc123/",
        "GET https://api.portkey.ai/v1/configs/pc-abc123",
    ],
)
def test_a_pasted_url_puts_the_templates_it_fits_first(snapshot, typed):
    found = find_targets(snapshot, "admin_api", typed)

    assert found.shown[0].path == "/v1/configs/{slug}"
    if typed.startswith("GET"):
        assert labels(found) == ["GET /v1/configs/{slug}"]


def test_a_partial_path_finds_every_call_under_it(snapshot):
    found = find_targets(snapshot, "completions", "/chat")

    assert "POST /v1/chat/completions" in labels(found)
    assert all("/chat" in target.path for target in found.shown)


def test_tasks_without_a_path_are_found_by_words_but_never_by_a_path(snapshot):
    tasks = [t for t in scenario_targets(snapshot, "admin_api") if hasattr(t, "slug")]
    word = tasks[0].summary.split()[0].lower()

    by_word = find_targets(snapshot, "admin_api", word, limit=None)
    by_path = find_targets(snapshot, "admin_api", "/v1", limit=None)

    assert tasks[0] in by_word.shown
    assert all(hasattr(target, "path") for target in by_path.shown)


def test_nothing_matching_is_an_empty_list_not_an_error(snapshot):
    found = find_targets(snapshot, "mcp", "zebra\x00 \u202e /../../etc/passwd")

    assert found.shown == ()
    assert found.matching == 0
    assert found.offered > 0


def test_what_was_typed_is_tidied_and_bounded(snapshot):
    found = find_targets(
        snapshot, "completions", "  chat \n\t completions  " + "x" * 5000
    )

    assert found.find.startswith("chat completions ")
    assert len(found.find) <= 1000


def test_a_pasted_curl_command_finds_its_call_whatever_else_it_holds(snapshot):
    command = (
        "curl -X POST -H 'x-portkey-api-key: [masked]' "
        '-H "Content-Type: application/json" '
        """-d '{"model": "@openai/gpt-4o", "messages": []}' """
        "'https://api.portkey.ai/v1/chat/completions'"
    )

    found = find_targets(snapshot, "completions", command)

    assert labels(found) == ["POST /v1/chat/completions"]


SCENARIOS = ("completions", "admin_api", "logs", "mcp", "playground", "something_else")


@settings(max_examples=200, deadline=None)
@given(scenario=st.sampled_from(SCENARIOS), typed=st.text(max_size=300))
def test_any_text_gives_a_bounded_list_of_offered_calls(snapshot, scenario, typed):
    found = find_targets(snapshot, scenario, typed)

    offered = scenario_targets(snapshot, scenario)
    assert len(found.shown) <= TARGET_LIST_LIMIT
    assert all(target in offered for target in found.shown)
    assert found.matching <= found.offered == len(offered)


def test_typing_a_calls_own_label_always_finds_it_first(snapshot):
    for scenario in SCENARIOS:
        for target in scenario_targets(snapshot, scenario):
            if not hasattr(target, "path"):
                continue
            found = find_targets(snapshot, scenario, target.label)
            assert found.shown[0] == target, (scenario, target.label)
