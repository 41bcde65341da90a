"""An immutable, in-memory picture of the reference data.

The diagnosis engine reads only these frozen dataclasses, never the ORM, so it
stays a pure function that is cheap to call thousands of times. A snapshot is
built either from the database (``scopes.services.current_snapshot``) or
straight from the reference file (``from_records``), which keeps the engine's
tests free of any database.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

KEY_TYPE_SLUGS = ("admin", "workspace_user", "workspace_service")
WORKSPACE_KEY_TYPES = frozenset({"workspace_user", "workspace_service"})
PLANES = ("data", "control")
SCOPE_GROUPS = (
    "organisation",
    "workspace",
    "integrations",
    "resources",
    "monitoring",
    "inference",
)
PROVENANCES = ("documented", "inferred")


@dataclass(frozen=True, slots=True)
class KeyTypeInfo:
    slug: str
    name: str
    family: str
    purpose: str
    facts: tuple[str, ...]
    can_call_data_plane: bool
    can_run_ui_tests: bool
    can_manage_api_keys: bool


@dataclass(frozen=True, slots=True)
class ScopeInfo:
    name: str
    description: str
    group: str
    key_types: frozenset[str]
    enabled_at: str
    legacy_twin: str | None
    introduced_in: str
    jwt_only: bool

    @property
    def resource(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def action(self) -> str:
        return self.name.split(".", 1)[1]


@dataclass(frozen=True, slots=True)
class RequirementInfo:
    """What an endpoint or a path-less operation needs.

    ``alternatives`` is a tuple of scope sets: holding every scope of any one
    set is enough.
    """

    summary: str
    area: str
    key_types: frozenset[str]
    alternatives: tuple[frozenset[str], ...]
    admin_needs_workspace_id: bool
    enterprise_only: bool
    provenance: str
    source_url: str
    verified_on: datetime.date | None
    notes: str


@dataclass(frozen=True, slots=True)
class EndpointInfo(RequirementInfo):
    method: str = ""
    path: str = ""
    plane: str = "control"

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(part for part in self.path.strip("/").split("/") if part)


@dataclass(frozen=True, slots=True)
class OperationInfo(RequirementInfo):
    slug: str = ""
    ui_only: bool = False

    @property
    def label(self) -> str:
        return self.summary


@dataclass(frozen=True, slots=True)
class RoleStatementInfo:
    text: str
    source_url: str
    shown: bool


@dataclass(frozen=True, slots=True)
class RoleInfo:
    slug: str
    name: str
    level: str
    position: int
    summary: str
    can_create_key_types: frozenset[str]
    statements: tuple[RoleStatementInfo, ...]


@dataclass(frozen=True, slots=True)
class CauseInfo:
    code: str
    title: str
    explanation: str
    fix: str
    check: str


@dataclass(frozen=True, slots=True)
class ScenarioInfo:
    slug: str
    title: str
    when: str
    position: int
    causes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ErrorCodeInfo:
    code: str
    http_status: int
    title: str
    meaning: str


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    # The version number plus when it moved: unique even when a rolled-back
    # transaction reuses a number, so it is safe as a cache key.
    stamp: str = ""
    key_types: Mapping[str, KeyTypeInfo] = field(default_factory=dict)
    scopes: Mapping[str, ScopeInfo] = field(default_factory=dict)
    endpoints: tuple[EndpointInfo, ...] = ()
    operations: Mapping[str, OperationInfo] = field(default_factory=dict)
    roles: Mapping[str, RoleInfo] = field(default_factory=dict)
    causes: Mapping[str, CauseInfo] = field(default_factory=dict)
    scenarios: Mapping[str, ScenarioInfo] = field(default_factory=dict)
    error_codes: Mapping[str, ErrorCodeInfo] = field(default_factory=dict)

    def scopes_for(self, key_type: str) -> frozenset[str]:
        return frozenset(
            name for name, scope in self.scopes.items() if key_type in scope.key_types
        )

    def endpoint(self, method: str, path: str) -> EndpointInfo | None:
        for endpoint in self.endpoints:
            if endpoint.method == method and endpoint.path == path:
                return endpoint
        return None


def _date(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


def _requirement_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "summary": record["summary"],
        "area": record["area"],
        "key_types": frozenset(record["key_types"]),
        "alternatives": tuple(frozenset(alt) for alt in record["alternatives"]),
        "admin_needs_workspace_id": record["admin_needs_workspace_id"],
        "enterprise_only": record["enterprise_only"],
        "provenance": record["provenance"],
        "source_url": record["source_url"],
        "verified_on": _date(record["verified_on"]),
        "notes": record["notes"],
    }


def from_records(
    records: Iterable[Mapping[str, Any]], version: int = 0, stamp: str = ""
) -> Snapshot:
    """Build a snapshot from reference-file records (see scopes/referencefile.py)."""
    parts: dict[str, dict[str, Any]] = {
        "key_type": {},
        "scope": {},
        "endpoint": {},
        "operation": {},
        "role": {},
        "cause": {},
        "scenario": {},
        "error_code": {},
    }
    for record in records:
        kind = record["kind"]
        if kind == "key_type":
            parts[kind][record["slug"]] = KeyTypeInfo(
                slug=record["slug"],
                name=record["name"],
                family=record["family"],
                purpose=record["purpose"],
                facts=tuple(record["facts"]),
                can_call_data_plane=record["can_call_data_plane"],
                can_run_ui_tests=record["can_run_ui_tests"],
                can_manage_api_keys=record["can_manage_api_keys"],
            )
        elif kind == "scope":
            parts[kind][record["name"]] = ScopeInfo(
                name=record["name"],
                description=record["description"],
                group=record["group"],
                key_types=frozenset(record["key_types"]),
                enabled_at=record["enabled_at"],
                legacy_twin=record["legacy_twin"],
                introduced_in=record["introduced_in"],
                jwt_only=record["jwt_only"],
            )
        elif kind == "endpoint":
            endpoint = EndpointInfo(
                method=record["method"],
                path=record["path"],
                plane=record["plane"],
                **_requirement_fields(record),
            )
            parts[kind][endpoint.label] = endpoint
        elif kind == "operation":
            parts[kind][record["slug"]] = OperationInfo(
                slug=record["slug"],
                ui_only=record["ui_only"],
                **_requirement_fields(record),
            )
        elif kind == "role":
            parts[kind][record["slug"]] = RoleInfo(
                slug=record["slug"],
                name=record["name"],
                level=record["level"],
                position=record["position"],
                summary=record["summary"],
                can_create_key_types=frozenset(record["can_create_key_types"]),
                statements=tuple(
                    RoleStatementInfo(s["text"], s["source_url"], s["shown"])
                    for s in record["statements"]
                ),
            )
        elif kind == "cause":
            parts[kind][record["code"]] = CauseInfo(
                code=record["code"],
                title=record["title"],
                explanation=record["explanation"],
                fix=record["fix"],
                check=record["check"],
            )
        elif kind == "scenario":
            parts[kind][record["slug"]] = ScenarioInfo(
                slug=record["slug"],
                title=record["title"],
                when=record["when"],
                position=record["position"],
                causes=tuple(record["causes"]),
            )
        elif kind == "error_code":
            parts[kind][record["code"]] = ErrorCodeInfo(
                code=record["code"],
                http_status=record["http_status"],
                title=record["title"],
                meaning=record["meaning"],
            )

    return Snapshot(
        version=version,
        stamp=stamp or str(version),
        key_types=_frozen(parts["key_type"]),
        scopes=_frozen(parts["scope"]),
        endpoints=tuple(
            sorted(parts["endpoint"].values(), key=lambda e: (e.path, e.method))
        ),
        operations=_frozen(parts["operation"]),
        roles=_frozen(
            dict(sorted(parts["role"].items(), key=lambda item: item[1].position))
        ),
        causes=_frozen(parts["cause"]),
        scenarios=_frozen(
            dict(sorted(parts["scenario"].items(), key=lambda item: item[1].position))
        ),
        error_codes=_frozen(dict(sorted(parts["error_code"].items()))),
    )
