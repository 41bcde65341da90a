"""Small helpers that create reference rows for tests, with sensible defaults."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from django.contrib.auth.models import Group, User

from scopes.models import (
    Cause,
    Endpoint,
    ErrorCode,
    KeyType,
    Operation,
    Role,
    RoleStatement,
    Scenario,
    ScenarioCause,
    Scope,
    ScopeAlternative,
)

DATA = Path(__file__).resolve().parent / "data"
MINI_FILE = DATA / "mini.jsonl"
WORKSPACE_KEYS = ("workspace_service", "workspace_user")


def key_types() -> dict[str, KeyType]:
    families = {
        "admin": "admin",
        "workspace_service": "workspace",
        "workspace_user": "workspace",
    }
    return {
        slug: KeyType.objects.get_or_create(
            slug=slug,
            defaults={"name": slug.replace("_", " "), "family": family, "purpose": "-"},
        )[0]
        for slug, family in families.items()
    }


def scope(
    name: str, held_by: Iterable[str] = WORKSPACE_KEYS, **fields: object
) -> Scope:
    fields = {"description": f"Lets a key {name}.", "group": "inference"} | fields
    created = Scope.objects.create(name=name, **fields)
    known = key_types()
    created.key_types.set([known[slug] for slug in held_by])
    return created


def _requirement(
    obj: Endpoint | Operation,
    accepts: Iterable[str],
    alternatives: Sequence[Sequence[str]],
) -> None:
    known = key_types()
    obj.key_types.set([known[slug] for slug in accepts])
    owner = "endpoint" if isinstance(obj, Endpoint) else "operation"
    for position, names in enumerate(alternatives):
        alternative = ScopeAlternative.objects.create(position=position, **{owner: obj})
        alternative.scopes.set(Scope.objects.filter(name__in=names))


def endpoint(
    method: str,
    path: str,
    accepts: Iterable[str] = WORKSPACE_KEYS,
    alternatives: Sequence[Sequence[str]] = (),
    **fields: object,
) -> Endpoint:
    fields = {
        "summary": f"{method} {path}",
        "area": "Inference",
        "plane": "data",
        "provenance": "inferred",
    } | fields
    created = Endpoint.objects.create(method=method, path=path, **fields)
    _requirement(created, accepts, alternatives)
    return created


def operation(
    slug: str,
    accepts: Iterable[str] = WORKSPACE_KEYS,
    alternatives: Sequence[Sequence[str]] = (),
    **fields: object,
) -> Operation:
    fields = {"summary": slug, "area": "Web app", "provenance": "inferred"} | fields
    created = Operation.objects.create(slug=slug, **fields)
    _requirement(created, accepts, alternatives)
    return created


def role(slug: str, statements: Sequence[tuple[str, bool]] = ()) -> Role:
    created = Role.objects.create(
        slug=slug, name=slug.title(), level="workspace", summary="-"
    )
    for position, (text, shown) in enumerate(statements):
        RoleStatement.objects.create(
            role=created, position=position, text=text, shown=shown
        )
    return created


def rows_of_every_kind(count: int) -> None:
    """``count`` rows of every reference model, each with its relations filled,
    so a changelist that queries per row would show it."""
    known = key_types()
    for number in range(count):
        held = scope(f"resource_{_letters(number)}.list", group="resources")
        scope(f"resource_{_letters(number)}.read", legacy_twin=held)
        endpoint(
            "GET",
            f"/v1/things{number}",
            alternatives=[[held.name], ["resource_a.read"]],
        )
        operation(f"operation-{number}", alternatives=[[held.name]])
        made = role(f"role-{number}", [("Says one thing.", True), ("Another.", False)])
        made.can_create_key_types.set(known.values())
        cause = Cause.objects.create(
            code=f"cause_{_letters(number)}",
            title="t",
            explanation="e",
            fix="f",
            how_to_check="c",
        )
        scenario = Scenario.objects.create(
            slug=f"scenario-{number}", title=f"Scenario {number}", when="w"
        )
        ScenarioCause.objects.create(scenario=scenario, cause=cause)
        ErrorCode.objects.create(
            code=f"AB{number:02d}"[:4], http_status=403, title="t", meaning="m"
        )


def _letters(number: int) -> str:
    """0 -> a, 25 -> z, 26 -> ba: scope names allow letters only."""
    letters = ""
    while True:
        number, remainder = divmod(number, 26)
        letters = "abcdefghijklmnopqrstuvwxyz"[remainder] + letters
        if number == 0:
            return letters


def staff(username: str, group: str | None = None) -> User:
    user = User.objects.create_user(username, password="unused-in-tests")
    user.is_staff = True
    user.save()
    if group is not None:
        user.groups.add(Group.objects.get(name=group))
    return user
