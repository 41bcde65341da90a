"""The wizard's pages: one GET view per step, the fix page, short links and
feedback. Each view reads the answers from the query string, asks the pure
flow (wizard.py) and engine (diagnosis.py) what to show, and renders it."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import parse_qsl, urlencode

from django.core import signing
from django.db import DatabaseError, IntegrityError
from django.http import Http404, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from scopes.services import current_snapshot
from scopes.snapshot import Snapshot
from troubleshooter import ratelimit
from troubleshooter.caching import cached_page
from troubleshooter.diagnosis import KEY_TYPE_LABELS, diagnose
from troubleshooter.masking import mask_secrets
from troubleshooter.models import Feedback, ShortLink
from troubleshooter.outage import refuse_writes_while_down, unavailable_page
from troubleshooter.paths import METHODS, match_endpoint, normalise_method
from troubleshooter.state import Answers, Parsed, parse_answers, to_query
from troubleshooter.ticket import (
    SUPPORT_EMAIL,
    TYPED_FIELDS,
    ticket_facts,
    ticket_markdown,
    ticket_plain,
    ticket_subject,
    walked_steps,
)
from troubleshooter.wizard import (
    MAX_FIND_LENGTH,
    TARGET_LIST_LIMIT,
    TargetList,
    find_targets,
    fixed_answers,
    next_step,
    relevant_scopes,
    target_for,
)

logger = logging.getLogger(__name__)

STEP_OPTIONS = {
    "context": [
        ("playground", "The Playground"),
        ("prompt_studio", "Prompt Studio"),
        ("model_catalog", "The Model Catalog"),
    ],
    "user_keys": [
        ("0", "None: the workspace only has Service keys"),
        ("1", "Exactly one"),
        ("2+", "Two or more"),
    ],
    "workspace_id_sent": [("yes", "Yes, it was sent"), ("no", "No, it was not")],
    "plan": [("enterprise", "Yes, Enterprise"), ("other", "No, another plan")],
}


def _answers_from(request, snapshot: Snapshot, scenario: str) -> Parsed:
    parsed = parse_answers(request.GET, snapshot)
    values = {"scenario": scenario, **fixed_answers(scenario, snapshot)}
    if parsed.answers.method and "method" in values:
        # The scenario fixes the endpoint; a different one in the URL is ignored.
        values.pop("method"), values.pop("path")
    return Parsed(parsed.answers.with_(**values), parsed.dropped)


def _render_region(request, template: str, context: dict, push_url: str | None = None):
    partial = request.htmx and not request.htmx.history_restore_request
    response = render(request, f"{template}#wizard" if partial else template, context)
    if partial and push_url:
        response["HX-Push-Url"] = push_url
    return response


def _hidden_pairs(answers: Answers, skip: str) -> list[tuple[str, str]]:
    keep = []
    for name, value in parse_qsl(to_query(answers)):
        if name == skip or (
            skip == "target" and name in ("method", "path", "operation")
        ):
            continue
        keep.append((name, value))
    return keep


def _previous_url(scenario: str, answers: Answers, current: str) -> str | None:
    """The URL of the step before this one: the same answers minus the last."""
    order = ["plan", "scopes", "workspace_id_sent", "target", "user_keys", "key_type"]
    fixed = fixed_answers(scenario, None)
    for name in order[order.index(current) + 1 if current in order else 0 :]:
        if name == "target":
            chosen = answers.operation or answers.target_unknown
            if chosen or (answers.method and "method" not in fixed):
                cleared = answers.with_(
                    method=None, path=None, operation=None, target_unknown=False
                )
                return _step_url(scenario, cleared)
            continue
        if name == "scopes":
            if answers.scopes is not None or answers.scopes_unknown:
                return _step_url(
                    scenario, answers.with_(scopes=None, scopes_unknown=False)
                )
            continue
        if getattr(answers, name) is not None and name not in fixed:
            return _step_url(scenario, answers.with_(**{name: None}))
    if answers.context and "context" not in fixed:
        return _step_url(scenario, answers.with_(context=None))
    return None


def _step_url(scenario: str, answers: Answers) -> str:
    query = to_query(answers.with_(scenario=None))
    url = reverse("wizard:step", args=[scenario])
    return f"{url}?{query}" if query else url


def _fix_url(answers: Answers) -> str:
    return reverse("wizard:fix") + "?" + to_query(answers)


@require_safe
@vary_on_headers("HX-Request", "HX-Target")
@cached_page
def step(request, scenario: str):
    snapshot = current_snapshot()
    info = snapshot.scenarios.get(scenario)
    if info is None:
        raise Http404("No such scenario")

    parsed = _answers_from(request, snapshot, scenario)
    answers = parsed.answers
    question = next_step(snapshot, scenario, answers)

    if question is None:
        url = _fix_url(answers)
        if request.htmx and not request.htmx.history_restore_request:
            return fix_response(request, snapshot, parsed, push_url=url)
        return redirect(url)

    hidden = _hidden_pairs(answers, question.name)
    context = {
        "scenario": info,
        "step": question,
        "answers": answers,
        "dropped": parsed.dropped,
        "hidden": hidden,
        "back_url": _previous_url(scenario, answers, question.name),
        "options": _options(snapshot, scenario, question.name, answers),
        "methods": METHODS,
    }
    if question.name == "target":
        find = request.GET.get("find", "")[:MAX_FIND_LENGTH]
        masked = mask_secrets(find)
        if masked.count and not request.htmx:
            # A pasted curl command may carry a key: keep it out of the
            # address bar and history (the browser masks it first with JS).
            return redirect(_with_find(request, masked.text))
        show_all = request.GET.get("show") == "all"
        context |= _target_choices(snapshot, scenario, hidden, masked.text, show_all)

        if request.htmx.target == "target-list":
            # Typing in the find box replaces the list alone.
            return render(request, "wizard/step.html#target-list", context)

    return _render_region(
        request, "wizard/step.html", context, push_url=_step_url(scenario, answers)
    )


def _with_find(request, find: str) -> str:
    query = request.GET.copy()
    query["find"] = find
    return f"{request.path}?{query.urlencode(safe='/,{}')}"


def _target_choices(
    snapshot: Snapshot, scenario: str, hidden: list, find: str, show_all: bool
) -> dict:
    """The calls the target step lists for what was typed, and its links."""
    limit = None if show_all else TARGET_LIST_LIMIT
    targets = find_targets(snapshot, scenario, find, limit=limit)
    return {
        "targets": targets,
        "options": _target_groups(targets),
        "show_all_url": _show_all_url(scenario, hidden, targets),
    }


def _target_groups(targets: TargetList) -> list[tuple[str, list]]:
    """The shown calls as radio choices grouped by area, areas in order."""
    groups: dict[str, list[tuple[str, str, str]]] = {}
    for target in targets.shown:
        value = (
            f"op:{target.slug}"
            if hasattr(target, "slug")
            else f"{target.method} {target.path}"
        )
        summary = target.summary if hasattr(target, "method") else ""
        groups.setdefault(target.area or "Other", []).append(
            (value, target.label, summary)
        )
    return sorted(groups.items())


def _show_all_url(scenario: str, hidden: list, targets: TargetList) -> str:
    pairs = [*hidden, ("find", targets.find), ("show", "all")]
    query = urlencode([(name, value) for name, value in pairs if value])
    return f"{reverse('wizard:step', args=[scenario])}?{query}"


def _options(snapshot: Snapshot, scenario: str, name: str, answers: Answers):
    if name == "key_type":
        return [
            (slug, info.name, info.purpose) for slug, info in snapshot.key_types.items()
        ]
    if name == "scopes":
        target = target_for(snapshot, scenario, answers)
        key_type = answers.to_question().key_type
        names = relevant_scopes(snapshot, target, key_type) if target else []
        return [(n, snapshot.scopes[n].description) for n in names]
    return [(value, label, "") for value, label in STEP_OPTIONS.get(name, [])]


@require_safe
@vary_on_headers("HX-Request")
@cached_page
def fix(request):
    snapshot = current_snapshot()
    parsed = parse_answers(request.GET, snapshot)
    return fix_response(request, snapshot, parsed)


def fix_response(request, snapshot: Snapshot, parsed: Parsed, push_url=None, link=None):
    answers = parsed.answers
    scenario_slug = answers.scenario or "something_else"
    scenario = snapshot.scenarios.get(scenario_slug)
    target = target_for(snapshot, scenario_slug, answers)
    if target is None and answers.target_unknown and scenario is not None:
        return general_checks(request, snapshot, scenario, parsed, push_url)
    if target is None:
        if link is None and scenario is not None:
            return redirect(_step_url(scenario_slug, answers))
        raise Http404("This fix link no longer matches our reference data.")

    question = answers.to_question()
    diagnosis = diagnose(snapshot, target, question)
    logger.info(
        "fix scenario=%s target=%s verdict=%s reasons=%s",
        scenario_slug,
        target.label,
        diagnosis.verdict,
        ",".join(r.code for r in diagnosis.reasons) or "-",
    )

    share_path = _fix_url(answers)
    walked = walked_steps(snapshot, answers)
    facts = ticket_facts(snapshot, answers, diagnosis)
    context = {
        "scenario": scenario,
        "answers": answers,
        "dropped": parsed.dropped,
        "target": target,
        "diagnosis": diagnosis,
        "decisive_cause": snapshot.causes.get(
            diagnosis.reasons[0].code if diagnosis.reasons else ""
        ),
        "check_next": [
            (reason, snapshot.causes.get(reason.code))
            for reason in diagnosis.check_next
        ],
        "key_type_label": KEY_TYPE_LABELS.get(question.key_type or "", "not known"),
        "use_key_type_label": KEY_TYPE_LABELS.get(diagnosis.use_key_type or "", ""),
        "share_url": request.build_absolute_uri(share_path),
        "walked": walked,
        "ticket_fields": TYPED_FIELDS,
        "ticket_plain": ticket_plain(facts, walked, diagnosis),
        "ticket_markdown": ticket_markdown(facts, walked, diagnosis),
        "ticket_subject": ticket_subject(diagnosis),
        "support_email": SUPPORT_EMAIL,
        "roles": snapshot.roles.values(),
        "role": snapshot.roles.get(question.role or ""),
        "role_hidden": _hidden_pairs(answers, "role"),
        "actions_url": reverse("wizard:fix-actions") + "?" + to_query(answers),
        "link": link,
        "link_is_stale": link is not None and link.data_version != snapshot.version,
        "back_url": (
            _previous_url(scenario_slug, answers, "") if scenario is not None else None
        ),
    }
    return _render_region(request, "wizard/fix.html", context, push_url=push_url)


def general_checks(request, snapshot: Snapshot, scenario, parsed: Parsed, push_url):
    """Without a known call, walk the checks that apply to every call, in
    order: key type, scopes, role, then the pitfalls of the scenario."""
    answers = parsed.answers
    key_type = snapshot.key_types.get(answers.to_question().key_type or "")
    causes = [snapshot.causes[c] for c in scenario.causes if c in snapshot.causes]
    context = {
        "scenario": scenario,
        "answers": answers,
        "dropped": parsed.dropped,
        "key_type": key_type,
        "key_types": snapshot.key_types.values(),
        "roles": snapshot.roles.values(),
        "causes": causes,
        "back_url": _previous_url(scenario.slug, answers, ""),
    }
    return _render_region(request, "wizard/general.html", context, push_url=push_url)


@require_safe
def start(request):
    """The home page's "start from the endpoint" form."""
    snapshot = current_snapshot()
    method = normalise_method(request.GET.get("method", "")) or "GET"
    path = (request.GET.get("path") or "").strip()[:2048]
    if not path:
        return redirect(reverse("wizard:step", args=["something_else"]))

    match = match_endpoint(snapshot, method, path)
    if match.endpoint is None:
        context = {
            "method": method,
            "path": match.normalised_path,
            "suggestions": [
                (label, _start_url(*label.split(" ", 1))) for label in match.suggestions
            ],
            "methods": METHODS,
        }
        return render(request, "wizard/no_match.html", context, status=404)

    endpoint = match.endpoint
    scenario = "completions" if endpoint.plane == "data" else "something_else"
    answers = Answers(method=endpoint.method, path=endpoint.path)
    return redirect(_step_url(scenario, answers))


