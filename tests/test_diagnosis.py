"""The diagnosis engine, one row per documented fact, plus properties that must
hold for every endpoint and every holding of scopes."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scopes.snapshot import KEY_TYPE_SLUGS
from troubleshooter.diagnosis import Question, diagnose
from troubleshooter.paths import match_endpoint

WORKSPACE_KEYS = ("workspace_user", "workspace_service")
HELP_PAGE_DATA_PLANE = [
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    ("POST", "/v1/responses"),
    ("POST", "/v1/messages"),
    ("POST", "/v1/embeddings"),
    ("POST", "/v1/images/generations"),
    ("POST", "/v1/images/edits"),
    ("POST", "/v1/audio/speech"),
    ("POST", "/v1/audio/transcriptions"),
    ("POST", "/v1/audio/translations"),
    ("POST", "/v1/files"),
    ("GET", "/v1/files"),
    ("POST", "/v1/batches"),
    ("GET", "/v1/batches"),
    ("POST", "/v1/fine-tuning/jobs"),
    ("GET", "/v1/realtime"),
    ("POST", "/v1/prompts/pp-123/completions"),
    ("POST", "/v1/gateway/tokenize"),
]


def check(snapshot, method, path, **question):
    match = match_endpoint(snapshot, method, path)
    assert match.endpoint is not None, f"{method} {path} should match an endpoint"
    return diagnose(snapshot, match.endpoint, Question(**question))


@pytest.mark.parametrize(("method", "path"), HELP_PAGE_DATA_PLANE)
@pytest.mark.parametrize("key_type", WORKSPACE_KEYS)
def test_data_plane_calls_are_allowed_with_completions_write_for_workspace_keys(
    snapshot, method, path, key_type
):
    diagnosis = check(
        snapshot,
        method,
        path,
        key_type=key_type,
        scopes=frozenset({"completions.write"}),
    )

    assert diagnosis.verdict == "allowed"


@pytest.mark.parametrize(("method", "path"), HELP_PAGE_DATA_PLANE)
def test_data_plane_calls_refuse_admin_keys_whatever_their_scopes(
    snapshot, method, path
):
    every_admin_scope = snapshot.scopes_for("admin")

    diagnosis = check(
        snapshot, method, path, key_type="admin", scopes=every_admin_scope
    )

    assert diagnosis.verdict == "denied"
    assert diagnosis.key_type_ok is False
    assert diagnosis.reasons[0].code == "admin_key_on_data_plane"
    assert diagnosis.use_key_type in WORKSPACE_KEYS
    assert diagnosis.use_key_type_scopes == ("completions.write",)


@pytest.mark.parametrize("held", ["completions.write", "virtual_keys.list"])
def test_models_can_be_listed_with_either_documented_scope(snapshot, held):
    diagnosis = check(
        snapshot,
        "GET",
        "/v1/models",
        key_type="workspace_service",
        scopes=frozenset({held}),
    )

    assert diagnosis.verdict == "allowed"


def test_listing_models_without_either_scope_suggests_the_cheapest_one(snapshot):
    diagnosis = check(
        snapshot, "GET", "/v1/models", key_type="workspace_user", scopes=frozenset()
    )

    assert diagnosis.verdict == "denied"
    assert diagnosis.required == (("completions.write",), ("virtual_keys.list",))
    assert len(diagnosis.scopes_to_add) == 1


def test_integration_list_scope_does_not_grant_reading_one(snapshot):
    diagnosis = check(
        snapshot,
        "GET",
        "/v1/integrations/openai-prod",
        key_type="workspace_service",
        scopes=frozenset({"workspace_integrations.list"}),
    )

    assert diagnosis.verdict == "denied"
    assert diagnosis.reasons[0].code == "list_read_mixup"
    assert diagnosis.scopes_to_add == ("workspace_integrations.read",)


def test_integration_models_need_the_read_scope(snapshot):
    allowed = check(
        snapshot,
        "GET",
        "/v1/integrations/openai-prod/models",
        key_type="admin",
        scopes=frozenset({"organisation_integrations.read"}),
    )

    assert allowed.verdict == "allowed"


@pytest.mark.parametrize(
    ("held", "verdict"),
    [
        ({"completions.write", "logs.write"}, "allowed"),
        ({"completions.write"}, "denied"),
        ({"logs.write"}, "denied"),
    ],
)
def test_log_ingestion_needs_both_scopes_together(snapshot, held, verdict):
    diagnosis = check(
        snapshot,
        "POST",
        "/v1/logs",
        key_type="workspace_service",
        scopes=frozenset(held),
    )

    assert diagnosis.verdict == verdict


@pytest.mark.parametrize("held", ["completions.write", "logs.write"])
def test_one_log_can_be_read_with_any_of_its_scopes(snapshot, held):
    diagnosis = check(
        snapshot,
        "GET",
        "/v1/logs/log-1",
        key_type="workspace_user",
        scopes=frozenset({held}),
    )

    assert diagnosis.verdict == "allowed"


def test_feedback_needs_logs_write(snapshot):
    denied = check(
        snapshot,
        "POST",
        "/v1/feedback",
        key_type="workspace_service",
        scopes=frozenset(),
    )

    assert denied.verdict == "denied"
    assert denied.scopes_to_add == ("logs.write",)


@pytest.mark.parametrize("key_type", WORKSPACE_KEYS)
def test_audit_logs_refuse_workspace_keys_and_point_to_an_admin_key(snapshot, key_type):
    diagnosis = check(
        snapshot,
        "GET",
        "/v1/audit-logs",
        key_type=key_type,
        scopes=snapshot.scopes_for(key_type),
    )

    assert diagnosis.verdict == "denied"
    assert diagnosis.key_type_ok is False
    assert diagnosis.reasons[0].code == "wrong_key_type"
    assert diagnosis.use_key_type == "admin"
    assert diagnosis.use_key_type_scopes == ("audit_logs.list",)


def test_audit_logs_allow_an_admin_key_with_the_scope(snapshot):
    diagnosis = check(
        snapshot,
        "GET",
        "/v1/audit-logs",
        key_type="admin",
        scopes=frozenset({"audit_logs.list"}),
    )

    assert diagnosis.verdict == "allowed"


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", "/v1/mcp-servers", "mcp_servers.create"),
        ("GET", "/v1/mcp-servers", "mcp_servers.list"),
        ("GET", "/v1/mcp-servers/srv-1", "mcp_servers.read"),
        ("PUT", "/v1/mcp-servers/srv-1", "mcp_servers.update"),
        ("DELETE", "/v1/mcp-servers/srv-1", "mcp_servers.delete"),
    ],
)
def test_mcp_servers_need_their_own_scope(snapshot, method, path, scope):
    denied = check(
        snapshot, method, path, key_type="workspace_user", scopes=frozenset()
    )
    allowed = check(
        snapshot, method, path, key_type="workspace_user", scopes=frozenset({scope})
    )

    assert denied.verdict == "denied"
    assert denied.scopes_to_add == (scope,)
    assert allowed.verdict == "allowed"


@pytest.mark.parametrize(
    "held", ["organisation_mcp_integrations.list", "workspace_mcp_integrations.list"]
)
def test_mcp_integrations_can_be_listed_with_either_family_scope(snapshot, held):
    diagnosis = check(
        snapshot,
        "GET",
        "/v1/mcp-integrations",
        key_type="workspace_service",
        scopes=frozenset({held}),
    )

    assert diagnosis.verdict == "allowed"


@pytest.mark.parametrize(
    ("sent", "verdict", "code"),
    [(False, "denied", "workspace_id_required"), (True, "allowed", None)],
)
def test_admin_keys_need_workspace_id_for_workspace_resources(
    snapshot, sent, verdict, code
):
    diagnosis = check(
        snapshot,
        "GET",
        "/v1/configs",
        key_type="admin",
        scopes=frozenset({"configs.list"}),
        workspace_id_passed=sent,
    )

    assert diagnosis.verdict == verdict
    assert [r.code for r in diagnosis.reasons][:1] == ([code] if code else [])


def test_workspace_keys_never_need_workspace_id(snapshot):
    diagnosis = check(
        snapshot,
        "GET",
        "/v1/configs",
        key_type="workspace_service",
        scopes=frozenset({"configs.list"}),
        workspace_id_passed=False,
    )

    assert diagnosis.verdict == "allowed"


def test_an_enterprise_only_endpoint_is_unknown_until_the_plan_is_known(snapshot):
    scopes = frozenset({"workspace_service_api_keys.create"})
    unknown = check(
        snapshot,
        "POST",
        "/v1/api-keys/workspace/service",
        key_type="admin",
        scopes=scopes,
    )
    denied = check(
        snapshot,
        "POST",
        "/v1/api-keys/workspace/service",
        key_type="admin",
        scopes=scopes,
        enterprise_plan=False,
    )
    allowed = check(
        snapshot,
        "POST",
        "/v1/api-keys/workspace/service",
        key_type="admin",
        scopes=scopes,
        enterprise_plan=True,
    )

    assert unknown.verdict == "unknown"
    assert denied.reasons[0].code == "plan_restriction"
    assert allowed.verdict == "allowed"


def test_unknown_scopes_give_an_unknown_verdict_naming_what_to_check(snapshot):
    diagnosis = check(
        snapshot, "POST", "/v1/chat/completions", key_type="workspace_user"
    )

    assert diagnosis.verdict == "unknown"
    assert diagnosis.scopes_to_add == ("completions.write",)
    assert "which scopes the key holds" in diagnosis.uncertain


def test_an_unknown_key_type_still_names_the_scopes_needed(snapshot):
    diagnosis = check(snapshot, "GET", "/v1/audit-logs", scopes=frozenset())

    # No key of any type gets in with no scopes, so the verdict is decided.
    assert diagnosis.verdict == "denied"
    assert diagnosis.scopes_to_add == ("audit_logs.list",)
    assert "which key type was used" in diagnosis.uncertain


def test_an_unknown_key_type_with_the_right_scope_stays_open(snapshot):
    diagnosis = check(
        snapshot, "GET", "/v1/audit-logs", scopes=frozenset({"audit_logs.list"})
    )

    assert diagnosis.verdict == "unknown"
    assert diagnosis.reasons[0].code == "key_type_unknown"


class TestWebAppTests:
    def operation(self, snapshot):
        return snapshot.operations["playground-test"]

    def test_only_service_keys_is_the_decisive_reason(self, snapshot):
        diagnosis = diagnose(
            snapshot,
            self.operation(snapshot),
            Question(context="playground", user_key_count=0),
        )

        assert diagnosis.reasons[0].code == "only_service_keys"

    def test_a_service_key_cannot_run_web_app_tests(self, snapshot):
        diagnosis = diagnose(
            snapshot,
            self.operation(snapshot),
            Question(
                context="prompt_studio", key_type="workspace_service", user_key_count=1
            ),
        )

        assert diagnosis.reasons[0].code == "playground_needs_user_key"
        assert diagnosis.use_key_type == "workspace_user"

    def test_a_user_key_without_completions_write_is_named(self, snapshot):
        diagnosis = diagnose(
            snapshot,
            self.operation(snapshot),
            Question(
                context="model_catalog",
                key_type="workspace_user",
                user_key_count=1,
                scopes=frozenset({"prompts.read"}),
            ),
        )

        assert diagnosis.reasons[0].code == "user_key_missing_completions_write"
        assert diagnosis.scopes_to_add == ("completions.write",)

    def test_several_user_keys_leave_the_answer_open(self, snapshot):
        diagnosis = diagnose(
            snapshot,
            self.operation(snapshot),
            Question(
                context="playground",
                key_type="workspace_user",
                user_key_count=2,
                scopes=frozenset({"completions.write"}),
            ),
        )

        assert diagnosis.verdict == "unknown"
        assert diagnosis.reasons[0].code == "several_user_keys"

    def test_a_correct_user_key_points_to_stale_sessions_next(self, snapshot):
        diagnosis = diagnose(
            snapshot,
            self.operation(snapshot),
            Question(
                scenario="playground",
                context="playground",
                key_type="workspace_user",
                user_key_count=1,
                scopes=frozenset({"completions.write"}),
            ),
        )

        assert diagnosis.verdict == "allowed"
        codes = [reason.code for reason in diagnosis.check_next]
        assert "stale_session" in codes
        assert "org_security_settings" in codes


# Properties over every endpoint and random holdings of scopes.

key_types = st.sampled_from(KEY_TYPE_SLUGS)


@st.composite
def cases(draw, snapshot):
    endpoint = draw(st.sampled_from(snapshot.endpoints))
    key_type = draw(key_types)
    names = sorted(snapshot.scopes_for(key_type))
    held = frozenset(draw(st.lists(st.sampled_from(names), max_size=12)))
    extra = frozenset(draw(st.lists(st.sampled_from(names), max_size=6)))
    sent = draw(st.sampled_from([True, False, None]))
    plan = draw(st.sampled_from([True, False, None]))
    return endpoint, key_type, held, extra, sent, plan


PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _snapshot():
    from scopes.snapshot import from_records
    from tests.conftest import reference_records

    return from_records(reference_records(), version=1)


SNAPSHOT = _snapshot()


@PROPERTY_SETTINGS
@given(cases(SNAPSHOT))
def test_adding_scopes_never_turns_allowed_into_denied(case):
    endpoint, key_type, held, extra, sent, plan = case
    base = Question(
        key_type=key_type, scopes=held, workspace_id_passed=sent, enterprise_plan=plan
    )
    more = Question(
        key_type=key_type,
        scopes=held | extra,
        workspace_id_passed=sent,
        enterprise_plan=plan,
    )

    before = diagnose(SNAPSHOT, endpoint, base)
    after = diagnose(SNAPSHOT, endpoint, more)

    if before.verdict == "allowed":
        assert after.verdict == "allowed"


@PROPERTY_SETTINGS
@given(cases(SNAPSHOT))
def test_applying_the_suggested_scopes_leaves_only_non_scope_reasons(case):
    endpoint, key_type, held, _, sent, plan = case
    question = Question(
        key_type=key_type, scopes=held, workspace_id_passed=sent, enterprise_plan=plan
    )

    first = diagnose(SNAPSHOT, endpoint, question)
    fixed = diagnose(
        SNAPSHOT,
        endpoint,
        Question(
            key_type=key_type,
            scopes=held | frozenset(first.scopes_to_add),
            workspace_id_passed=sent,
            enterprise_plan=plan,
        ),
    )

    scope_codes = {"missing_scope", "list_read_mixup"}
    assert not scope_codes & {reason.code for reason in fixed.reasons}


@PROPERTY_SETTINGS
@given(cases(SNAPSHOT))
def test_no_suggestion_names_a_scope_the_key_type_cannot_hold(case):
    endpoint, key_type, held, _, sent, plan = case

    diagnosis = diagnose(
        SNAPSHOT,
        endpoint,
        Question(key_type=key_type, scopes=held, workspace_id_passed=sent),
    )

    assert set(diagnosis.scopes_to_add) <= SNAPSHOT.scopes_for(key_type)
    if diagnosis.use_key_type:
        assert set(diagnosis.use_key_type_scopes) <= SNAPSHOT.scopes_for(
            diagnosis.use_key_type
        )


@PROPERTY_SETTINGS
@given(
    method=st.text(max_size=10),
    path=st.text(max_size=200),
    key_type=st.one_of(st.none(), key_types),
    scopes=st.one_of(st.none(), st.frozensets(st.text(max_size=30), max_size=5)),
    context=st.sampled_from([None, "code", "playground", "prompt_studio"]),
    users=st.sampled_from([None, 0, 1, 2]),
)
def test_every_input_gives_a_verdict_without_raising(
    method, path, key_type, scopes, context, users
):
    match = match_endpoint(SNAPSHOT, method, path)
    target = match.endpoint or SNAPSHOT.operations["playground-test"]

    diagnosis = diagnose(
        SNAPSHOT,
        target,
        Question(
            key_type=key_type, scopes=scopes, context=context, user_key_count=users
        ),
    )

    assert diagnosis.verdict in ("allowed", "denied", "unknown")
    assert diagnosis.fix_summary
