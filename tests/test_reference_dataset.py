"""The reference file itself: complete, consistent and in canonical form.

These tests read scopes/data/reference.jsonl with plain json so they hold even
before the loader exists, and build a snapshot with ``from_records`` to ask the
same questions the diagnosis engine asks.
"""

import json
from pathlib import Path

import pytest

from scopes.snapshot import Snapshot, from_records

REFERENCE = (
    Path(__file__).resolve().parent.parent / "scopes" / "data" / "reference.jsonl"
)

KIND_ORDER = [
    "key_type",
    "scope",
    "endpoint",
    "operation",
    "role",
    "cause",
    "scenario",
    "error_code",
]
NATURAL_KEY = {
    "key_type": ("slug",),
    "scope": ("name",),
    "endpoint": ("path", "method"),
    "operation": ("slug",),
    "role": ("slug",),
    "cause": ("code",),
    "scenario": ("slug",),
    "error_code": ("code",),
}
WORKSPACE_KEYS = frozenset({"workspace_service", "workspace_user"})
ALL_KEYS = frozenset({"admin", "workspace_service", "workspace_user"})
CW = frozenset({"completions.write"})

# Every row of the help page's data-plane table, with the methods each row covers.
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
    ("GET", "/v1/files/{file_id}"),
    ("DELETE", "/v1/files/{file_id}"),
    ("POST", "/v1/batches"),
    ("GET", "/v1/batches"),
    ("GET", "/v1/batches/{batch_id}"),
    ("POST", "/v1/batches/{batch_id}/cancel"),
    ("POST", "/v1/fine-tuning/jobs"),
    ("GET", "/v1/fine-tuning/jobs"),
    ("POST", "/v1/fine_tuning/jobs"),
    ("GET", "/v1/fine_tuning/jobs"),
    ("GET", "/v1/realtime"),
    ("POST", "/v1/prompts/{prompt_id}/completions"),
    ("POST", "/v1/gateway/tokenize"),
]

# A spot check across every tag of the spec's control plane: (method, path,
# one alternative the endpoint must offer, key types it must accept).
CONTROL_PLANE_SAMPLE = [
    ("POST", "/v1/api-keys/{type}/{sub-type}", {"workspace_user_api_keys.create"}),
    ("GET", "/v1/api-keys", {"organisation_service_api_keys.list"}),
    ("POST", "/v1/api-keys/{id}/rotate", {"workspace_service_api_keys.rotate"}),
    ("POST", "/v1/admin/workspaces", {"workspaces.create"}),
    ("DELETE", "/v1/admin/workspaces/{workspaceId}", {"workspaces.delete"}),
    (
        "PUT",
        "/v1/admin/workspaces/{workspaceId}/users/{userId}",
        {"workspace_users.update"},
    ),
    ("DELETE", "/v1/scim/workspaces/{scimWorkspaceGroupId}", {"workspaces.delete"}),
    ("GET", "/v1/admin/users", {"organisation_users.list"}),
    ("POST", "/v1/admin/users/invites", {"organisation_users.create"}),
    (
        "POST",
        "/v1/admin/users/invites/{inviteId}/resend",
        {"organisation_users.create"},
    ),
    ("GET", "/v1/configs/{slug}/versions", {"configs.read"}),
    ("GET", "/v1/prompts/{promptId}/versions/{versionId}", {"prompts.read"}),
    ("PUT", "/v1/prompts/partials/{id}", {"prompts.update"}),
    ("DELETE", "/v1/collections/{collectionId}", {"prompts.delete"}),
    ("POST", "/v1/labels", {"prompts.create"}),
    ("GET", "/v1/guardrails/{guardrailId}", {"guardrails.read"}),
    ("POST", "/v1/providers", {"providers.create"}),
    ("DELETE", "/v1/virtual-keys/{slug}", {"virtual_keys.delete"}),
    ("GET", "/v1/integrations/{slug}/workspaces", {"organisation_integrations.read"}),
    (
        "PUT",
        "/v1/mcp-integrations/{id}/capabilities",
        {"workspace_mcp_integrations.update"},
    ),
    (
        "GET",
        "/v1/mcp-integrations/{id}/metadata",
        {"organisation_mcp_integrations.read"},
    ),
    ("POST", "/v1/mcp-servers/{id}/test", {"mcp_servers.read"}),
    ("DELETE", "/v1/mcp-servers/{id}/connections", {"mcp_servers.update"}),
    ("GET", "/v1/logs/exports/{exportId}/download", {"logs.export"}),
    ("GET", "/v1/audit-logs", {"audit_logs.list"}),
    ("PUT", "/v1/feedback/{id}", {"logs.write"}),
    ("GET", "/v1/policies/usage-limits/{id}/entities", {"policies.read"}),
    ("DELETE", "/v1/policies/rate-limits/{id}", {"policies.delete"}),
    ("GET", "/v1/analytics/graphs/errors/status-codes", {"analytics.view"}),
    ("GET", "/v1/analytics/groups/metadata/{metadataKey}", {"analytics.view"}),
    ("PUT", "/v1/secret-references/{id}", {"secret_references.update"}),
]


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return REFERENCE.read_text(encoding="utf-8").splitlines(keepends=True)