PAGE_VIEW_SALT = "scope-doctor.feedback"


@require_safe
@never_cache
def fix_actions(request):
    """The fix page's forms, which carry per-visitor tokens: loaded by htmx
    into the page, or shown as their own page without JavaScript."""
    snapshot = current_snapshot()
    answers = parse_answers(request.GET, snapshot).answers
    query = to_query(answers)

    context = {
        "fix_url": _fix_url(answers),
        "answer_pairs": parse_qsl(query),
        # One token per page view: the answers it was shown for and a fresh id.
        "page_view": signing.dumps(
            {"q": query, "id": secrets.token_urlsafe(12)}, salt=PAGE_VIEW_SALT
        ),
    }
    template = "wizard/fix_actions.html"
    if request.htmx:
        template += "#actions"
    return render(request, template, context)


def _start_url(method: str, path: str) -> str:
    from urllib.parse import urlencode

    return reverse("wizard:start") + "?" + urlencode({"method": method, "path": path})


def _resent_answers(request) -> list[tuple[str, str]]:
    """The posted answers, to post again from a refusal page."""
    pairs = [
        (name, value[:2048])
        for name, values in request.POST.lists()
        if name != "csrfmiddlewaretoken"
        for value in values
    ]
    return pairs[:50]


def _short_link_refusal(request) -> dict:
    from urllib.parse import urlencode

    answers = _resent_answers(request)
    return {
        "message": "The short link was not made.",
        "resend": {
            "action": reverse("wizard:make-short-link"),
            "hidden": answers,
            "buttons": [("", "", "Make the short link")],
        },
        "back_url": reverse("wizard:fix") + "?" + urlencode(answers),
        "back_label": "Back to the fix: its long link works the same",
    }


