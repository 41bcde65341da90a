"""Reverting an endpoint or task brings back its scope requirement too.

An endpoint's requirement lives in separate rows (its scope alternatives), so
django-simple-history's revert of the endpoint alone left today's
alternatives in place. These functions read the alternatives as they stood in
a chosen version and make the live rows match.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from scopes.models import Endpoint, Operation, Scope, ScopeAlternative


@dataclass(frozen=True)
class PastAlternative:
    """One alternative as it stood in an earlier version."""

    alternative_id: int
    position: int
    scope_ids: tuple[int, ...]


def _owner_field(owner: Endpoint | Operation) -> str:
    return "endpoint_id" if isinstance(owner, Endpoint) else "operation_id"


def alternatives_in_version(
    owner: Endpoint | Operation, record
) -> list[PastAlternative]:
    """The owner's alternatives as they stood in its historical ``record``.

    An admin save writes the owner first and its inline rows a moment later,
    so "as they stood" means: the last state of each alternative before the
    owner's next version (or now, for the latest version).
    """
    following = (
        owner.history.filter(history_date__gt=record.history_date)
        .order_by("history_date")
        .first()
    )
    until = following.history_date if following else timezone.now()
    records = (
        ScopeAlternative.history.filter(
            **{_owner_field(owner): owner.pk}, history_date__lt=until
        )
        .latest_of_each()
        .order_by("position", "id")
    )
    # One small query per alternative: a historical many-to-many cannot be
    # prefetched, and a requirement has a handful of rows at most.
    return [
        PastAlternative(
            alternative_id=past.id,
            position=past.position,
            scope_ids=tuple(sorted(row.scope_id for row in past.scopes.all())),
        )
        for past in records
        if past.history_type != "-"
    ]


def scopes_of(past: list[PastAlternative]) -> tuple[list[list[Scope]], list[int]]:
    """The scopes of each past alternative, and the ids of any since deleted."""
    wanted = {scope_id for alternative in past for scope_id in alternative.scope_ids}
    found = Scope.objects.in_bulk(wanted)
    missing = sorted(wanted - set(found))
    return [[found[i] for i in alt.scope_ids if i in found] for alt in past], missing


def restore_alternatives(
    owner: Endpoint | Operation, past: list[PastAlternative]
) -> None:
    """Make the owner's live alternatives match ``past``: same rows (by id),
    positions and scopes; rows added since are deleted."""
    field = _owner_field(owner).removesuffix("_id")
    live = {alternative.pk: alternative for alternative in owner.alternatives.all()}
    kept = {alternative.alternative_id for alternative in past}

    for alternative in live.values():
        if alternative.pk not in kept:
            alternative.delete()

    for alternative in past:
        row = live.get(alternative.alternative_id)
        if row is None:
            # Brought back under its old id, so its history reads as one row.
            row = ScopeAlternative(pk=alternative.alternative_id, **{field: owner})
        if row._state.adding or row.position != alternative.position:
            row.position = alternative.position
            row.save()
        current = set(row.scopes.values_list("pk", flat=True))
        if current != set(alternative.scope_ids):
            row.scopes.set(alternative.scope_ids)
