"""Read, check and write the reference file (format: scopes/data/README.md).

Everything here works on plain record dicts, one per line of the file, so the
loader can refuse a bad file before it touches the database and the exporter
can write the database back in exactly the same shape. The field rules come
from the models' own fields and validators, so a value the admin would refuse
is refused here too, with the file, line, entry and field named.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Container, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from scopes import models as m

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "reference.jsonl"

KINDS = (
    "key_type",
    "scope",
    "endpoint",
    "operation",
    "role",
    "cause",
    "scenario",
    "error_code",
)

# JSON types a field may take. "text" is a string, "names" a list of distinct
# strings, "alternatives" a list of non-empty "names", "date" a YYYY-MM-DD
# string or null, "name_or_null" a string or null.
_REQUIREMENT_FIELDS = {
    "summary": "text",
    "area": "text",
    "key_types": "names",
    "alternatives": "alternatives",
    "admin_needs_workspace_id": "bool",
    "enterprise_only": "bool",
    "provenance": "text",
    "source_url": "text",
    "verified_on": "date",
    "notes": "text",
}

SCHEMA: dict[str, dict[str, str]] = {
    "key_type": {
        "slug": "text",
        "name": "text",
        "family": "text",
        "purpose": "text",
        "facts": "lines",
        "can_call_data_plane": "bool",
        "can_run_ui_tests": "bool",
        "can_manage_api_keys": "bool",
    },
    "scope": {
        "name": "text",
        "description": "text",
        "group": "text",
        "key_types": "names",
        "enabled_at": "text",
        "legacy_twin": "name_or_null",
        "introduced_in": "text",
        "jwt_only": "bool",
    },
    "endpoint": {"method": "text", "path": "text", "plane": "text"}
    | _REQUIREMENT_FIELDS,
    "operation": {"slug": "text", "ui_only": "bool"} | _REQUIREMENT_FIELDS,
    "role": {
        "slug": "text",
        "name": "text",
        "level": "text",
        "position": "int",
        "summary": "text",
        "can_create_key_types": "names",
        "statements": "statements",
    },
    "cause": {
        "code": "text",
        "title": "text",
        "explanation": "text",
        "fix": "text",
        "check": "text",
    },
    "scenario": {
        "slug": "text",
        "title": "text",
        "when": "text",
        "position": "int",
        "causes": "names",
    },
    "error_code": {
        "code": "text",
        "http_status": "int",
        "title": "text",
        "meaning": "text",
    },
}

NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "key_type": ("slug",),
    "scope": ("name",),
    "endpoint": ("method", "path"),
    "operation": ("slug",),
    "role": ("slug",),
    "cause": ("code",),
    "scenario": ("slug",),
    "error_code": ("code",),
}

MODELS: dict[str, type[models.Model]] = {
    "key_type": m.KeyType,
    "scope": m.Scope,
    "endpoint": m.Endpoint,
    "operation": m.Operation,
    "role": m.Role,
    "cause": m.Cause,
    "scenario": m.Scenario,
    "error_code": m.ErrorCode,
}

# Record fields stored under another name on the model.
MODEL_FIELD_NAMES: dict[tuple[str, str], str] = {("cause", "check"): "how_to_check"}

STATEMENT_FIELDS = {"text": "text", "source_url": "text", "shown": "bool"}

_JSON_TYPE_NAMES = {
    "text": "a string",
    "bool": "true or false",
    "int": "a whole number",
    "names": "a list of strings",
    "lines": "a list of strings",
    "alternatives": "a list of lists of scope names",
    "statements": "a list of statement objects",
    "date": "a YYYY-MM-DD string or null",
    "name_or_null": "a string or null",
}

# Only single values are checked against the model field; lists are checked
# here and by the cross-entry rules.
_SCALAR_TYPES = frozenset({"text", "bool", "int", "date"})

MAX_REPORTED_PROBLEMS = 20
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class ReferenceFileError(Exception):
    """The file cannot be loaded; ``problems`` says where and why."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        shown = problems[:MAX_REPORTED_PROBLEMS]
        more = len(problems) - len(shown)
        lines = [f"{source}: {len(problems)} problem(s), nothing was changed."]
        lines += [f"  {problem}" for problem in shown]
        if more:
            lines.append(f"  ... and {more} more.")
        super().__init__("\n".join(lines))


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the file, once it parsed as a JSON object of a known kind."""

    line: int
    record: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.record["kind"]

    @property
    def key(self) -> tuple[Any, ...]:
        return natural_key(self.record)

    @property
    def label(self) -> str:
        return f"line {self.line}, {self.kind} {key_label(self.record)!r}"


def natural_key(record: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(record[name] for name in NATURAL_KEYS[record["kind"]])


def key_label(record: Mapping[str, Any]) -> str:
    return " ".join(str(part) for part in natural_key(record))


def unholdable_scopes(
    alternatives: Iterable[Iterable[str]],
    allowed_key_types: Collection[str],
    holders: Mapping[str, Collection[str]],
    jwt_only: Container[str],
) -> list[str]:
    """Scopes of a requirement that no key type it accepts can ever hold.

    ``holders`` maps a scope name to the key types that may hold it. JWT-only
    scopes are exempt: a token, not a key, carries them. A non-empty answer
    means the requirement cannot be met by any API key it accepts.
    """
    allowed = set(allowed_key_types)
    return sorted(
        {
            name
            for alternative in alternatives
            for name in alternative
            if name not in jwt_only and not allowed.intersection(holders.get(name, ()))
        }
    )


def canonical(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as export writes it: sets sorted, meaningful orders kept."""
    result = dict(record)
    for name in ("key_types", "can_create_key_types"):
        if name in result:
            result[name] = sorted(result[name])
    if "alternatives" in result:
        result["alternatives"] = [sorted(alt) for alt in result["alternatives"]]
    return result


