"""Plan keys before the error happens: simulate a key, and build the smallest one.

``simulate`` asks the diagnosis engine about every endpoint and task for one
key, so the simulator can never disagree with the wizard. ``plan_keys`` goes
the other way: from what a key must do to the key type to create and the
fewest scopes to turn on, splitting the work over several keys only when no
single key type can do it all. Both are pure functions of a ``Snapshot``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scopes.snapshot import EndpointInfo, OperationInfo, Snapshot
from troubleshooter.diagnosis import (
    KEY_TYPE_LABELS,
    PREFERRED_KEY_TYPES,
    Question,
    Target,
    Verdict,
    diagnose,
    holdable_alternatives,
)

# Beyond this many combinations of alternatives the builder stops trying them
# all and goes greedy; real selections of a few dozen calls stay far below it.
EXACT_LIMIT = 4096
OPERATION_PREFIX = "op:"
# Where each key type is created, and the key-creation API's type/sub-type.
CREATED_IN = {
    "admin": "Admin Settings > API Keys",
    "workspace_service": "the workspace's API Keys page, type Service",
    "workspace_user": "the workspace's API Keys page, type User",
}
CREATE_PATH = {
    "admin": "/v1/api-keys/organisation/service",
    "workspace_service": "/v1/api-keys/workspace/service",
    "workspace_user": "/v1/api-keys/workspace/user",
}


# -- Naming targets ---------------------------------------------------------


def target_ref(target: Target) -> str:
    """The stable text that names a target in a URL: ``GET /v1/models`` for an
    endpoint, ``op:<slug>`` for a task without a path."""
    if isinstance(target, OperationInfo):
        return OPERATION_PREFIX + target.slug
    return target.label


def find_target(snapshot: Snapshot, ref: str) -> Target | None:
    """The endpoint or task a ``target_ref`` names, or ``None``."""
    if ref.startswith(OPERATION_PREFIX):
        return snapshot.operations.get(ref.removeprefix(OPERATION_PREFIX))
    method, _, path = ref.strip().partition(" ")
    return snapshot.endpoint(method.upper(), path.strip())


def all_targets(snapshot: Snapshot) -> list[Target]:
    """Every endpoint, then every task, each in the snapshot's order."""
    return [*snapshot.endpoints, *snapshot.operations.values()]


def targets_by_area(targets: Iterable[Target]) -> list[tuple[str, list[Target]]]:
    """Targets grouped by area, areas in alphabetical order, each area's
    endpoints (by path, then method) before its tasks."""
    areas: dict[str, list[Target]] = {}
    for target in targets:
        areas.setdefault(target.area or "Other", []).append(target)
    return [
        (area, sorted(items, key=_target_order))
        for area, items in sorted(areas.items())
    ]


def _target_order(target: Target) -> tuple[int, str, str]:
    if isinstance(target, EndpointInfo):
        return (0, target.path, target.method)
    return (1, target.summary.lower(), target.slug)


# -- The simulator ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TargetResult:
    """What the engine says about one target for the simulated key."""

    target: Target
    verdict: Verdict
    missing: tuple[tuple[str, ...], ...]
    scopes_to_add: tuple[str, ...]
    reason_code: str
    reason: str

    @property
    def ref(self) -> str:
        return target_ref(self.target)


@dataclass(frozen=True, slots=True)
class Simulation:
    key_type: str
    scopes: frozenset[str]
    areas: tuple[tuple[str, tuple[TargetResult, ...]], ...]

    def count(self, verdict: Verdict) -> int:
        return sum(
            1 for _, results in self.areas for r in results if r.verdict == verdict
        )

    @property
    def total(self) -> int:
        return sum(len(results) for _, results in self.areas)

    def only(self, verdicts: Sequence[Verdict]) -> Simulation:
        """The same simulation keeping only results with these verdicts."""
        kept = []
        for area, results in self.areas:
            chosen = tuple(r for r in results if r.verdict in verdicts)
            if chosen:
                kept.append((area, chosen))
        return Simulation(self.key_type, self.scopes, tuple(kept))


