"""load_reference and export_reference: the file and the database agree, a bad
file changes nothing and says exactly where it is wrong."""

import io
import json
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from scopes.models import (
    Cause,
    DataVersion,
    Endpoint,
    ErrorCode,
    KeyType,
    Operation,
    Role,
    Scenario,
    Scope,
)
from scopes.referencefile import DEFAULT_PATH
from scopes.services import export_text
from tests import factories

pytestmark = pytest.mark.django_db

SHIPPED = DEFAULT_PATH


def mini_records() -> list[dict]:
    return [json.loads(line) for line in factories.MINI_FILE.read_text().splitlines()]


def write(tmp_path: Path, records: list[dict], name: str = "reference.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(
        "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    )
    return path


def load(path: Path, **options) -> str:
    out = io.StringIO()
    call_command("load_reference", file=path, stdout=out, **options)
    return out.getvalue()


def find(records: list[dict], kind: str, **key) -> dict:
    return next(
        record
        for record in records
        if record["kind"] == kind and all(record[k] == v for k, v in key.items())
    )


def line_of(records: list[dict], record: dict) -> int:
    return records.index(record) + 1


def history_rows() -> int:
    return sum(
        model.history.count() for model in (KeyType, Scope, Endpoint, Operation, Role)
    )


def empty_the_database() -> None:
    for model in (Scenario, Role, Endpoint, Operation, Scope, Cause, ErrorCode):
        model.objects.all().delete()
    KeyType.objects.all().delete()


# -- The shipped file -------------------------------------------------------------


def test_the_shipped_file_loads_every_entry_and_every_scope_per_key_type():
    records = [json.loads(line) for line in SHIPPED.read_text().splitlines()]

    output = load(SHIPPED)

    kinds = Counter(record["kind"] for record in records)
    assert f"{len(records)} created" in output
    assert Scope.objects.count() == kinds["scope"]
    assert Endpoint.objects.count() == kinds["endpoint"]
    assert Operation.objects.count() == kinds["operation"]
    assert Role.objects.count() == kinds["role"]
    held = Scope.objects.filter(jwt_only=False)
    assert held.filter(key_types__slug="admin").count() == 133
    assert held.filter(key_types__slug="workspace_service").count() == 91
    assert held.filter(key_types__slug="workspace_user").count() == 79
    assert held.count() == 139


def test_export_then_load_into_an_empty_database_then_export_is_byte_identical(
    tmp_path,
):
    load(SHIPPED)
    first = tmp_path / "first.jsonl"
    call_command("export_reference", file=str(first), stderr=io.StringIO())
    empty_the_database()
    assert Scope.objects.count() == 0

    load(first)
    second = tmp_path / "second.jsonl"
    call_command("export_reference", file=str(second), stderr=io.StringIO())

    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() == SHIPPED.read_bytes()


def test_a_second_load_of_the_shipped_file_changes_nothing_and_says_so():
    load(SHIPPED)
    version = DataVersion.objects.get().number
    rows = history_rows()
    entries = len(SHIPPED.read_text().splitlines())

    output = load(SHIPPED)

    assert output.strip() == f"Reference data already up to date ({entries} entries)."
    assert DataVersion.objects.get().number == version
    assert history_rows() == rows


# -- Updates, missing rows ----------------------------------------------------------


def test_a_changed_entry_updates_its_row_in_place_by_natural_key(tmp_path):
    load(factories.MINI_FILE)
    original = Scope.objects.get(name="logs.write")
    records = mini_records()
    find(records, "scope", name="logs.write")["description"] = "New words."
    models = find(records, "endpoint", method="GET", path="/v1/models")
    models["alternatives"].reverse()

    output = load(write(tmp_path, records, "changed.jsonl"))

    assert "0 created, 2 updated, 17 unchanged" in output
    changed = Scope.objects.get(name="logs.write")
    assert changed.pk == original.pk
    assert changed.description == "New words."
    assert changed.history.latest().history_change_reason == (
        "load_reference changed.jsonl"
    )
    endpoint = Endpoint.objects.get(method="GET", path="/v1/models")
    firsts = [alt.scopes.get().name for alt in endpoint.alternatives.all()]
    assert firsts == ["virtual_keys.list", "completions.write"]


def test_the_shown_statement_can_move_between_two_loads(tmp_path):
    load(factories.MINI_FILE)
    records = mini_records()
    statements = find(records, "role", slug="workspace-member")["statements"]
    statements[0]["shown"], statements[1]["shown"] = False, True

    load(write(tmp_path, records))

    role = Role.objects.get(slug="workspace-member")
    assert role.statements.get(shown=True).text == "Reads only."


def test_rows_missing_from_the_file_are_listed_and_kept():
    factories.scope("extra.thing")

    output = load(factories.MINI_FILE)

    assert "scope 'extra.thing'" in output
    assert "--delete-missing" in output
    assert Scope.objects.filter(name="extra.thing").exists()


def test_delete_missing_removes_rows_the_file_lacks():
    factories.scope("extra.thing")
    factories.endpoint("GET", "/v1/extra")

    output = load(factories.MINI_FILE, delete_missing=True)

    assert "Deleted 2 row(s)" in output
    assert "endpoint 'GET /v1/extra'" in output
    assert not Scope.objects.filter(name="extra.thing").exists()
    assert not Endpoint.objects.filter(path="/v1/extra").exists()
    assert export_text() == factories.MINI_FILE.read_text()


# -- Bad files ----------------------------------------------------------------------


def invalid_json(records):
    lines = [json.dumps(record) for record in records]
    lines[3] = '{"kind": "scope", "name": '
    return "\n".join(lines), ["line 4", "not valid JSON"]


def missing_field(records):
    del find(records, "scope", name="logs.write")["group"]
    return records, ["scope 'logs.write'", "field 'group': missing"]


def wrong_type(records):
    find(records, "endpoint", path="/v1/models")["enterprise_only"] = "yes"
    return records, [
        "endpoint 'GET /v1/models'",
        "field 'enterprise_only'",
        "true or false",
    ]


def unknown_choice(records):
    find(records, "scope", name="logs.write")["group"] = "billing"
    return records, ["scope 'logs.write'", "field 'group'", "not a valid choice"]


def unknown_scope_reference(records):
    find(records, "endpoint", path="/v1/models")["alternatives"] = [["models.lists"]]
    return records, [
        "endpoint 'GET /v1/models'",
        "field 'alternatives'",
        "unknown models.lists",
    ]


def unknown_key_type(records):
    find(records, "scope", name="logs.write")["key_types"] = ["workspace_robot"]
    return records, ["scope 'logs.write'", "field 'key_types'", "workspace_robot"]


def unknown_cause(records):
    find(records, "scenario", slug="playground")["causes"].append("made_up")
    return records, ["scenario 'playground'", "field 'causes'", "unknown made_up"]


def integrity_violation(records):
    find(records, "endpoint", path="/v1/audit-logs")["key_types"] = ["workspace_user"]
    return records, [
        "endpoint 'GET /v1/audit-logs'",
        "field 'alternatives'",
        "can hold audit_logs.list",
    ]


def duplicate_natural_key(records):
    copy = dict(find(records, "scope", name="logs.write"), description="Again.")
    return [*records, copy], [
        f"line {len(records) + 1}, scope 'logs.write'",
        "duplicate of the entry on line",
    ]


def malformed_path(records):
    find(records, "endpoint", path="/v1/models")["path"] = "/v1/models/"
    return records, ["endpoint 'GET /v1/models/'", "field 'path'", "trailing"]


def two_shown_statements(records):
    for statement in find(records, "role", slug="workspace-member")["statements"]:
        statement["shown"] = True
    return records, ["role 'workspace-member'", "field 'statements'", "at most one"]


def impossible_date(records):
    find(records, "endpoint", path="/v1/models")["verified_on"] = "2026-02-30"
    return records, ["endpoint 'GET /v1/models'", "field 'verified_on'", "invalid"]


def documented_without_source(records):
    find(records, "endpoint", path="/v1/models")["source_url"] = ""
    return records, ["endpoint 'GET /v1/models'", "field 'source_url'", "names the"]


BAD_FILES = [
    invalid_json,
    missing_field,
    wrong_type,
    unknown_choice,
    unknown_scope_reference,
    unknown_key_type,
    unknown_cause,
    integrity_violation,
    duplicate_natural_key,
    malformed_path,
    two_shown_statements,
    impossible_date,
    documented_without_source,
]


@pytest.mark.parametrize("spoil", BAD_FILES, ids=lambda spoil: spoil.__name__)
def test_a_bad_file_is_refused_naming_entry_and_field_and_changes_nothing(
    tmp_path, spoil
):
    load(factories.MINI_FILE)
    factories.scope("staff.added")
    before = export_text()
    version = DataVersion.objects.get().number
    content, expected = spoil(mini_records())
    path = tmp_path / "spoilt.jsonl"
    if isinstance(content, str):
        path.write_text(content + "\n")
    else:
        path = write(tmp_path, content, "spoilt.jsonl")

    with pytest.raises(CommandError) as error:
        load(path, delete_missing=True)

    message = str(error.value)
    assert str(path) in message
    assert "nothing was changed" in message
    for fragment in expected:
        assert fragment in message
    assert export_text() == before
    assert DataVersion.objects.get().number == version


def test_every_problem_in_a_file_is_reported_at_once(tmp_path):
    records = mini_records()
    del find(records, "scope", name="logs.write")["group"]
    find(records, "error_code", code="AB03")["http_status"] = 99

    with pytest.raises(CommandError) as error:
        load(write(tmp_path, records))

    message = str(error.value)
    assert "2 problem(s)" in message
    assert "field 'group'" in message
    assert "field 'http_status'" in message


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError) as error:
        load(tmp_path / "nowhere.jsonl")

    assert "nowhere.jsonl" in str(error.value)
    assert "cannot be read" in str(error.value)


# -- Export -------------------------------------------------------------------------


def test_export_writes_the_canonical_form_to_stdout_with_a_dash():
    load(factories.MINI_FILE)
    out = io.StringIO()

    call_command("export_reference", file="-", stdout=out)

    assert out.getvalue() == factories.MINI_FILE.read_text()


def test_export_refuses_a_folder_that_does_not_exist(tmp_path):
    with pytest.raises(CommandError) as error:
        call_command("export_reference", file=str(tmp_path / "no" / "file.jsonl"))

    assert "does not exist" in str(error.value)
