"""A generated reference dataset ten times the size of the shipped one.

Query budgets must not grow with the data, so tests pin them on both sizes.
The copies are written with bulk inserts (no history rows, one version bump):
loading ~4,000 entries through the admin-grade loader would take a minute.
"""

from __future__ import annotations

import string

from scopes.models import Endpoint, KeyType, Operation, Scope, ScopeAlternative
from scopes.signals import bump_data_version


def _suffix(copy: int) -> str:
    # Scope names allow letters and underscores only, so copies are lettered.
    return "_" + string.ascii_lowercase[copy % 26] * (1 + copy // 26)


def add_copies(copies: int = 9) -> None:
    """Add ``copies`` renamed copies of every scope, endpoint and operation,
    with their key types and requirement alternatives."""
    key_types = {kt.slug: kt for kt in KeyType.objects.all()}
    scopes = list(Scope.objects.prefetch_related("key_types"))
    endpoints = list(
        Endpoint.objects.prefetch_related("key_types", "alternatives__scopes")
    )
    operations = list(
        Operation.objects.prefetch_related("key_types", "alternatives__scopes")
    )

    for copy in range(1, copies + 1):
        suffix = _suffix(copy)
        new_scopes = Scope.objects.bulk_create(
            [
                Scope(
                    name=s.name.replace(".", f"{suffix}.", 1),
                    description=s.description,
                    group=s.group,
                    enabled_at=s.enabled_at,
                    introduced_in=s.introduced_in,
                    jwt_only=s.jwt_only,
                )
                for s in scopes
            ]
        )
        renamed = {old.name: new for old, new in zip(scopes, new_scopes, strict=True)}
        Scope.key_types.through.objects.bulk_create(
            [
                Scope.key_types.through(scope_id=renamed[s.name].pk, keytype_id=kt.pk)
                for s in scopes
                for kt in s.key_types.all()
            ]
        )

        new_endpoints = Endpoint.objects.bulk_create(
            [
                Endpoint(
                    method=e.method,
                    path=f"/v1/copy{suffix.strip('_')}{e.path.removeprefix('/v1')}",
                    plane=e.plane,
                    summary=e.summary,
                    area=e.area,
                    admin_needs_workspace_id=e.admin_needs_workspace_id,
                    enterprise_only=e.enterprise_only,
                    provenance=e.provenance,
                    source_url=e.source_url,
                    verified_on=e.verified_on,
                    notes=e.notes,
                )
                for e in endpoints
            ]
        )
        new_operations = Operation.objects.bulk_create(
            [
                Operation(
                    slug=f"{o.slug}-copy{suffix.strip('_')}",
                    summary=o.summary,
                    area=o.area,
                    ui_only=o.ui_only,
                    admin_needs_workspace_id=o.admin_needs_workspace_id,
                    enterprise_only=o.enterprise_only,
                    provenance=o.provenance,
                    source_url=o.source_url,
                    verified_on=o.verified_on,
                    notes=o.notes,
                )
                for o in operations
            ]
        )
        _copy_requirements(endpoints, new_endpoints, "endpoint", renamed, key_types)
        _copy_requirements(operations, new_operations, "operation", renamed, key_types)

    bump_data_version()


def _copy_requirements(originals, copies, owner: str, renamed, key_types) -> None:
    through = originals[0].key_types.through
    owner_field = f"{type(originals[0]).__name__.lower()}_id"
    through.objects.bulk_create(
        [
            through(**{owner_field: new.pk, "keytype_id": key_types[kt.slug].pk})
            for old, new in zip(originals, copies, strict=True)
            for kt in old.key_types.all()
        ]
    )

    alternatives, scope_sets = [], []
    for old, new in zip(originals, copies, strict=True):
        for alt in old.alternatives.all():
            alternatives.append(ScopeAlternative(position=alt.position, **{owner: new}))
            scope_sets.append([renamed[s.name] for s in alt.scopes.all()])
    ScopeAlternative.objects.bulk_create(alternatives)
    ScopeAlternative.scopes.through.objects.bulk_create(
        [
            ScopeAlternative.scopes.through(
                scopealternative_id=alt.pk, scope_id=scope.pk
            )
            for alt, scopes in zip(alternatives, scope_sets, strict=True)
            for scope in scopes
        ]
    )
