"""The JSON API contract: /api/v1/check, /scopes, /endpoints, /openapi.json."""

import jsonschema
import pytest
from django.core.management import call_command
from django.urls import reverse

from scopes.models import Scope
from tests.datasets import add_copies
from troubleshooter.diagnosis import Question, diagnose
from troubleshooter.openapi import openapi_document
from troubleshooter.paths import match_endpoint

CHECK = "/api/v1/check"


def schema_for(name: str) -> dict:
    document = openapi_document("http://testserver/")
    return {"$ref": f"#/components/schemas/{name}", **document}


def validate(body: dict, name: str) -> None:
    jsonschema.validate(body, schema_for(name))


def test_a_service_key_with_completions_write_may_chat(client, reference):
    response = client.get(
        CHECK,
        {
            "method": "post",
            "path": "https://api.portkey.ai/v1/chat/completions?x=1",
            "key_type": "workspace_service",
            "scopes": "completions.write,logs.view",
        },
    )

    assert response.status_code == 200
    body = response.json()
    validate(body, "CheckResult")
    assert body["allowed"] is True
    assert body["verdict"] == "allowed"
    assert body["endpoint"] == {
        "method": "POST",
        "path": "/v1/chat/completions",
        "plane": "data",
    }
    assert body["missing"] == []
    assert body["required"] == [["completions.write"]]


def test_an_admin_key_on_the_data_plane_is_refused_whatever_its_scopes(
    client, reference
):
    response = client.get(
        CHECK,
        {
            "method": "POST",
            "path": "/v1/embeddings",
            "key_type": "admin",
            "scopes": "logs.view",
        },
    )

    body = response.json()
    validate(body, "CheckResult")
    assert body["verdict"] == "denied"
    assert body["key_type_ok"] is False
    assert body["reasons"][0]["code"] == "admin_key_on_data_plane"
    assert "Workspace" in body["fix"]["summary"]


def test_missing_lists_each_holdable_alternative_fewest_first(client, reference):
    response = client.get(
        CHECK,
        {
            "method": "GET",
            "path": "/v1/models",
            "key_type": "workspace_user",
            "scopes": "",
        },
    )

    body = response.json()
    assert body["verdict"] == "denied"
    assert body["missing"] == [["completions.write"], ["virtual_keys.list"]]


@pytest.mark.parametrize(
    ("sent", "verdict"), [({}, "denied"), ({"workspace_id": "ws-1"}, "allowed")]
)
def test_admin_keys_must_pass_workspace_id_for_workspace_resources(
    client, reference, sent, verdict
):
    response = client.get(
        CHECK,
        {
            "method": "GET",
            "path": "/v1/prompts",
            "key_type": "admin",
            "scopes": "prompts.list",
            **sent,
        },
    )

    body = response.json()
    assert body["verdict"] == verdict
    if verdict == "denied":
        assert body["reasons"][0]["code"] == "workspace_id_required"


def test_the_share_url_opens_the_same_diagnosis_without_the_workspace_id(
    client, reference
):
    body = client.get(
        CHECK,
        {
            "method": "GET",
            "path": "/v1/prompts",
            "key_type": "admin",
            "scopes": "prompts.list",
            "workspace_id": "ws-secret-prod",
        },
    ).json()

    assert "ws-secret-prod" not in body["share_url"]
    page = client.get(body["share_url"])
    assert page.status_code == 200
    assert "This key should be allowed" in page.content.decode()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"method": "GET"}, "path"),
        ({"path": "/v1/models", "key_type": "root"}, "key_type"),
        ({"path": "/v1/models", "scopes": "completions.write,everything"}, "scopes"),
        ({"path": "/v1/models", "method": "BREW"}, "method"),
        ({"path": "/v1/models", "context": "terminal"}, "context"),
    ],
)
def test_bad_parameters_get_a_400_naming_the_field(client, reference, params, field):
    response = client.get(CHECK, params)

    assert response.status_code == 400
    body = response.json()
    validate(body, "Error")
    assert body["error"]["code"] == "invalid_parameter"
    assert body["error"]["field"] == field