def simulate(
    snapshot: Snapshot,
    key_type: str,
    scopes: frozenset[str],
    *,
    workspace_id_passed: bool | None = True,
    enterprise_plan: bool | None = None,
) -> Simulation:
    """Ask the engine about every endpoint and task for a key of ``key_type``
    holding ``scopes``, grouped by area.

    A request from a simulated key is assumed to name its workspace unless
    told otherwise, since that is what a working integration does.
    """
    question = Question(
        key_type=key_type,
        scopes=scopes,
        workspace_id_passed=workspace_id_passed,
        enterprise_plan=enterprise_plan,
    )

    areas = []
    for area, targets in targets_by_area(all_targets(snapshot)):
        results = []
        for target in targets:
            diagnosis = diagnose(snapshot, target, question)
            first = diagnosis.decisive_reason
            results.append(
                TargetResult(
                    target=target,
                    verdict=diagnosis.verdict,
                    missing=diagnosis.missing,
                    scopes_to_add=diagnosis.scopes_to_add,
                    reason_code=first.code if first else "",
                    reason=first.message if first else "",
                )
            )
        areas.append((area, tuple(results)))
    return Simulation(key_type, frozenset(scopes), tuple(areas))


# -- The least-privilege builder --------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedKey:
    """One key to create: its type, its scopes and the targets it serves."""

    key_type: str
    scopes: tuple[str, ...]
    targets: tuple[Target, ...]
    also_works: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return KEY_TYPE_LABELS[self.key_type]

    @property
    def needs_workspace_id(self) -> tuple[Target, ...]:
        if self.key_type != "admin":
            return ()
        return tuple(t for t in self.targets if t.admin_needs_workspace_id)

    @property
    def enterprise_only(self) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.enterprise_only)

    @property
    def created_in(self) -> str:
        return CREATED_IN[self.key_type]

    @property
    def create_path(self) -> str:
        return CREATE_PATH[self.key_type]

    @property
    def scopes_json(self) -> str:
        """The body fragment the key-creation API takes for the scopes."""
        return json.dumps({"scopes": list(self.scopes)}, indent=2)


@dataclass(frozen=True, slots=True)
class KeyPlan:
    keys: tuple[PlannedKey, ...]
    impossible: tuple[Target, ...]
    exact: bool

    @property
    def single_key(self) -> bool:
        return len(self.keys) == 1


def options_for(
    snapshot: Snapshot, target: Target, key_type: str
) -> list[frozenset[str]] | None:
    """The scope sets that would let a key of ``key_type`` call ``target``, or
    ``None`` when no key of that type can."""
    if key_type not in target.key_types:
        return None
    if not target.alternatives:
        return [frozenset()]
    return holdable_alternatives(snapshot, target, key_type) or None


def smallest_scope_set(
    option_lists: Sequence[Sequence[frozenset[str]]],
) -> tuple[frozenset[str], bool]:
    """The smallest union of scopes that picks one option from every list.

    Returns the set and whether it is proven smallest. Lists with a single
    option are forced; lists already met by the forced scopes drop out; the
    rest are tried in every combination when there are few enough, the data's
    order breaking ties, and otherwise chosen greedily and then pruned.
    """
    forced = frozenset().union(*(opts[0] for opts in option_lists if len(opts) == 1))
    open_lists = list(
        dict.fromkeys(
            tuple(opts)
            for opts in option_lists
            if len(opts) > 1 and not any(option <= forced for option in opts)
        )
    )
    if not open_lists:
        return forced, True

    combinations = 1
    for opts in open_lists:
        combinations *= len(opts)
    if combinations <= EXACT_LIMIT:
        best = min(
            (forced.union(*choice) for choice in itertools.product(*open_lists)),
            key=len,
        )
        return best, True

    chosen = set(forced)
    for opts in sorted(open_lists, key=len):
        if not any(option <= chosen for option in opts):
            chosen |= min(opts, key=lambda option: len(option - chosen))
    return _pruned(frozenset(chosen), option_lists), False


