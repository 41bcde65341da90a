"""The wizard's flow: which question to ask next for a scenario.

Pure functions over a snapshot and the answers so far. Each scenario asks only
the questions that can change its answer, in the order that narrows it fastest;
the first unanswered one is the current step, and when none is left the
wizard shows the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

from scopes.snapshot import EndpointInfo, OperationInfo, Snapshot
from troubleshooter.diagnosis import UI_CONTEXTS, Question, Target
from troubleshooter.paths import METHODS, normalise_path, template_fits
from troubleshooter.state import Answers

# The data areas each scenario lists in its endpoint step; "" means all.
SCENARIO_AREAS: dict[str, tuple[str, ...]] = {
    "completions": (),
    "admin_api": (),
    "logs": ("Logs", "Feedback", "Analytics", "Audit logs", "Logs exports"),
    "mcp": ("MCP servers", "MCP integrations", "MCP"),
    "something_else": (),
}
MODELS_ENDPOINT = ("GET", "/v1/models")
LOGS_WORDS = ("log", "feedback", "analytic", "audit")
MCP_WORDS = ("mcp",)
# The target step lists at most this many calls unless asked for all: the page
# must not grow with the reference data, and typing narrows the list anyway.
TARGET_LIST_LIMIT = 40
# Room for a pasted curl command, whose URL may come after its headers.
MAX_FIND_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class Step:
    """One question of the wizard."""

    name: str
    title: str
    help: str


STEPS = {
    "context": Step(
        "context",
        "Where did the request fail?",
        "The web app's test pages send requests with your own User key, so "
        "they follow different rules from calls made by your code.",
    ),
    "key_type": Step(
        "key_type",
        "Which kind of API key was used?",
        "Admin API keys are created in Admin Settings and work across the "
        "organisation. Workspace API keys belong to one workspace and are "
        "either User keys (tied to a person, needed by the web app) or "
        "Service keys (for backend code).",
    ),
    "user_keys": Step(
        "user_keys",
        "How many Workspace User API keys does this workspace have?",
        "Look at the workspace's API Keys page and count the keys of type "
        "User. The web app may pick any of them for a test request.",
    ),
    "target": Step(
        "target",
        "Which call failed?",
        "Pick the endpoint or task from the list, or type the method and path "
        "you called.",
    ),
    "workspace_id_sent": Step(
        "workspace_id_sent",
        "Did the request name the workspace with workspace_id?",
        "An Admin API key reaches prompts, configs, guardrails, providers, "
        "virtual keys, policies and workspace integrations only when the "
        "request says which workspace: workspace_id in the query string for "
        "GET and DELETE, or in the JSON body for POST and PUT.",
    ),
    "scopes": Step(
        "scopes",
        "Which of these scopes does the key have?",
        "Open the key in the Portkey app and compare its permissions with this "
        "list. Only the scopes that matter for this call are shown.",
    ),
    "plan": Step(
        "plan",
        "Is your organisation on an Enterprise plan?",
        "Some Admin API features, such as creating API keys through the API, "
        "are only available on Enterprise plans.",
    ),
}


def scenario_targets(snapshot: Snapshot, scenario: str) -> list[Target]:
    """The endpoints and operations a scenario offers in its list, most
    common first (the data's order within each area)."""
    endpoints = list(snapshot.endpoints)
    operations = list(snapshot.operations.values())

    if scenario == "completions":
        chosen: list[Target] = [e for e in endpoints if e.plane == "data"]
    elif scenario == "admin_api":
        chosen = [
            e
            for e in endpoints
            if e.plane == "control" and not _mentions(e, LOGS_WORDS + MCP_WORDS)
        ]
        chosen += [o for o in operations if not o.ui_only]
    elif scenario == "logs":
        chosen = [e for e in endpoints if _mentions(e, LOGS_WORDS)]
        chosen += [o for o in operations if _mentions(o, LOGS_WORDS)]
    elif scenario == "mcp":
        chosen = [e for e in endpoints if _mentions(e, MCP_WORDS)]
        chosen += [o for o in operations if _mentions(o, MCP_WORDS)]
    elif scenario == "playground":
        chosen = [o for o in operations if o.ui_only]
    else:
        chosen = [*endpoints, *operations]
    return chosen


@dataclass(frozen=True, slots=True)
class TargetList:
    """The calls a target step shows: those matching what was typed, cut to a
    limit unless every one was asked for."""

    shown: tuple[Target, ...]
    matching: int
    offered: int
    find: str

    @property
    def cut(self) -> bool:
        return len(self.shown) < self.matching


def find_targets(
    snapshot: Snapshot,
    scenario: str,
    find: str = "",
    limit: int | None = TARGET_LIST_LIMIT,
) -> TargetList:
    """The scenario's calls that match ``find``, best first.

    Every word must match: a method word matches that method, a word with a
    slash is read as a path or URL (``/v1/configs/pc-123`` matches
    ``GET /v1/configs/{slug}``), any other word must appear in the call's
    area, label or summary. Calls whose template fits a typed path come first.
    """
    offered = scenario_targets(snapshot, scenario)
    text = " ".join(find.split())[:MAX_FIND_LENGTH]
    words = _search_words(text)

    matching = [target for target in offered if _matches(target, words)]
    paths = [word for word in words if "/" in word]
    if paths:
        # A stable sort keeps the data's order among equally good matches.
        matching.sort(key=lambda target: not _fits_all(target, paths))

    shown = matching if limit is None else matching[:limit]
    return TargetList(tuple(shown), len(matching), len(offered), text)


def _search_words(text: str) -> list[str]:
    """The words to match. A pasted command (curl with its flags, headers and
    body) holds a full URL: then only that URL and any method word count."""
    words = [word.strip("'\"") for word in text.lower().split()]
    words = [word for word in words if word]
    if any("://" in word for word in words):
        words = [w for w in words if "://" in w or w.upper() in METHODS]
    return words


def _matches(target: Target, words: list[str]) -> bool:
    method = getattr(target, "method", None)
    path = getattr(target, "path", None)
    text = f"{target.area} {target.label} {target.summary}".lower()
    for word in words:
        if word.upper() in METHODS:
            if method != word.upper():
                return False
        elif "/" in word:
            if path is None:
                return False
            wanted = normalise_path(word).lower()
            if wanted not in path.lower() and not template_fits(target, word):
                return False
        elif word not in text:
            return False
    return True


def _fits_all(target: Target, paths: list[str]) -> bool:
    return hasattr(target, "path") and all(template_fits(target, p) for p in paths)


def _mentions(target: Target, words: tuple[str, ...]) -> bool:
    text = f"{target.area} {target.label}".lower()
    return any(word in text for word in words)


def fixed_answers(scenario: str, snapshot: Snapshot) -> dict[str, str]:
    """Answers a scenario implies, so it never asks them."""
    if scenario == "models":
        method, path = MODELS_ENDPOINT
        return {"method": method, "path": path, "context": "code"}
    if scenario in ("completions", "admin_api", "logs", "mcp"):
        return {"context": "code"}
    return {}


def resolve_target(snapshot: Snapshot, answers: Answers) -> Target | None:
    if answers.operation:
        return snapshot.operations.get(answers.operation)
    if answers.method and answers.path:
        return snapshot.endpoint(answers.method, answers.path)
    return None


def playground_target(snapshot: Snapshot, answers: Answers) -> Target | None:
    """A web-app test behaves like the page's own test operation."""
    slug = {
        "playground": "playground-test",
        "prompt_studio": "prompt-studio-test",
        "model_catalog": "model-catalog-test",
    }.get(answers.context or "", "playground-test")
    return snapshot.operations.get(slug)


def target_for(snapshot: Snapshot, scenario: str, answers: Answers) -> Target | None:
    target = resolve_target(snapshot, answers)
    if target is None and scenario == "playground":
        target = playground_target(snapshot, answers)
    return target


def next_step(snapshot: Snapshot, scenario: str, answers: Answers) -> Step | None:
    """The first question still unanswered, or ``None`` when the fix can be shown."""
    from troubleshooter.diagnosis import diagnose

    ui = scenario == "playground"
    if ui and answers.context is None:
        return STEPS["context"]
    if answers.key_type is None:
        return STEPS["key_type"]
    if ui and answers.user_keys is None:
        return STEPS["user_keys"]

    target = target_for(snapshot, scenario, answers)
    if target is None:
        # "I don't know which call" ends in the general checks, not a loop.
        return None if ui or answers.target_unknown else STEPS["target"]

    def verdict_now() -> str:
        return diagnose(snapshot, target, answers.to_question()).verdict

    # Skip questions whose answer cannot change a decided denial: an Admin key
    # on the data plane is wrong whatever scopes it holds.
    if _key_type_is_wrong(snapshot, target, answers):
        return None

    if (
        answers.key_type == "admin"
        and target.admin_needs_workspace_id
        and answers.workspace_id_sent is None
        and not ui
    ):
        return STEPS["workspace_id_sent"]
    if answers.workspace_id_sent == "no" and verdict_now() == "denied":
        return None
    if answers.scopes is None and not answers.scopes_unknown and target.alternatives:
        return STEPS["scopes"]
    if target.enterprise_only and answers.plan is None and verdict_now() != "denied":
        return STEPS["plan"]
    return None


def _key_type_is_wrong(snapshot: Snapshot, target: Target, answers: Answers) -> bool:
    from troubleshooter.diagnosis import diagnose

    question = Question(
        key_type=answers.to_question().key_type,
        context=answers.to_question().context,
        user_key_count=answers.to_question().user_key_count,
    )
    if question.key_type is None and question.user_key_count != 0:
        return False
    return not diagnose(snapshot, target, question).key_type_ok or (
        question.user_key_count == 0 and question.context in UI_CONTEXTS
    )


def relevant_scopes(
    snapshot: Snapshot, target: Target, key_type: str | None
) -> list[str]:
    """The scopes worth showing in the checklist: every scope of every
    alternative, plus the list/read twins people confuse them with, limited to
    what this key type can hold when we know it."""
    names: set[str] = set()
    for alternative in target.alternatives:
        names |= alternative
    for name in list(names):
        resource, _, action = name.partition(".")
        for twin in {"list": ("read",), "read": ("list",)}.get(action, ()):
            names.add(f"{resource}.{twin}")
        scope = snapshot.scopes.get(name)
        if scope and scope.legacy_twin:
            names.add(scope.legacy_twin)
    holdable = snapshot.scopes_for(key_type) if key_type in snapshot.key_types else None
    return sorted(
        name
        for name in names
        if name in snapshot.scopes
        and not snapshot.scopes[name].jwt_only
        and (holdable is None or name in holdable)
    )


def describe_target(target: Target) -> str:
    if isinstance(target, EndpointInfo):
        return f"{target.method} {target.path}"
    if isinstance(target, OperationInfo):
        return target.summary
    return ""