def test_an_unknown_endpoint_is_a_404_with_suggestions(client, reference):
    response = client.get(CHECK, {"method": "POST", "path": "/v1/chat/completion"})

    assert response.status_code == 404
    body = response.json()
    validate(body, "Error")
    assert body["error"]["code"] == "unknown_endpoint"
    assert "POST /v1/chat/completions" in body["error"]["suggestions"]


def test_scopes_can_be_filtered_by_key_type_and_group(client, reference):
    everything = client.get("/api/v1/scopes").json()
    user = client.get("/api/v1/scopes", {"key_type": "workspace_user"}).json()
    monitoring = client.get("/api/v1/scopes", {"group": "monitoring"}).json()

    validate(everything, "ScopeList")
    assert everything["count"] == len(reference.scopes)
    assert user["count"] == 79
    assert monitoring["count"] > 0
    assert {item["group"] for item in monitoring["scopes"]} == {"monitoring"}


def test_endpoints_can_be_filtered_by_plane_and_key_type(client, reference):
    data = client.get("/api/v1/endpoints", {"plane": "data"}).json()
    admin = client.get("/api/v1/endpoints", {"key_type": "admin"}).json()

    validate(data, "EndpointList")
    assert data["count"] == sum(1 for e in reference.endpoints if e.plane == "data")
    assert all("admin" in item["key_types"] for item in admin["endpoints"])


def test_an_unknown_filter_value_is_a_400(client, reference):
    response = client.get("/api/v1/endpoints", {"plane": "astral"})

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "plane"


def test_the_openapi_description_is_served_and_names_every_operation(client, reference):
    document = client.get("/api/v1/openapi.json").json()

    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/api/v1/check",
        "/api/v1/scopes",
        "/api/v1/endpoints",
        "/api/v1/openapi.json",
        "/api/v1/parse",
    }
    jsonschema.Draft202012Validator.check_schema(
        document["components"]["schemas"]["CheckResult"]
    )


def test_responses_carry_an_etag_and_answer_304_when_unchanged(client, reference):
    first = client.get(CHECK, {"path": "/v1/models"})
    again = client.get(
        CHECK, {"path": "/v1/models"}, headers={"if-none-match": first["ETag"]}
    )

    assert first["ETag"]
    assert "must-revalidate" in first["Cache-Control"]
    assert again.status_code == 304