def _pruned(
    scopes: frozenset[str], option_lists: Sequence[Sequence[frozenset[str]]]
) -> frozenset[str]:
    """Drop every scope that no list needs once the others are held."""
    kept = set(scopes)
    for name in sorted(scopes):
        trial = kept - {name}
        if all(any(option <= trial for option in opts) for opts in option_lists):
            kept = trial
    return frozenset(kept)


def _key_for(
    snapshot: Snapshot, key_type: str, targets: Sequence[Target]
) -> tuple[PlannedKey, bool]:
    option_lists = [options_for(snapshot, t, key_type) or [] for t in targets]
    scopes, exact = smallest_scope_set(option_lists)
    key = PlannedKey(key_type, tuple(sorted(scopes)), tuple(targets))
    return key, exact


def plan_keys(snapshot: Snapshot, targets: Sequence[Target]) -> KeyPlan:
    """The fewest keys, each with the fewest scopes, that can call every target.

    Key types are tried alone first, most narrowly scoped first (a Service
    key, then a User key, then an Admin key); only when none can do all the
    work are pairs, then all three, considered. Within a set of keys each
    target goes to the most narrowly scoped key that can call it, so an Admin
    key only does what nothing else can.
    """
    targets = list(dict.fromkeys(targets))
    can_do = {
        kt: {t for t in targets if options_for(snapshot, t, kt) is not None}
        for kt in PREFERRED_KEY_TYPES
    }
    possible = [t for t in targets if any(t in done for done in can_do.values())]
    impossible = tuple(t for t in targets if t not in possible)
    if not possible:
        return KeyPlan(keys=(), impossible=impossible, exact=True)

    for size in range(1, len(PREFERRED_KEY_TYPES) + 1):
        candidates = [
            combo
            for combo in itertools.combinations(PREFERRED_KEY_TYPES, size)
            if all(any(t in can_do[kt] for kt in combo) for t in possible)
        ]
        if candidates:
            break

    plans = []
    for combo in candidates:
        assigned = {kt: [] for kt in combo}
        for target in possible:
            owner = next(kt for kt in combo if target in can_do[kt])
            assigned[owner].append(target)
        built = [_key_for(snapshot, kt, assigned[kt]) for kt in combo]
        plans.append(built)

    # One key: the most narrowly scoped type wins, whatever its scope count.
    # Several keys: the fewest scopes in total, then the preference order.
    best = (
        plans[0]
        if size == 1
        else min(plans, key=lambda built: sum(len(key.scopes) for key, _ in built))
    )
    keys = tuple(key for key, _ in best)
    if len(keys) == 1:
        only = keys[0]
        also = tuple(
            kt
            for kt in PREFERRED_KEY_TYPES
            if kt != only.key_type and can_do[kt] >= set(possible)
        )
        keys = (PlannedKey(only.key_type, only.scopes, only.targets, also),)
    return KeyPlan(
        keys=keys,
        impossible=impossible,
        exact=all(exact for _, exact in best),
    )


def checklist(snapshot: Snapshot, plan: KeyPlan) -> str:
    """The plan as a plain-text checklist to paste into a ticket or a runbook."""
    lines: list[str] = []
    for number, key in enumerate(plan.keys, start=1):
        if len(plan.keys) > 1:
            lines.append(f"Key {number} of {len(plan.keys)}: {key.label}")
        lines.append(f"[ ] Create {_a(key.label)} ({CREATED_IN[key.key_type]}).")
        for name in key.scopes:
            scope = snapshot.scopes.get(name)
            where = f" ({scope.enabled_at})" if scope and scope.enabled_at else ""
            lines.append(f"[ ] Turn on {name}{where}.")
        if not key.scopes:
            lines.append("[ ] No scope is needed for these calls.")
        if key.needs_workspace_id:
            lines.append(
                "[ ] Send workspace_id with calls on workspace resources "
                "(query string for GET and DELETE, JSON body for POST and PUT)."
            )
        if key.enterprise_only:
            lines.append("[ ] Check that the organisation is on an Enterprise plan.")
        lines.append("    For: " + "; ".join(t.label for t in key.targets) + ".")
        lines.append("")
    for target in plan.impossible:
        lines.append(f"[ ] Not possible with an API key: {target.label}.")
    return "\n".join(lines).rstrip() + "\n"


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun
