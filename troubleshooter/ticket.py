"""The support ticket: what the wizard already knows, in words support can act on.

Only answers go in here. The fields a person types (workspace ID, trace ID,
error body) are filled in by the browser and never reach the server.
"""

from __future__ import annotations

from scopes.snapshot import Snapshot
from troubleshooter.diagnosis import CONTEXT_NAMES, KEY_TYPE_LABELS, Diagnosis
from troubleshooter.state import UNKNOWN, Answers

SUPPORT_EMAIL = "support@portkey.ai"


def walked_steps(snapshot: Snapshot, answers: Answers) -> list[str]:
    """The checks the wizard walked, as lines for "steps already tried"."""
    lines = []
    if answers.context and answers.context != UNKNOWN:
        lines.append(f"Confirmed where it fails: {CONTEXT_NAMES[answers.context]}.")
    if answers.key_type and answers.key_type != UNKNOWN:
        lines.append(f"Checked the key type: {KEY_TYPE_LABELS[answers.key_type]}.")
    if answers.user_keys and answers.user_keys != UNKNOWN:
        lines.append(f"Counted the workspace's User API keys: {answers.user_keys}.")
    if answers.workspace_id_sent in ("yes", "no"):
        lines.append(
            f"Checked whether workspace_id was sent: {answers.workspace_id_sent}."
        )
    if answers.scopes is not None:
        held = ", ".join(sorted(answers.scopes)) or "none of the listed scopes"
        lines.append(f"Compared the key's scopes with the requirement (held: {held}).")
    if answers.plan and answers.plan != UNKNOWN:
        lines.append(f"Checked the plan: {answers.plan}.")
    return lines


def ticket_facts(
    snapshot: Snapshot, answers: Answers, diagnosis: Diagnosis
) -> list[tuple[str, str]]:
    """The label/value pairs the wizard can fill in by itself."""
    target = diagnosis.target
    key_type = answers.to_question().key_type
    held = (
        "not known"
        if answers.scopes is None
        else ", ".join(sorted(answers.scopes)) or "none"
    )
    required = (
        " OR ".join("(" + " AND ".join(alt) + ")" for alt in diagnosis.required)
        or "no scope"
    )
    return [
        ("Endpoint called", target.label),
        ("API key type", KEY_TYPE_LABELS.get(key_type or "", "not known")),
        ("Scopes held", held),
        ("Scopes required", required),
        ("Scope Doctor verdict", f"{diagnosis.verdict}: {diagnosis.fix_summary}"),
    ]


# What the person types, keyed by field name, with the placeholder the ticket
# shows until they do. The browser swaps placeholders for (masked) values.
TYPED_FIELDS = (
    ("workspace_id", "Workspace ID", "[workspace ID]"),
    ("trace_id", "x-portkey-trace-id response header", "[x-portkey-trace-id]"),
    ("request_id", "Request ID, if one was shown", "[request ID, if shown]"),
    ("error_body", "Full error response", "[paste the full error response]"),
    ("tried", "Anything else you tried", "[anything else you tried]"),
)


def ticket_subject(diagnosis: Diagnosis) -> str:
    return f"403 AB03 on {diagnosis.target.label}"


def ticket_plain(
    facts: list[tuple[str, str]], walked: list[str], diagnosis: Diagnosis
) -> str:
    placeholders = {name: placeholder for name, _, placeholder in TYPED_FIELDS}
    lines = [
        f"Subject: {ticket_subject(diagnosis)}",
        "",
        "Hello Portkey support,",
        "",
        "A request fails with 403 AB03 (not enough permissions). Details:",
        "",
        f"Workspace ID: {placeholders['workspace_id']}",
        *(f"{label}: {value}" for label, value in facts),
        f"x-portkey-trace-id: {placeholders['trace_id']}",
        f"Request ID: {placeholders['request_id']}",
        "",
        "Full error response:",
        placeholders["error_body"],
        "",
        "Steps already tried:",
        *(f"- {line}" for line in walked),
        f"- {placeholders['tried']}",
    ]
    return "\n".join(lines)


def ticket_markdown(
    facts: list[tuple[str, str]], walked: list[str], diagnosis: Diagnosis
) -> str:
    placeholders = {name: placeholder for name, _, placeholder in TYPED_FIELDS}
    lines = [
        f"### {ticket_subject(diagnosis)}",
        "",
        "A request fails with **403 AB03** (not enough permissions).",
        "",
        "| Detail | Value |",
        "|---|---|",
        f"| Workspace ID | {placeholders['workspace_id']} |",
        *(f"| {label} | `{value}` |" for label, value in facts),
        f"| x-portkey-trace-id | {placeholders['trace_id']} |",
        f"| Request ID | {placeholders['request_id']} |",
        "",
        "**Full error response**",
        "",
        "```json",
        placeholders["error_body"],
        "```",
        "",
        "**Steps already tried**",
        "",
        *(f"- {line}" for line in walked),
        f"- {placeholders['tried']}",
    ]
    return "\n".join(lines)