def _short_link_unavailable(request) -> HttpResponse:
    return unavailable_page(request, context=_short_link_refusal(request))


@require_POST
@refuse_writes_while_down(_short_link_unavailable)
def make_short_link(request):
    snapshot = current_snapshot()
    parsed = parse_answers(request.POST, snapshot)
    if not parsed.answers.has_target and not parsed.answers.scenario:
        return HttpResponseBadRequest("Nothing to link to: answer the wizard first.")
    decision = ratelimit.hit(request, "short_link")
    if not decision.allowed:
        return ratelimit.refused_page(
            request, decision, context=_short_link_refusal(request)
        )

    query = to_query(parsed.answers)
    code = ShortLink.code_for(query)
    try:
        ShortLink.objects.get_or_create(
            code=code, defaults={"query": query, "data_version": snapshot.version}
        )
    except (IntegrityError, DatabaseError):
        logger.exception("could not store short link %s", code)
        return _short_link_unavailable(request)
    return redirect("wizard:short-link", code=code)


@require_safe
def short_link(request, code: str):
    snapshot = current_snapshot()
    link = get_object_or_404(ShortLink, code=code)
    parsed = parse_answers(QueryDict(link.query), snapshot)
    return fix_response(request, snapshot, parsed, link=link)


def _feedback_refusal(request) -> dict:
    return {
        "heading": "Did this fix it?",
        "heading_id": "feedback-heading",
        "message": "We have not recorded your answer.",
        "resend": {
            "action": reverse("wizard:feedback"),
            "hidden": [("page_view", request.POST.get("page_view", "")[:1000])],
            "buttons": [("fixed", "yes", "Yes"), ("fixed", "no", "No")],
        },
    }


