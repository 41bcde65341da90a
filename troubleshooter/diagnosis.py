"""The diagnosis engine: from (what was called, with which key) to a verdict,
the decisive reasons and the smallest fix.

Everything here is a pure function of a ``Snapshot`` and a ``Question``: no
request objects, no database. The wizard, the JSON API and the ``diagnose``
command all call ``diagnose`` so they can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from scopes.snapshot import (
    EndpointInfo,
    OperationInfo,
    Snapshot,
)
from troubleshooter.paths import PathMatch, match_endpoint

Verdict = Literal["allowed", "denied", "unknown"]
Target = EndpointInfo | OperationInfo

UI_CONTEXTS = ("playground", "prompt_studio", "model_catalog")
CONTEXTS = ("code", *UI_CONTEXTS)
CONTEXT_NAMES = {
    "code": "your code or an SDK",
    "playground": "the Playground",
    "prompt_studio": "Prompt Studio",
    "model_catalog": "the Model Catalog",
}
KEY_TYPE_LABELS = {
    "admin": "Admin API key",
    "workspace_user": "Workspace User API key",
    "workspace_service": "Workspace Service API key",
}
# When several key types would do, suggest the one made for the job: code
# runs best with a Service key, the web app needs a User key.
PREFERRED_KEY_TYPES = ("workspace_service", "workspace_user", "admin")
UI_KEY_TYPE = "workspace_user"
# The scope every web-app test request needs, whatever the page.
UI_SCOPE = "completions.write"


@dataclass(frozen=True, slots=True)
class Question:
    """What is known about the failing call. ``None`` always means "not known"."""

    scenario: str | None = None
    key_type: str | None = None
    scopes: frozenset[str] | None = None
    workspace_id_passed: bool | None = None
    context: str | None = None
    role: str | None = None
    enterprise_plan: bool | None = None
    user_key_count: int | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Diagnosis:
    target: Target
    verdict: Verdict
    key_type_ok: bool
    required: tuple[tuple[str, ...], ...]
    missing: tuple[tuple[str, ...], ...]
    reasons: tuple[Reason, ...]
    scopes_to_add: tuple[str, ...]
    use_key_type: str | None
    use_key_type_scopes: tuple[str, ...]
    fix_summary: str
    fix_steps: tuple[str, ...]
    check_next: tuple[Reason, ...]
    uncertain: tuple[str, ...] = field(default=())
    can_apply_fix: bool | None = None

    @property
    def allowed(self) -> bool:
        return self.verdict == "allowed"

    @property
    def decisive_reason(self) -> Reason | None:
        return self.reasons[0] if self.reasons else None


def with_article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def resolve_endpoint(snapshot: Snapshot, method: str, path: str) -> PathMatch:
    return match_endpoint(snapshot, method, path)


def target_label(target: Target) -> str:
    return target.label


def is_ui_context(context: str | None) -> bool:
    return context in UI_CONTEXTS


def holdable_alternatives(
    snapshot: Snapshot, target: Target, key_type: str
) -> list[frozenset[str]]:
    """The alternatives a key of this type could satisfy, in the data's order."""
    can_hold = snapshot.scopes_for(key_type)
    return [alt for alt in target.alternatives if alt <= can_hold]


def cheapest_alternative(
    alternatives: list[frozenset[str]], held: frozenset[str] = frozenset()
) -> frozenset[str] | None:
    """The alternative needing the fewest new scopes; the data's order breaks ties,
    so the documented, primary alternative wins."""
    if not alternatives:
        return None
    return min(alternatives, key=lambda alt: len(alt - held))


def effective_key_types(target: Target, context: str | None) -> frozenset[str]:
    if is_ui_context(context):
        return frozenset({UI_KEY_TYPE})
    return target.key_types


def effective_alternatives(
    target: Target, context: str | None
) -> tuple[frozenset[str], ...]:
    if not is_ui_context(context):
        return target.alternatives
    # A web-app test request is an inference call made with the person's User
    # key, so completions.write is needed on top of whatever the page does.
    if not target.alternatives:
        return (frozenset({UI_SCOPE}),)
    return tuple(alt | {UI_SCOPE} for alt in target.alternatives)


def _with_alternatives(target: Target, alternatives, key_types) -> Target:
    from dataclasses import replace

    return replace(target, alternatives=alternatives, key_types=key_types)


def _scope_where(snapshot: Snapshot, name: str) -> str:
    scope = snapshot.scopes.get(name)
    if scope and scope.enabled_at:
        return f"{name} ({scope.enabled_at})"
    return name


def _list_read_sibling(held: frozenset[str], missing: frozenset[str]) -> str | None:
    """Return a held scope that is the list/read twin of a missing one."""
    twins = {"list": "read", "read": "list"}
    for name in sorted(missing):
        resource, _, action = name.partition(".")
        twin = twins.get(action)
        if twin and f"{resource}.{twin}" in held:
            return f"{resource}.{twin}"
    return None


def _best_key_type(snapshot: Snapshot, target: Target) -> str | None:
    for key_type in PREFERRED_KEY_TYPES:
        if key_type in target.key_types and (
            not target.alternatives or holdable_alternatives(snapshot, target, key_type)
        ):
            return key_type
    return None


def _check_next(
    snapshot: Snapshot, target: Target, question: Question, decisive: set[str]
) -> tuple[Reason, ...]:
    """What to look at if the fix does not help, most likely first.

    Only causes that no answer can rule out are listed, in the order of the
    person's scenario when it names them."""
    ui = is_ui_context(question.context)
    applicable = {"org_security_settings", "stale_session"}
    if ui and question.user_key_count in (None, 2):
        applicable.add("several_user_keys")
    # A missing item answers AB03 too; so does a list through an Admin key
    # pointed at the wrong workspace_id. A workspace key's own list cannot miss.
    has_item = isinstance(target, EndpointInfo) and "{" in target.path
    admin_in_workspace = target.admin_needs_workspace_id and question.key_type in (
        "admin",
        None,
    )
    if has_item or admin_in_workspace:
        applicable.add("resource_not_in_workspace")
    if question.enterprise_plan is not True and (
        target.enterprise_only or getattr(target, "plane", None) == "control"
    ):
        applicable.add("plan_restriction")

    default_order = [
        "several_user_keys",
        "stale_session" if ui else "",
        "org_security_settings",
        "resource_not_in_workspace",
        "plan_restriction",
        "stale_session",
    ]
    scenario = snapshot.scenarios.get(question.scenario or "")
    order = [*(scenario.causes if scenario else ()), *default_order]

    reasons = []
    for code in dict.fromkeys(c for c in order if c in applicable):
        cause = snapshot.causes.get(code)
        if cause and code not in decisive:
            reasons.append(Reason(code, cause.check or cause.explanation))
    return tuple(reasons)


class _Builder:
    """Collects reasons and fix steps while ``diagnose`` walks the checks."""

    def __init__(self) -> None:
        self.denials: list[Reason] = []
        self.unknowns: list[Reason] = []
        self.steps: list[str] = []
        self.uncertain: list[str] = []

    def deny(self, code: str, message: str) -> None:
        self.denials.append(Reason(code, message))

    def unsure(self, code: str, message: str, what: str) -> None:
        self.unknowns.append(Reason(code, message))
        self.uncertain.append(what)


def diagnose(snapshot: Snapshot, target: Target, question: Question) -> Diagnosis:
    """Decide whether ``question``'s key may call ``target`` and how to fix it.

    The checks run in the order that decides fastest: key type, then
    ``workspace_id``, then scopes, then plan. Any failed check makes the verdict
    ``denied``; otherwise any unanswered check makes it ``unknown``.
    """
    context = question.context
    key_types = effective_key_types(target, context)
    alternatives = effective_alternatives(target, context)
    effective = _with_alternatives(target, alternatives, key_types)
    label = target.label
    out = _Builder()

    key_type, key_type_ok = _check_key_type(snapshot, effective, question, out)
    _check_workspace_id(effective, question, key_type, key_type_ok, out)
    missing, scopes_to_add = _check_scopes(
        snapshot, effective, question, key_type, key_type_ok, out
    )
    _check_plan(effective, question, out)

    use_key_type, use_key_type_scopes = None, ()
    if not key_type_ok:
        use_key_type = (
            UI_KEY_TYPE
            if is_ui_context(context)
            else _best_key_type(snapshot, effective)
        )
        if use_key_type:
            best = cheapest_alternative(
                holdable_alternatives(snapshot, effective, use_key_type)
            )
            use_key_type_scopes = tuple(sorted(best or ()))

    if out.denials:
        verdict: Verdict = "denied"
    elif out.unknowns:
        verdict = "unknown"
    else:
        verdict = "allowed"

    reasons = tuple(out.denials or out.unknowns)
    decisive = {reason.code for reason in reasons}
    summary, steps = _fix_text(
        snapshot,
        effective,
        question,
        verdict,
        reasons,
        scopes_to_add,
        use_key_type,
        use_key_type_scopes,
    )

    return Diagnosis(
        target=target,
        verdict=verdict,
        key_type_ok=key_type_ok,
        required=tuple(tuple(sorted(alt)) for alt in alternatives),
        missing=() if verdict == "allowed" else missing,
        reasons=reasons if verdict != "allowed" else (),
        scopes_to_add=scopes_to_add if verdict != "allowed" else (),
        use_key_type=use_key_type,
        use_key_type_scopes=use_key_type_scopes,
        fix_summary=summary or f"{label}: nothing to change.",
        fix_steps=steps,
        check_next=_check_next(snapshot, effective, question, decisive),
        uncertain=tuple(out.uncertain),
        can_apply_fix=_can_apply_fix(
            snapshot, question.role, use_key_type or key_type, verdict
        ),
    )


def _check_key_type(
    snapshot: Snapshot, target: Target, question: Question, out: _Builder
) -> tuple[str | None, bool]:
    key_type = question.key_type
    context = question.context
    label = target.label

    if is_ui_context(context):
        place = CONTEXT_NAMES[context]
        if question.user_key_count == 0:
            out.deny(
                "only_service_keys",
                f"{place} sends its test requests with a Workspace User API key, "
                "and this workspace has none: only Service keys exist.",
            )
            return key_type, key_type in (None, UI_KEY_TYPE)
        if key_type is None:
            # The web app chooses the key itself: it is always a User key.
            return UI_KEY_TYPE, True
        if key_type != UI_KEY_TYPE:
            out.deny(
                "playground_needs_user_key",
                f"{place} only works with a Workspace User API key; "
                f"{with_article(KEY_TYPE_LABELS.get(key_type, key_type))} cannot be "
                "used there.",
            )
            return key_type, False
        return key_type, True

    if key_type is None:
        names = " or ".join(
            KEY_TYPE_LABELS[k] for k in PREFERRED_KEY_TYPES if k in target.key_types
        )
        out.unsure(
            "key_type_unknown",
            f"{label} accepts only {with_article(names)}; tell us which key you used "
            "to know whether it is the right kind.",
            "which key type was used",
        )
        return None, True

    if key_type in target.key_types:
        if target.alternatives and not holdable_alternatives(
            snapshot, target, key_type
        ):
            out.deny(
                "wrong_key_type",
                "No set of scopes lets "
                f"{with_article(KEY_TYPE_LABELS.get(key_type, key_type))} call {label}.",
            )
            return key_type, False
        return key_type, True

    plane = getattr(target, "plane", "control")
    if key_type == "admin" and plane == "data":
        out.deny(
            "admin_key_on_data_plane",
            f"Admin API keys cannot make data-plane calls such as {label}; "
            "these need a Workspace API key (User or Service).",
        )
    else:
        allowed = " or ".join(
            KEY_TYPE_LABELS[k] for k in PREFERRED_KEY_TYPES if k in target.key_types
        )
        out.deny(
            "wrong_key_type",
            f"{label} does not accept "
            f"{with_article(KEY_TYPE_LABELS.get(key_type, key_type))} at all, "
            f"whatever its scopes; it needs {with_article(allowed)}.",
        )
    return key_type, False


