"""Views of the snapshot for the reference pages: which calls need a scope,
how many, and the endpoint matrix's filters. Pure functions, no database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from scopes.snapshot import KEY_TYPE_SLUGS, PLANES, PROVENANCES, Snapshot
from troubleshooter.diagnosis import Target
from troubleshooter.keys import all_targets, targets_by_area


@dataclass(frozen=True, slots=True)
class Use:
    """How one target needs a scope: in ``alternative`` (with ``partners``),
    or instead through one of ``others``."""

    target: Target
    partners: tuple[str, ...]
    others: tuple[tuple[str, ...], ...]


def uses_of(snapshot: Snapshot, name: str) -> list[tuple[str, list[Use]]]:
    """Every endpoint and task whose requirement mentions scope ``name``,
    grouped by area."""
    found = []
    for target in all_targets(snapshot):
        holding = [alt for alt in target.alternatives if name in alt]
        if not holding:
            continue
        alternative = holding[0]
        others = tuple(
            tuple(sorted(alt)) for alt in target.alternatives if alt is not alternative
        )
        found.append(Use(target, tuple(sorted(alternative - {name})), others))

    by_target = {use.target: use for use in found}
    return [
        (area, [by_target[t] for t in targets])
        for area, targets in targets_by_area(by_target)
    ]


def use_counts(snapshot: Snapshot) -> Counter[str]:
    """How many endpoints and tasks mention each scope."""
    counts: Counter[str] = Counter()
    for target in all_targets(snapshot):
        for name in frozenset().union(*target.alternatives):
            counts[name] += 1
    return counts


def scopes_by_group(snapshot: Snapshot, names=None) -> list[tuple[str, list]]:
    """Scopes (all, or only ``names``) grouped by their group, both sorted."""
    groups: dict[str, list] = {}
    for name in sorted(snapshot.scopes if names is None else names):
        scope = snapshot.scopes[name]
        groups.setdefault(scope.group, []).append(scope)
    return sorted(groups.items())


@dataclass(frozen=True, slots=True)
class MatrixFilter:
    """The endpoint matrix's filters as read from the query string; an empty
    value means "any"."""

    key_type: str = ""
    plane: str = ""
    area: str = ""
    provenance: str = ""

    @property
    def active(self) -> bool:
        return bool(self.key_type or self.plane or self.area or self.provenance)

    def keeps(self, target: Target) -> bool:
        if self.key_type and self.key_type not in target.key_types:
            return False
        if self.plane and getattr(target, "plane", None) != self.plane:
            return False
        if self.area and target.area != self.area:
            return False
        return not self.provenance or target.provenance == self.provenance


def read_matrix_filter(query: Mapping, snapshot: Snapshot) -> MatrixFilter:
    """Keep only values the data knows; anything else means "any"."""
    areas = {target.area for target in all_targets(snapshot)}

    def pick(name: str, allowed) -> str:
        value = str(query.get(name) or "").strip()
        return value if value in allowed else ""

    return MatrixFilter(
        key_type=pick("key_type", KEY_TYPE_SLUGS),
        plane=pick("plane", PLANES),
        area=pick("area", areas),
        provenance=pick("provenance", PROVENANCES),
    )


def areas(snapshot: Snapshot) -> list[str]:
    return sorted({target.area for target in all_targets(snapshot)})
