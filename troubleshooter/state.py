"""The wizard's answers as a URL query string, and back.

The query string is the only state the wizard has (no server session), so it
must survive tampering and stale links: ``parse_answers`` keeps what it can use
and reports, in plain words, what it dropped. Only answers ever go into a URL:
never a workspace ID, trace ID, error body or anything typed into a ticket.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from scopes.snapshot import KEY_TYPE_SLUGS, Snapshot
from troubleshooter.diagnosis import CONTEXTS, Question
from troubleshooter.paths import METHODS, normalise_method, normalise_path

UNKNOWN = "unknown"
NO_SCOPES = "none"
SCOPE_NAME = re.compile(r"^[a-z_]+\.[a-z_]+$")
YES_NO = {"yes": True, "no": False}
PLANS = {"enterprise": True, "other": False}
MAX_SCOPES = 200
MAX_VALUE = 4000


@dataclass(frozen=True, slots=True)
class Answers:
    """Everything the wizard has been told. ``None`` means "not asked yet";
    ``UNKNOWN`` means the person answered "I don't know"."""

    scenario: str | None = None
    context: str | None = None
    key_type: str | None = None
    method: str | None = None
    path: str | None = None
    operation: str | None = None
    target_unknown: bool = False
    scopes: frozenset[str] | None = None
    scopes_unknown: bool = False
    workspace_id_sent: str | None = None
    role: str | None = None
    plan: str | None = None
    user_keys: str | None = None

    def with_(self, **changes) -> Answers:
        return replace(self, **changes)

    @property
    def has_target(self) -> bool:
        return bool((self.method and self.path) or self.operation)

    def to_question(self) -> Question:
        def known(value: str | None) -> str | None:
            return None if value in (None, UNKNOWN) else value

        user_keys = known(self.user_keys)
        context = known(self.context)
        if self.scenario == "playground" and context is None:
            # Someone unsure which web-app page failed: the rules are the
            # same on all three, so reason as for the Playground.
            context = "playground"
        return Question(
            scenario=self.scenario,
            key_type=known(self.key_type),
            scopes=None if self.scopes_unknown else self.scopes,
            workspace_id_passed=YES_NO.get(self.workspace_id_sent or ""),
            context=context,
            role=known(self.role),
            enterprise_plan=PLANS.get(self.plan or ""),
            user_key_count={"0": 0, "1": 1, "2+": 2}.get(user_keys or ""),
        )


@dataclass(frozen=True, slots=True)
class Parsed:
    answers: Answers
    dropped: tuple[str, ...] = field(default=())


def to_query(answers: Answers) -> str:
    """Serialise in a fixed order so equal answers give equal URLs."""
    pairs: list[tuple[str, str]] = []
    for name in (
        "scenario",
        "context",
        "key_type",
        "method",
        "path",
        "operation",
    ):
        value = getattr(answers, name)
        if value:
            pairs.append((name, value))
    if answers.target_unknown and not answers.has_target:
        pairs.append(("target", UNKNOWN))
    if answers.scopes_unknown:
        pairs.append(("scopes", UNKNOWN))
    elif answers.scopes is not None:
        # "none" keeps "the key has no listed scope" apart from "not asked".
        pairs.append(("scopes", ",".join(sorted(answers.scopes)) or NO_SCOPES))
    for name in ("workspace_id_sent", "role", "plan", "user_keys"):
        value = getattr(answers, name)
        if value:
            pairs.append((name, value))
    return urlencode(pairs, safe="/,{}")


def _one(query: Mapping, name: str) -> str | None:
    getter = getattr(query, "getlist", None)
    values = getter(name) if getter else [query.get(name)]
    values = [v for v in values if v not in (None, "")]
    if not values:
        return None
    # Repeated parameters: the last one wins, as with a form re-submitted.
    return str(values[-1]).strip()[:MAX_VALUE]


def parse_answers(query: Mapping, snapshot: Snapshot) -> Parsed:
    """Read answers from a query string, dropping anything the current
    reference data cannot use and saying what was dropped."""
    dropped: list[str] = []
    values: dict[str, object] = {}

    def choice(name: str, allowed, label: str) -> None:
        raw = _one(query, name)
        if raw is None:
            return
        if raw == UNKNOWN or raw in allowed:
            values[name] = raw
        else:
            dropped.append(
                f"We did not recognise the {label} in the link, so we ask again."
            )

    choice("scenario", snapshot.scenarios, "scenario")
    choice("context", CONTEXTS, "place where the call was made")
    choice("key_type", KEY_TYPE_SLUGS, "key type")
    choice("workspace_id_sent", YES_NO, "answer about workspace_id")
    choice("role", snapshot.roles, "role")
    choice("plan", PLANS, "plan")
    choice("user_keys", ("0", "1", "2+"), "number of User keys")
    if values.get("scenario") == UNKNOWN:
        values.pop("scenario")
        dropped.append(
            "We did not recognise the scenario in the link, so we ask again."
        )

    _parse_target(query, snapshot, values, dropped)
    _parse_scopes(query, snapshot, values, dropped)
    return Parsed(answers=Answers(**values), dropped=tuple(dropped))


def _parse_target(query, snapshot: Snapshot, values: dict, dropped: list[str]) -> None:
    from troubleshooter.paths import match_endpoint

    picked = _one(query, "target")
    if picked == UNKNOWN:
        values["target_unknown"] = True
        return
    if picked and picked.startswith("op:"):
        query = {"operation": picked[3:]}
    elif picked:
        method, _, path = picked.partition(" ")
        query = {"method": method, "path": path}

    operation = _one(query, "operation")
    if operation is not None:
        if operation in snapshot.operations:
            values["operation"] = operation
        else:
            dropped.append(
                "The task in the link is no longer in our reference, so please "
                "choose it again."
            )

    raw_method, raw_path = _one(query, "method"), _one(query, "path")
    if raw_path is None and raw_method is None:
        return
    method = normalise_method(raw_method)
    if method is None or raw_path is None or method not in METHODS:
        dropped.append(
            "The endpoint in the link was incomplete, so please choose it again."
        )
        return
    match = match_endpoint(snapshot, method, raw_path)
    if match.endpoint is None:
        dropped.append(
            f"We no longer know the endpoint {method} {normalise_path(raw_path)}, "
            "so please choose it again."
        )
        return
    values["method"] = match.endpoint.method
    values["path"] = match.endpoint.path


def _parse_scopes(query, snapshot: Snapshot, values: dict, dropped: list[str]) -> None:
    raw = _one(query, "scopes")
    if raw is None:
        # The checklist form: ticked boxes plus anything pasted from the key's
        # settings; "scopes_asked" marks that an empty checklist means "none".
        getter = getattr(query, "getlist", None)
        ticked = getter("scope") if getter else []
        pasted = _one(query, "scopes_text") or ""
        if not ticked and not pasted and "scopes_asked" not in query:
            return
        raw = ",".join([*ticked, pasted])
    if raw == UNKNOWN:
        values["scopes_unknown"] = True
        return
    if raw == NO_SCOPES:
        values["scopes"] = frozenset()
        return

    names = [part.strip() for part in re.split(r"[\s,]+", raw) if part.strip()]
    kept, unknown = set(), []
    for name in names[:MAX_SCOPES]:
        bare = name.removeprefix("portkey.")
        if SCOPE_NAME.match(bare) and bare in snapshot.scopes:
            kept.add(bare)
        else:
            unknown.append(name[:60])
    if unknown:
        shown = ", ".join(unknown[:5])
        dropped.append(f"We ignored scopes we do not know: {shown}.")
    values["scopes"] = frozenset(kept)
