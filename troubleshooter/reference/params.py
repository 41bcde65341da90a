"""The simulator's and the builder's state, read from and written to the URL.

The query string is all the state these pages have, so a simulation or a
plan can be shared by copying the address. Reading keeps what the current
reference data can use and says, in plain words, what it left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from scopes.snapshot import KEY_TYPE_SLUGS, Snapshot
from troubleshooter.diagnosis import KEY_TYPE_LABELS, Target
from troubleshooter.keys import all_targets, find_target, target_ref

SCOPE_NAME = re.compile(r"^[a-z_]+\.[a-z_]+$")
MAX_ITEMS = 400
MAX_TEXT = 8000
SHOW_CHOICES = ("all", "denied", "allowed")
PLAN_CHOICES = {"unknown": None, "enterprise": True, "other": False}


def _values(query: Mapping, name: str) -> list[str]:
    getter = getattr(query, "getlist", None)
    values = getter(name) if getter else [query.get(name)]
    return [str(v).strip() for v in values if v not in (None, "")][:MAX_ITEMS]


def _one(query: Mapping, name: str, allowed, default: str) -> str:
    values = _values(query, name)
    value = values[-1] if values else default
    return value if value in allowed else default


def split_scope_text(text: str) -> list[str]:
    """Scope names as pasted from a key's settings: separated by commas,
    spaces, new lines or quotes (a JSON list works too)."""
    return [part for part in re.split(r"[\s,;\"'\[\]{}]+", text[:MAX_TEXT]) if part]


@dataclass(frozen=True, slots=True)
class SimulatorState:
    key_type: str | None = None
    scopes: frozenset[str] = frozenset()
    workspace_id: str = "yes"
    plan: str = "unknown"
    show: str = "all"
    notes: tuple[str, ...] = field(default=())

    @property
    def workspace_id_passed(self) -> bool:
        return self.workspace_id == "yes"

    @property
    def enterprise_plan(self) -> bool | None:
        return PLAN_CHOICES[self.plan]

    def query(self, **changes) -> str:
        """The canonical query string, with ``changes`` applied (e.g. show)."""
        values = {
            "key_type": self.key_type or "",
            "scopes": ",".join(sorted(self.scopes)),
            "workspace_id": "" if self.workspace_id == "yes" else self.workspace_id,
            "plan": "" if self.plan == "unknown" else self.plan,
            "show": "" if self.show == "all" else self.show,
        }
        values.update(changes)
        if values.get("show") == "all":
            values["show"] = ""
        pairs = [(name, value) for name, value in values.items() if value]
        return urlencode(pairs, safe=",")


def read_simulator(query: Mapping, snapshot: Snapshot) -> SimulatorState:
    """Read the simulator's form or a shared link.

    Scopes come from ``scopes`` (a comma-separated list, as in shared links)
    or from the ticked ``scope`` boxes plus the pasted ``scopes_text``.
    """
    notes: list[str] = []
    key_type = _one(query, "key_type", KEY_TYPE_SLUGS, "") or None
    if _values(query, "key_type") and key_type is None:
        notes.append("We did not recognise the key type in the link; pick one.")

    if _values(query, "scopes"):
        raw = split_scope_text(",".join(_values(query, "scopes")))
    else:
        raw = _values(query, "scope") + split_scope_text(
            " ".join(_values(query, "scopes_text"))
        )

    names, unknown, unholdable = set(), [], []
    holdable = snapshot.scopes_for(key_type) if key_type else None
    for item in raw:
        name = item.lower().removeprefix("portkey.")
        if not SCOPE_NAME.match(name) or name not in snapshot.scopes:
            unknown.append(item[:60])
        elif holdable is not None and name not in holdable:
            unholdable.append(name)
        else:
            names.add(name)
    if unknown:
        notes.append("We ignored names that are not scopes: " + _few(unknown) + ".")
    if unholdable and key_type:
        notes.append(
            f"{with_a(KEY_TYPE_LABELS[key_type])} cannot hold "
            + _few(sorted(set(unholdable)))
            + ", so we left them out."
        )

    return SimulatorState(
        key_type=key_type,
        scopes=frozenset(names),
        workspace_id=_one(query, "workspace_id", ("yes", "no"), "yes"),
        plan=_one(query, "plan", PLAN_CHOICES, "unknown"),
        show=_one(query, "show", SHOW_CHOICES, "all"),
        notes=tuple(notes),
    )


@dataclass(frozen=True, slots=True)
class BuilderState:
    targets: tuple[Target, ...] = ()
    areas: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def query(self) -> str:
        pairs = [("area", area) for area in self.areas]
        in_areas = set(self.areas)
        pairs += [
            ("want", target_ref(t)) for t in self.targets if t.area not in in_areas
        ]
        return urlencode(pairs, safe="/{}:")


def read_builder(query: Mapping, snapshot: Snapshot) -> BuilderState:
    """Read the builder's choices: single calls (``want``, as ``METHOD /path``
    or ``op:<slug>``) and whole areas (``area``)."""
    notes: list[str] = []
    targets = all_targets(snapshot)
    known_areas = {target.area for target in targets}

    areas = [a for a in dict.fromkeys(_values(query, "area")) if a in known_areas]
    if len(areas) < len(set(_values(query, "area"))):
        notes.append("We ignored an area we no longer know.")

    chosen: list[Target] = [t for t in targets if t.area in areas]
    missing = []
    for ref in dict.fromkeys(_values(query, "want")):
        target = find_target(snapshot, ref)
        if target is None:
            missing.append(ref[:80])
        elif target not in chosen:
            chosen.append(target)
    if missing:
        notes.append("We no longer know these calls: " + _few(missing) + ".")
    return BuilderState(tuple(chosen), tuple(areas), tuple(notes))


def _few(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    more = len(items) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def with_a(noun: str) -> str:
    return ("An " if noun[:1].lower() in "aeiou" else "A ") + noun