@pytest.fixture(scope="module")
def records(lines) -> list[dict]:
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def snapshot(records) -> Snapshot:
    return from_records(records)


def of_kind(records: list[dict], kind: str) -> list[dict]:
    return [record for record in records if record["kind"] == kind]


def requirements(snapshot: Snapshot):
    yield from ((endpoint.label, endpoint) for endpoint in snapshot.endpoints)
    yield from snapshot.operations.items()


def test_each_key_type_holds_the_documented_number_of_scopes(snapshot):
    assert len(snapshot.scopes_for("admin")) == 133
    assert len(snapshot.scopes_for("workspace_service")) == 91
    assert len(snapshot.scopes_for("workspace_user")) == 79

    api_key_scopes = [s for s in snapshot.scopes.values() if not s.jwt_only]
    assert len(api_key_scopes) == 139
    assert all(scope.key_types for scope in api_key_scopes)


def test_the_four_jwt_only_scopes_belong_to_no_key_type(snapshot):
    jwt_only = {name for name, scope in snapshot.scopes.items() if scope.jwt_only}

    assert jwt_only == {
        "completions.read",
        "logs.read",
        "feedbacks.read",
        "feedbacks.write",
    }
    assert all(not snapshot.scopes[name].key_types for name in jwt_only)


def test_user_keys_hold_no_key_management_scope(snapshot):
    user_scopes = snapshot.scopes_for("workspace_user")

    assert not {name for name in user_scopes if "_api_keys." in name}
    assert "workspace_user_api_keys.rotate" in snapshot.scopes_for("workspace_service")


def test_virtual_key_and_provider_scopes_name_each_other_as_twins(snapshot):
    for action in ("create", "read", "update", "delete", "list"):
        assert snapshot.scopes[f"virtual_keys.{action}"].legacy_twin == (
            f"providers.{action}"
        )
        assert snapshot.scopes[f"providers.{action}"].legacy_twin == (
            f"virtual_keys.{action}"
        )
    assert snapshot.scopes["virtual_keys.copy"].legacy_twin is None


def test_key_type_flags_match_what_each_key_may_do(snapshot):
    flags = {
        slug: (k.can_call_data_plane, k.can_run_ui_tests, k.can_manage_api_keys)
        for slug, k in snapshot.key_types.items()
    }

    assert flags == {
        "admin": (False, False, True),
        "workspace_user": (True, True, False),
        "workspace_service": (True, False, True),
    }


@pytest.mark.parametrize(("method", "path"), HELP_PAGE_DATA_PLANE)
def test_every_help_page_data_plane_call_needs_completions_write_on_a_workspace_key(
    snapshot, method, path
):
    endpoint = snapshot.endpoint(method, path)

    assert endpoint is not None
    assert endpoint.plane == "data"
    assert endpoint.alternatives[0] == CW
    assert endpoint.key_types == WORKSPACE_KEYS
    assert endpoint.provenance == "documented"


def test_admin_keys_are_accepted_by_no_data_plane_call(snapshot):
    data_plane = [e for e in snapshot.endpoints if e.plane == "data"]

    assert len(data_plane) >= len(HELP_PAGE_DATA_PLANE)
    assert all(e.key_types <= WORKSPACE_KEYS for e in data_plane)