def _feedback_template(request, template: str) -> str:
    # An htmx answer swaps into the page's feedback section.
    return f"{template}#refused" if request.htmx else template


def _feedback_unavailable(request) -> HttpResponse:
    template = _feedback_template(request, "503.html")
    return unavailable_page(request, template, _feedback_refusal(request))


@require_POST
@refuse_writes_while_down(_feedback_unavailable)
def feedback(request):
    try:
        view = signing.loads(
            request.POST.get("page_view", ""), salt=PAGE_VIEW_SALT, max_age=86400
        )
    except signing.BadSignature:
        return HttpResponseBadRequest(
            "This feedback form has expired; reload the page."
        )
    answer = request.POST.get("fixed")
    if answer not in ("yes", "no"):
        return HttpResponseBadRequest("Please answer Yes or No.")
    decision = ratelimit.hit(request, "feedback")
    if not decision.allowed:
        template = _feedback_template(request, "429.html")
        context = _feedback_refusal(request)
        return ratelimit.refused_page(request, decision, template, context)

    # The token carries only the answers; the verdict is worked out again, so
    # the counts staff see cannot be forged by editing the form.
    snapshot = current_snapshot()
    answers = parse_answers(QueryDict(str(view.get("q", ""))), snapshot).answers
    scenario = answers.scenario or "something_else"
    target = target_for(snapshot, scenario, answers)
    if target is None:
        return HttpResponseBadRequest("This feedback form no longer matches a fix.")
    diagnosis = diagnose(snapshot, target, answers.to_question())
    reasons = [reason.code for reason in diagnosis.reasons]

    _, created = Feedback.objects.get_or_create(
        page_view=str(view.get("id", ""))[:64],
        defaults={
            "scenario": scenario[:40],
            "verdict": diagnosis.verdict,
            "reason_codes": ",".join(reasons)[:300],
            "first_reason": (reasons[0] if reasons else "")[:60],
            "fixed": answer == "yes",
        },
    )
    context = {"fixed": answer == "yes", "already": not created}
    template = "wizard/feedback_thanks.html"
    if request.htmx:
        template += "#thanks"
    return render(request, template, context)