def test_a_304_answers_a_cross_origin_client_with_the_cors_headers(client, reference):
    first = client.get(CHECK, {"path": "/v1/models"})
    again = client.get(
        CHECK,
        {"path": "/v1/models"},
        headers={"if-none-match": "*", "origin": "https://tools.example"},
    )

    assert again.status_code == 304
    assert again["ETag"] == first["ETag"]
    assert again["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("if_none_match", ["*", "first"])
def test_a_refusal_is_sent_whole_whatever_the_client_holds(
    client, reference, if_none_match
):
    # Found by make fuzz on PostgreSQL: "If-None-Match: *" turned a 400 into
    # a bare 304. Preconditions only apply to successful answers (RFC 9110,
    # 13.2.1), and a fresh client has no earlier answer to fall back on.
    first = client.get(CHECK, {"path": "/v1/nothing-here"})
    held = first["ETag"] if if_none_match == "first" else "*"

    again = client.get(
        CHECK, {"path": "/v1/nothing-here"}, headers={"if-none-match": held}
    )
    fresh = client.get(
        CHECK, {"method": "FLY", "path": "/v1/models"}, headers={"if-none-match": "*"}
    )

    assert first.status_code == again.status_code == 404
    assert again.json()["error"]["code"] == first.json()["error"]["code"]
    assert fresh.status_code == 400
    assert fresh.json()["error"]["field"] == "method"


def test_other_origins_may_read_the_api(client, reference):
    response = client.get("/api/v1/scopes", headers={"origin": "https://tools.example"})
    preflight = client.options(CHECK, headers={"origin": "https://tools.example"})

    assert response["Access-Control-Allow-Origin"] == "*"
    assert preflight.status_code == 204
    assert "GET" in preflight["Access-Control-Allow-Methods"]


def test_writing_methods_are_refused_with_a_json_405(client, reference):
    response = client.post(CHECK, {"path": "/v1/models"})

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("size", ["shipped", "ten_times"])
def test_a_warm_check_runs_only_the_version_query(
    client, reference, django_assert_num_queries, size
):
    if size == "ten_times":
        add_copies(9)
    params = {"method": "POST", "path": "/v1/chat/completions", "key_type": "admin"}
    client.get(CHECK, params)

    with django_assert_num_queries(1):  # SELECT the data version stamp
        client.get(CHECK, params)


def test_a_staff_edit_is_reflected_by_the_next_answer(client, reference):
    params = {
        "method": "POST",
        "path": "/v1/chat/completions",
        "key_type": "admin",
        "scopes": "completions.write",
    }
    assert client.get(CHECK, params).json()["verdict"] == "denied"

    scope = Scope.objects.get(name="completions.write")
    scope.key_types.add(*scope.key_types.model.objects.filter(slug="admin"))
    from scopes.models import Endpoint, KeyType

    endpoint = Endpoint.objects.get(method="POST", path="/v1/chat/completions")
    endpoint.key_types.add(KeyType.objects.get(slug="admin"))

    assert client.get(CHECK, params).json()["verdict"] == "allowed"


SAME_ANSWER_CASES = [
    (
        "GET",
        "/v1/integrations/openai",
        "workspace_service",
        "workspace_integrations.list",
    ),
    ("POST", "/v1/chat/completions", "admin", "completions.write"),
    ("POST", "/v1/logs", "workspace_user", "completions.write,logs.write"),
    ("GET", "/v1/audit-logs", "admin", "audit_logs.list"),
    ("POST", "/v1/embeddings", "unknown", None),
]


@pytest.mark.parametrize(("method", "path", "key_type", "scopes"), SAME_ANSWER_CASES)
def test_api_cli_and_engine_give_the_same_verdict(
    client, reference, capsys, method, path, key_type, scopes
):
    params = {"method": method, "path": path, "key_type": key_type}
    arguments = ["--method", method, "--path", path, "--key-type", key_type]
    if scopes is not None:
        params["scopes"] = scopes
        arguments += ["--scopes", scopes]
    api = client.get(CHECK, params).json()

    with pytest.raises(SystemExit) as exit_info:
        call_command("diagnose", *arguments)

    engine = diagnose(
        reference,
        match_endpoint(reference, method, path).endpoint,
        Question(
            key_type=None if key_type == "unknown" else key_type,
            scopes=None if scopes is None else frozenset(scopes.split(",")),
            workspace_id_passed=False,
        ),
    )
    codes = {"allowed": 0, "denied": 1, "unknown": 2}
    assert api["verdict"] == engine.verdict
    assert exit_info.value.code == codes[engine.verdict]
    out = capsys.readouterr().out
    assert f"{engine.verdict.upper()}" in out
    for reason in engine.reasons:
        assert reason.code in out
        assert reason.code in [r["code"] for r in api["reasons"]]


@pytest.mark.parametrize(
    ("scopes", "code"), [("completions.write", 0), ("logs.view", 1)]
)
def test_the_cli_exits_0_when_allowed_and_1_when_denied(reference, scopes, code):
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "diagnose",
            "--method=POST",
            "--path=/v1/chat/completions",
            "--key-type=workspace_user",
            f"--scopes={scopes}",
        )

    assert exit_info.value.code == code


def test_the_cli_exits_2_when_the_answer_is_unknown(reference):
    with pytest.raises(SystemExit) as exit_info:
        call_command("diagnose", "--method=POST", "--path=/v1/chat/completions")

    assert exit_info.value.code == 2


def test_reverse_names_the_api_routes():
    assert reverse("api:check") == CHECK