def test_listing_models_accepts_completions_write_or_virtual_keys_list(snapshot):
    models = snapshot.endpoint("GET", "/v1/models")

    assert models.alternatives == (CW, frozenset({"virtual_keys.list"}))
    assert models.key_types == WORKSPACE_KEYS


def test_listing_integrations_needs_list_while_reading_one_needs_read(snapshot):
    listing = snapshot.endpoint("GET", "/v1/integrations")
    one = snapshot.endpoint("GET", "/v1/integrations/{slug}")
    models = snapshot.endpoint("GET", "/v1/integrations/{slug}/models")

    assert set(listing.alternatives) == {
        frozenset({"organisation_integrations.list"}),
        frozenset({"workspace_integrations.list"}),
    }
    assert set(one.alternatives) == {
        frozenset({"organisation_integrations.read"}),
        frozenset({"workspace_integrations.read"}),
    }
    assert models.alternatives == one.alternatives


def test_pushing_a_custom_log_needs_both_scopes_together(snapshot):
    logs = snapshot.endpoint("POST", "/v1/logs")

    assert logs.alternatives == (frozenset({"completions.write", "logs.write"}),)
    assert logs.key_types == WORKSPACE_KEYS


def test_reading_one_log_accepts_any_of_three_scopes(snapshot):
    log = snapshot.endpoint("GET", "/v1/logs/{log_id}")

    assert set(log.alternatives) == {
        frozenset({"logs.read"}),
        CW,
        frozenset({"logs.write"}),
    }
    assert snapshot.scopes["logs.read"].jwt_only


def test_feedback_needs_logs_write_on_a_workspace_key(snapshot):
    for method, path in (("POST", "/v1/feedback"), ("PUT", "/v1/feedback/{id}")):
        feedback = snapshot.endpoint(method, path)

        assert feedback.alternatives == (frozenset({"logs.write"}),)
        assert feedback.key_types == WORKSPACE_KEYS


def test_audit_logs_take_an_admin_key_only(snapshot):
    audit = snapshot.endpoint("GET", "/v1/audit-logs")

    assert audit.alternatives == (frozenset({"audit_logs.list"}),)
    assert audit.key_types == {"admin"}


def test_model_pricing_is_the_only_endpoint_that_needs_no_scope(snapshot):
    scopeless = [e.label for e in snapshot.endpoints if not e.alternatives]
    scopeless_operations = [
        s for s, o in snapshot.operations.items() if not o.alternatives
    ]

    assert scopeless == ["GET /v1/model-configs/pricing/{provider}/{model}"]
    assert not scopeless_operations
    pricing = snapshot.endpoint("GET", "/v1/model-configs/pricing/{provider}/{model}")
    assert pricing.key_types == ALL_KEYS


def test_web_app_tests_need_a_user_key_with_completions_write(snapshot):
    for slug in ("playground-test", "prompt-studio-test", "model-catalog-test"):
        operation = snapshot.operations[slug]

        assert operation.key_types == {"workspace_user"}
        assert operation.alternatives == (CW,)
        assert operation.ui_only


def test_programmatic_key_creation_and_scim_are_enterprise_only(snapshot):
    enterprise = {e.label for e in snapshot.endpoints if e.enterprise_only}

    assert enterprise == {
        "POST /v1/api-keys/{type}/{sub-type}",
        "GET /v1/scim/workspaces",
        "POST /v1/scim/workspaces",
        "DELETE /v1/scim/workspaces/{scimWorkspaceGroupId}",
    }


def test_every_named_scope_exists(snapshot):
    for label, requirement in requirements(snapshot):
        for alternative in requirement.alternatives:
            assert alternative <= snapshot.scopes.keys(), label


def test_every_named_scope_can_be_held_by_one_of_the_accepted_key_types(snapshot):
    for label, requirement in requirements(snapshot):
        assert requirement.key_types, label
        for alternative in requirement.alternatives:
            for name in alternative:
                scope = snapshot.scopes[name]
                if not scope.jwt_only:
                    assert scope.key_types & requirement.key_types, (label, name)


def test_every_accepted_key_type_can_hold_some_full_alternative(snapshot):
    for label, requirement in requirements(snapshot):
        if not requirement.alternatives:
            continue
        for key_type in requirement.key_types:
            holdable = snapshot.scopes_for(key_type)
            assert any(alt <= holdable for alt in requirement.alternatives), (
                label,
                key_type,
            )