# Endpoints sort by path first, so every method of one path sits together.
_SORT_FIELDS = NATURAL_KEYS | {"endpoint": ("path", "method")}


def sort_key(record: Mapping[str, Any]) -> tuple[Any, ...]:
    fields = _SORT_FIELDS[record["kind"]]
    return (KINDS.index(record["kind"]), tuple(record[name] for name in fields))


def dumps(records: Iterable[Mapping[str, Any]]) -> str:
    """The canonical text of the file: one sorted-keys JSON object per line."""
    ordered = sorted((canonical(record) for record in records), key=sort_key)
    return "".join(
        json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"
        for record in ordered
    )


def read(path: Path | str) -> list[Entry]:
    """Parse and fully check a reference file; raise ReferenceFileError if bad."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ReferenceFileError(source, [f"cannot be read: {error}"]) from error
    return parse(text, source)


def parse(text: str, source: str = "<reference file>") -> list[Entry]:
    """Parse and fully check the text of a reference file."""
    problems: list[str] = []
    entries: list[Entry] = []

    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        entry = _parse_line(number, line, problems)
        if entry is not None:
            entries.append(entry)

    entries = _without_duplicates(entries, problems)
    _check_references(entries, problems)

    if problems:
        raise ReferenceFileError(source, problems)
    return entries


def _parse_line(number: int, line: str, problems: list[str]) -> Entry | None:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        problems.append(
            f"line {number}: not valid JSON ({error.msg}, col {error.colno})"
        )
        return None

    if not isinstance(record, dict):
        problems.append(f"line {number}: each line must be a JSON object")
        return None
    kind = record.get("kind")
    if kind not in SCHEMA:
        problems.append(
            f"line {number}: field 'kind': {kind!r} is not one of {', '.join(KINDS)}"
        )
        return None

    before = len(problems)
    for name in NATURAL_KEYS[kind]:
        if not isinstance(record.get(name), str) or not record[name]:
            problems.append(
                f"line {number}, {kind}: field {name!r}: a non-empty string is "
                "required (it names the entry)"
            )
    if len(problems) > before:
        return None

    entry = Entry(number, record)
    _check_fields(entry, problems)
    return entry


def _check_fields(entry: Entry, problems: list[str]) -> None:
    schema = SCHEMA[entry.kind]
    record = entry.record

    for name in sorted(set(record) - set(schema) - {"kind"}):
        problems.append(f"{entry.label}: field {name!r}: unknown field")

    for name, json_type in schema.items():
        if name not in record:
            problems.append(f"{entry.label}: field {name!r}: missing")
            continue
        message = _json_type_problem(record[name], json_type)
        if message is None and json_type in _SCALAR_TYPES:
            message = _model_field_problem(entry.kind, name, record[name])
        if message is not None:
            problems.append(f"{entry.label}: field {name!r}: {message}")

    if entry.kind == "role" and isinstance(record.get("statements"), list):
        _check_statements(entry, record["statements"], problems)

    if not any(problem.startswith(f"{entry.label}:") for problem in problems):
        _check_model_rules(entry, problems)


def _check_model_rules(entry: Entry, problems: list[str]) -> None:
    """Run the model's own clean() on the entry's single values."""
    model = MODELS[entry.kind]
    values = {}
    for name, json_type in SCHEMA[entry.kind].items():
        field = model._meta.get_field(MODEL_FIELD_NAMES.get((entry.kind, name), name))
        if json_type in _SCALAR_TYPES and not field.is_relation:
            values[field.attname] = field.to_python(entry.record[name])
    try:
        model(**values).clean()
    except ValidationError as error:
        by_field = (
            error.message_dict
            if hasattr(error, "error_dict")
            else {"__all__": error.messages}
        )
        for name, messages in by_field.items():
            record_name = next(
                (
                    record_name
                    for (kind, record_name), model_name in MODEL_FIELD_NAMES.items()
                    if kind == entry.kind and model_name == name
                ),
                name,
            )
            problems.append(
                f"{entry.label}: field {record_name!r}: {' '.join(messages)}"
            )


def _json_type_problem(value: Any, json_type: str) -> str | None:
    expected = _JSON_TYPE_NAMES[json_type]
    if json_type == "text":
        ok = isinstance(value, str)
    elif json_type == "bool":
        ok = isinstance(value, bool)
    elif json_type == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif json_type in ("date", "name_or_null"):
        ok = value is None or isinstance(value, str)
    elif json_type in ("names", "lines"):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif json_type == "alternatives":
        ok = isinstance(value, list) and all(
            isinstance(alt, list) and all(isinstance(v, str) for v in alt)
            for alt in value
        )
    else:
        ok = isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if not ok:
        return f"must be {expected}, not {json.dumps(value, ensure_ascii=False)}"

    if json_type == "date" and value is not None and not _ISO_DATE.fullmatch(value):
        return f"must be a YYYY-MM-DD date, not {value!r}"
    if json_type == "names" and len(set(value)) != len(value):
        return "lists the same name twice"
    if json_type == "lines" and any(not v.strip() or "\n" in v for v in value):
        return "each item is one non-empty line"
    if json_type == "alternatives":
        for alt in value:
            if not alt:
                return "an alternative needs at least one scope"
            if len(set(alt)) != len(alt):
                return "an alternative lists the same scope twice"
        if len({frozenset(alt) for alt in value}) != len(value):
            return "the same alternative is listed twice"
    return None


def _model_field_problem(kind: str, name: str, value: Any) -> str | None:
    model = MODELS[kind]
    field_name = MODEL_FIELD_NAMES.get((kind, name), name)
    field = model._meta.get_field(field_name)
    if field.is_relation:
        return None
    return _field_clean_problem(field, value)


def _field_clean_problem(field: models.Field, value: Any) -> str | None:
    try:
        field.clean(value, None)
    except ValidationError as error:
        return " ".join(error.messages)
    return None


def _check_statements(
    entry: Entry, statements: list[dict[str, Any]], problems: list[str]
) -> None:
    shown = 0
    for index, statement in enumerate(statements, start=1):
        where = f"{entry.label}: field 'statements' item {index}"
        for name in sorted(set(statement) - set(STATEMENT_FIELDS)):
            problems.append(f"{where}: field {name!r}: unknown field")
        for name, json_type in STATEMENT_FIELDS.items():
            if name not in statement:
                problems.append(f"{where}: field {name!r}: missing")
                continue
            field = m.RoleStatement._meta.get_field(name)
            message = _json_type_problem(statement[name], json_type)
            message = message or _field_clean_problem(field, statement[name])
            if message is not None:
                problems.append(f"{where}: field {name!r}: {message}")
        shown += statement.get("shown") is True
    if shown > 1:
        problems.append(
            f"{entry.label}: field 'statements': {shown} statements are shown; "
            "at most one may be"
        )


def _without_duplicates(entries: list[Entry], problems: list[str]) -> list[Entry]:
    first_line: dict[tuple[str, tuple[Any, ...]], int] = {}
    unique: list[Entry] = []
    for entry in entries:
        identity = (entry.kind, entry.key)
        if identity in first_line:
            fields = " + ".join(repr(name) for name in NATURAL_KEYS[entry.kind])
            problems.append(
                f"{entry.label}: field {fields}: duplicate of the entry on line "
                f"{first_line[identity]}"
            )
            continue
        first_line[identity] = entry.line
        unique.append(entry)
    return unique


def _check_references(entries: list[Entry], problems: list[str]) -> None:
    """Cross-entry rules: names that must exist, twins, the integrity rule."""
    by_kind: dict[str, dict[Any, Entry]] = {kind: {} for kind in KINDS}
    for entry in entries:
        by_kind[entry.kind][entry.key[0] if len(entry.key) == 1 else entry.key] = entry
    key_types = set(by_kind["key_type"])
    scopes = by_kind["scope"]
    causes = set(by_kind["cause"])

    def unknown(
        entry: Entry, field: str, names: Iterable[str], known: Container[str]
    ) -> list[str]:
        missing = sorted({name for name in names if name not in known})
        if missing:
            problems.append(
                f"{entry.label}: field {field!r}: unknown {', '.join(missing)}"
            )
        return missing

    def names(entry: Entry, field: str) -> list[str]:
        value = entry.record.get(field)
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return value if ok else []

    holders: dict[str, list[str]] = {}
    jwt_only: set[str] = set()
    for name, entry in scopes.items():
        held_by = names(entry, "key_types")
        unknown(entry, "key_types", held_by, key_types)
        holders[name] = held_by
        if entry.record.get("jwt_only") is True:
            jwt_only.add(name)
            if held_by:
                problems.append(
                    f"{entry.label}: field 'key_types': a JWT-only scope is held "
                    "by no key type, so this list must be empty"
                )
        elif entry.record.get("jwt_only") is False and not held_by:
            problems.append(
                f"{entry.label}: field 'key_types': name at least one key type, "
                "or mark the scope jwt_only"
            )
        twin = entry.record.get("legacy_twin")
        if isinstance(twin, str):
            if twin == name:
                problems.append(
                    f"{entry.label}: field 'legacy_twin': a scope cannot be its "
                    "own twin"
                )
            else:
                unknown(entry, "legacy_twin", [twin], scopes)

    for kind in ("endpoint", "operation"):
        for entry in by_kind[kind].values():
            allowed = names(entry, "key_types")
            if not allowed and isinstance(entry.record.get("key_types"), list):
                problems.append(
                    f"{entry.label}: field 'key_types': name at least one key type"
                )
            unknown(entry, "key_types", allowed, key_types)
            alternatives = entry.record.get("alternatives")
            if _json_type_problem(alternatives, "alternatives") is not None:
                continue
            all_names = [name for alt in alternatives for name in alt]
            if unknown(entry, "alternatives", all_names, scopes):
                continue
            stranded = unholdable_scopes(alternatives, allowed, holders, jwt_only)
            if stranded:
                problems.append(
                    f"{entry.label}: field 'alternatives': no key type this accepts "
                    f"({', '.join(sorted(allowed))}) can hold {', '.join(stranded)}"
                )

    for entry in by_kind["role"].values():
        unknown(
            entry,
            "can_create_key_types",
            names(entry, "can_create_key_types"),
            key_types,
        )
    for entry in by_kind["scenario"].values():
        unknown(entry, "causes", names(entry, "causes"), causes)