def _check_workspace_id(
    target: Target,
    question: Question,
    key_type: str | None,
    key_type_ok: bool,
    out: _Builder,
) -> None:
    if key_type != "admin" or not key_type_ok or not target.admin_needs_workspace_id:
        return

    if question.workspace_id_passed is False:
        out.deny(
            "workspace_id_required",
            f"An Admin API key reaches workspace resources only when the request "
            f"names the workspace: {target.label} was sent without workspace_id.",
        )
    elif question.workspace_id_passed is None:
        out.unsure(
            "workspace_id_required",
            f"With an Admin API key, {target.label} must name the workspace "
            "with workspace_id; we do not know whether it did.",
            "whether workspace_id was sent",
        )


def _check_scopes(
    snapshot: Snapshot,
    target: Target,
    question: Question,
    key_type: str | None,
    key_type_ok: bool,
    out: _Builder,
) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
    """Returns the missing scopes per holdable alternative (fewest first) and
    the smallest set to add."""
    if not target.alternatives:
        return (), ()

    if key_type and key_type_ok:
        holdable = holdable_alternatives(snapshot, target, key_type)
    elif key_type is None:
        holdable = list(
            dict.fromkeys(
                alt
                for kt in PREFERRED_KEY_TYPES
                if kt in target.key_types
                for alt in holdable_alternatives(snapshot, target, kt)
            )
        )
    else:
        holdable = []

    held = question.scopes
    if held is None:
        best = cheapest_alternative(holdable)
        if key_type_ok:
            wanted = ", ".join(sorted(best or ()))
            out.unsure(
                "scopes_unknown",
                f"{target.label} needs {wanted or 'a scope this key cannot hold'}; "
                "check that the key has it.",
                "which scopes the key holds",
            )
        missing = tuple(tuple(sorted(alt)) for alt in sorted(holdable, key=len))
        return missing, tuple(sorted(best or ()))

    gaps = sorted((alt - held for alt in holdable), key=len)
    if any(not gap for gap in gaps):
        if is_ui_context(question.context) and (question.user_key_count or 0) > 1:
            out.unsure(
                "several_user_keys",
                "This User key has what the test needs, but the workspace has "
                f"{question.user_key_count} User keys and the web app may use any "
                "of them: each one needs the same scopes.",
                "whether every User key in the workspace has the scopes",
            )
        return (), ()

    missing = tuple(tuple(sorted(gap)) for gap in gaps)
    if not key_type_ok:
        return missing, ()

    best_gap = cheapest_alternative(holdable, held)
    scopes_to_add = tuple(sorted((best_gap or frozenset()) - held))
    needed = ", ".join(scopes_to_add)
    sibling = _list_read_sibling(held, frozenset(scopes_to_add))
    if is_ui_context(question.context) and UI_SCOPE in scopes_to_add:
        out.deny(
            "user_key_missing_completions_write",
            f"Your Workspace User API key lacks {UI_SCOPE}, which every test request "
            f"in {CONTEXT_NAMES[question.context or 'playground']} needs.",
        )
    elif sibling:
        out.deny(
            "list_read_mixup",
            f"The key has {sibling} but {target.label} needs {needed}: listing "
            "and reading are separate scopes, and one never implies the other.",
        )
    else:
        out.deny(
            "missing_scope",
            f"The key lacks {needed}, which {target.label} needs.",
        )
    return missing, scopes_to_add


def _check_plan(target: Target, question: Question, out: _Builder) -> None:
    if not target.enterprise_only:
        return

    if question.enterprise_plan is False:
        out.deny(
            "plan_restriction",
            f"{target.label} is only available on an Enterprise plan.",
        )
    elif question.enterprise_plan is None:
        out.unsure(
            "plan_restriction",
            f"{target.label} needs an Enterprise plan; we do not know your plan.",
            "whether the organisation is on an Enterprise plan",
        )


def _can_apply_fix(
    snapshot: Snapshot, role: str | None, key_type: str | None, verdict: Verdict
) -> bool | None:
    """Whether this role may create or edit keys of the type the fix needs."""
    if role is None or key_type is None or verdict == "allowed":
        return None
    info = snapshot.roles.get(role)
    if info is None:
        return None
    return key_type in info.can_create_key_types


def _fix_text(
    snapshot: Snapshot,
    target: Target,
    question: Question,
    verdict: Verdict,
    reasons: tuple[Reason, ...],
    scopes_to_add: tuple[str, ...],
    use_key_type: str | None,
    use_key_type_scopes: tuple[str, ...],
) -> tuple[str, tuple[str, ...]]:
    label = target.label
    codes = [reason.code for reason in reasons]
    steps: list[str] = []
    ui = is_ui_context(question.context)
    key_name = KEY_TYPE_LABELS.get(question.key_type or "", "API key")

    if verdict == "allowed":
        return (
            f"This key should be allowed to call {label}.",
            (
                "If the call still fails with AB03, work through the checks below: "
                "the gateway also answers AB03 when the resource is not in the "
                "key's workspace or an organisation security setting overrides "
                "the scopes.",
            ),
        )

    if "only_service_keys" in codes:
        scopes = ", ".join(_scope_where(snapshot, s) for s in use_key_type_scopes)
        steps.append(
            "Create a Workspace User API key in this workspace (API Keys page, "
            "Create, type User)."
        )
        if scopes:
            steps.append(f"Turn on {scopes} for the new key.")
        steps.append("Reload the page and send the test request again.")
        summary = "Create a Workspace User API key with completions.write."
    elif use_key_type and use_key_type != question.key_type:
        new_key = KEY_TYPE_LABELS[use_key_type]
        where = (
            "Admin Settings > API Keys"
            if use_key_type == "admin"
            else "the workspace's API Keys page"
        )
        steps.append(f"Create {with_article(new_key)} in {where}.")
        for scope in use_key_type_scopes:
            steps.append(f"Turn on {_scope_where(snapshot, scope)}.")
        if ui:
            steps.append(
                "Reload the page: the web app picks up your User key on the next "
                "test request."
            )
        else:
            steps.append(
                f"Send {label} with the new key in the x-portkey-api-key header."
            )
        scope_text = ", ".join(use_key_type_scopes)
        summary = f"Use {with_article(new_key)}" + (
            f" with {scope_text}." if scope_text else "."
        )
    else:
        summary_parts = []
        if "workspace_id_required" in codes:
            steps.append(
                "Name the workspace in the request: add workspace_id=<workspace ID "
                "or slug> to the query string for GET and DELETE, or a "
                '"workspace_id" field to the JSON body for POST and PUT.'
            )
            summary_parts.append("pass workspace_id")
        if scopes_to_add:
            which = "your Workspace User API key" if ui else f"the {key_name}"
            steps.append(f"Open {which} in the Portkey app and choose Edit.")
            for scope in scopes_to_add:
                steps.append(f"Turn on {_scope_where(snapshot, scope)}.")
            steps.append("Save the key and send the request again.")
            if question.scopes is None:
                summary_parts.append(
                    "make sure the key has " + " and ".join(scopes_to_add)
                )
            else:
                summary_parts.append("add " + ", ".join(scopes_to_add))
            if ui:
                steps.append(
                    "If the workspace has several User keys, give every one of them "
                    "the same scopes: the web app may use any of them."
                )
        if "plan_restriction" in codes:
            steps.append(
                f"{label} needs an Enterprise plan: ask your organisation owner to "
                "check the plan, or do this task in the web app instead."
            )
            summary_parts.append("check the plan")
        if "several_user_keys" in codes:
            steps.append(
                "Open every Workspace User API key in this workspace and turn on "
                f"{_scope_where(snapshot, UI_SCOPE)} (and any other scope the page "
                "needs) on each: the web app may send the test with any of them."
            )
            summary_parts.append("give every User key the same scopes")
        if not summary_parts and verdict == "unknown":
            steps.append(
                "Answer the open questions above (or check them yourself): the "
                "verdict depends on them."
            )
        summary = (
            (summary_parts[0][0].upper() + "; ".join(summary_parts)[1:] + ".")
            if summary_parts
            else f"Check the key used for {label}."
        )

    return summary, tuple(steps)