def test_workspace_level_resources_tell_admin_keys_to_pass_workspace_id(snapshot):
    for path in ("/v1/prompts", "/v1/configs", "/v1/providers", "/v1/labels"):
        assert snapshot.endpoint("GET", path).admin_needs_workspace_id, path

    assert not snapshot.endpoint("GET", "/v1/integrations").admin_needs_workspace_id
    assert not snapshot.endpoint("GET", "/v1/audit-logs").admin_needs_workspace_id


def test_inferred_and_documented_rows_explain_themselves(snapshot):
    for label, requirement in requirements(snapshot):
        if requirement.provenance == "inferred":
            assert requirement.notes, label
        if requirement.provenance == "documented":
            assert requirement.source_url.startswith("https://"), label


def test_all_156_control_plane_operations_of_the_spec_are_present(snapshot):
    control_plane = [e for e in snapshot.endpoints if e.plane == "control"]

    assert len(control_plane) == 156
    assert sum(e.area == "Analytics" for e in control_plane) == 21


@pytest.mark.parametrize(("method", "path", "alternative"), CONTROL_PLANE_SAMPLE)
def test_a_control_plane_call_offers_its_expected_scope(
    snapshot, method, path, alternative
):
    endpoint = snapshot.endpoint(method, path)

    assert endpoint is not None
    assert endpoint.plane == "control"
    assert frozenset(alternative) in endpoint.alternatives


def test_every_scenario_checks_only_known_causes_once_each(snapshot):
    for slug, scenario in snapshot.scenarios.items():
        assert set(scenario.causes) <= snapshot.causes.keys(), slug
        assert len(set(scenario.causes)) == len(scenario.causes), slug

    assert [s.position for s in snapshot.scenarios.values()] == list(range(1, 8))
    assert snapshot.scenarios["playground"].causes[:2] == (
        "only_service_keys",
        "playground_needs_user_key",
    )


def test_the_engine_finds_every_cause_code_it_depends_on(snapshot):
    assert set(snapshot.causes) == {
        "only_service_keys",
        "user_key_missing_completions_write",
        "several_user_keys",
        "admin_key_on_data_plane",
        "playground_needs_user_key",
        "list_read_mixup",
        "workspace_id_required",
        "resource_not_in_workspace",
        "org_security_settings",
        "plan_restriction",
        "stale_session",
        "wrong_key_type",
        "missing_scope",
    }


def test_each_role_shows_exactly_one_statement(snapshot):
    for slug, role in snapshot.roles.items():
        assert sum(statement.shown for statement in role.statements) == 1, slug

    assert [role.position for role in snapshot.roles.values()] == list(range(1, 7))


def test_workspace_member_keeps_both_conflicting_statements(snapshot):
    member = snapshot.roles["workspace_member"]
    sources = {statement.source_url for statement in member.statements}

    assert len(member.statements) == 2
    assert len(sources) == 2
    assert member.can_create_key_types == frozenset()


def test_error_codes_carry_the_documented_http_statuses(snapshot):
    statuses = {code: info.http_status for code, info in snapshot.error_codes.items()}

    assert statuses == {
        "AB01": 400,
        "AB02": 404,
        "AB03": 403,
        "AB04": 500,
        "AB05": 401,
        "AB06": 429,
        "AB07": 409,
        "AB08": 404,
        "AB09": 402,
    }


def test_the_file_is_in_canonical_form(lines, records):
    assert lines[-1].endswith("\n")

    for line, record in zip(lines, records, strict=True):
        assert line == json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"


def test_lines_are_grouped_by_kind_and_sorted_by_natural_key(records):
    kinds = [record["kind"] for record in records]
    order = [KIND_ORDER.index(kind) for kind in kinds]
    assert order == sorted(order)
    assert set(kinds) == set(KIND_ORDER)

    for kind, fields in NATURAL_KEY.items():
        keys = [tuple(r[f] for f in fields) for r in of_kind(records, kind)]
        assert keys == sorted(keys), kind
        assert len(keys) == len(set(keys)), kind


def test_list_fields_are_stored_sorted(records):
    for record in records:
        for field in ("key_types", "can_create_key_types"):
            if field in record:
                assert record[field] == sorted(record[field]), record
        for alternative in record.get("alternatives", []):
            assert alternative == sorted(alternative), record
