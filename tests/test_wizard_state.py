"""The wizard's answers in the URL: round trips, tampering and stale links."""

from django.http import QueryDict

from troubleshooter.state import Answers, parse_answers, to_query


def parse(query: str, snapshot):
    return parse_answers(QueryDict(query), snapshot)


def test_answers_survive_a_round_trip_through_the_url(snapshot):
    answers = Answers(
        scenario="admin_api",
        context="code",
        key_type="admin",
        method="GET",
        path="/v1/configs",
        scopes=frozenset({"configs.list", "configs.read"}),
        workspace_id_sent="no",
        role="org_admin",
        plan="enterprise",
    )

    parsed = parse(to_query(answers), snapshot)

    assert parsed.answers == answers
    assert parsed.dropped == ()


def test_a_key_with_none_of_the_listed_scopes_survives_a_round_trip(snapshot):
    answers = Answers(key_type="workspace_user", scopes=frozenset())

    parsed = parse(to_query(answers), snapshot)

    assert parsed.answers.scopes == frozenset()
    assert parsed.answers.scopes_unknown is False


def test_equal_answers_give_the_same_url_whatever_the_order(snapshot):
    one = parse("scopes=b.x&key_type=admin", snapshot).answers
    two = parse("key_type=admin&scopes=b.x", snapshot).answers

    assert to_query(one) == to_query(two)


def test_unknown_answers_are_kept_as_i_dont_know(snapshot):
    parsed = parse("key_type=unknown&scopes=unknown&plan=unknown", snapshot)

    assert parsed.answers.key_type == "unknown"
    assert parsed.answers.scopes_unknown is True
    assert parsed.answers.to_question().key_type is None
    assert parsed.answers.to_question().scopes is None


def test_tampered_values_are_dropped_with_a_plain_message(snapshot):
    parsed = parse(
        "key_type=superuser&role=god&context=<script>&scopes=completions.write,rm.rf,%00x",
        snapshot,
    )

    assert parsed.answers.key_type is None
    assert parsed.answers.role is None
    assert parsed.answers.context is None
    assert parsed.answers.scopes == frozenset({"completions.write"})
    assert any("key type" in message for message in parsed.dropped)
    assert any("rm.rf" in message for message in parsed.dropped)


def test_an_endpoint_removed_from_the_reference_is_dropped_and_asked_again(snapshot):
    parsed = parse("method=POST&path=/v1/retired/thing&key_type=admin", snapshot)

    assert parsed.answers.method is None
    assert parsed.answers.path is None
    assert parsed.answers.key_type == "admin"
    assert any("no longer know the endpoint" in m for m in parsed.dropped)


def test_a_removed_operation_is_dropped(snapshot):
    parsed = parse("operation=teleport-keys", snapshot)

    assert parsed.answers.operation is None
    assert parsed.dropped


def test_repeated_parameters_take_the_last_value(snapshot):
    parsed = parse("key_type=admin&key_type=workspace_user", snapshot)

    assert parsed.answers.key_type == "workspace_user"


def test_a_concrete_path_is_stored_as_its_template(snapshot):
    parsed = parse(
        "method=get&path=https://api.portkey.ai/v1/integrations/x1", snapshot
    )

    assert (parsed.answers.method, parsed.answers.path) == (
        "GET",
        "/v1/integrations/{slug}",
    )


def test_the_checklist_form_and_pasted_scopes_are_merged(snapshot):
    parsed = parse(
        "scopes_asked=1&scope=logs.view&scopes_text=portkey.completions.write+logs.list",
        snapshot,
    )

    assert parsed.answers.scopes == frozenset(
        {"logs.view", "completions.write", "logs.list"}
    )


def test_an_empty_checklist_means_no_scopes_not_unknown(snapshot):
    parsed = parse("scopes_asked=1", snapshot)

    assert parsed.answers.scopes == frozenset()
    assert parsed.answers.scopes_unknown is False


def test_the_url_never_carries_a_workspace_id_only_whether_it_was_sent(snapshot):
    parsed = parse("workspace_id=ws-123&workspace_id_sent=yes", snapshot)

    query = to_query(parsed.answers)
    assert "ws-123" not in query
    assert "workspace_id_sent=yes" in query
