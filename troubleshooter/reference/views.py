"""Thin views over the snapshot: the reference pages, search, the key
simulator and builder, and the "report a mistake" form.

Every GET page reads the reference data through ``current_snapshot()`` only,
so a warm page costs the one data-version query (search on PostgreSQL adds its
one full-text query).
"""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from scopes.services import current_snapshot
from scopes.snapshot import KEY_TYPE_SLUGS, Snapshot
from troubleshooter import ratelimit
from troubleshooter import search as searching
from troubleshooter.caching import cached_page
from troubleshooter.diagnosis import KEY_TYPE_LABELS
from troubleshooter.keys import (
    CREATED_IN,
    all_targets,
    checklist,
    plan_keys,
    simulate,
    targets_by_area,
)
from troubleshooter.masking import mask_secrets
from troubleshooter.models import MistakeReport
from troubleshooter.outage import (
    DATABASE_DOWN,
    refuse_writes_while_down,
    unavailable_page,
)
from troubleshooter.paths import match_endpoint
from troubleshooter.reference import catalogue
from troubleshooter.reference.forms import MistakeReportForm
from troubleshooter.reference.fragments import rendered_once
from troubleshooter.reference.params import (
    PLAN_CHOICES,
    SimulatorState,
    read_builder,
    read_simulator,
)
from troubleshooter.templatetags.reference_tags import ref_url

logger = logging.getLogger(__name__)


def _partial(request) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


# -- Reference pages --------------------------------------------------------


@require_safe
@cached_page
def index(request):
    snapshot = current_snapshot()
    context = {
        "key_types": snapshot.key_types.values(),
        "scope_count": len(snapshot.scopes),
        "endpoint_count": len(snapshot.endpoints),
        "task_count": len(snapshot.operations),
        "cause_count": len(snapshot.causes),
    }
    return render(request, "reference/index.html", context)


def _scope_tables(snapshot: Snapshot, key_type: str | None = None) -> str:
    names = snapshot.scopes_for(key_type) if key_type else None
    return rendered_once(
        snapshot,
        f"scope-tables:{key_type or 'all'}",
        "reference/_scope_groups.html",
        lambda: {
            "groups": catalogue.scopes_by_group(snapshot, names),
            "counts": catalogue.use_counts(snapshot),
        },
    )


@require_safe
@cached_page
def scopes(request):
    snapshot = current_snapshot()
    context = {
        "scope_tables": _scope_tables(snapshot),
        "key_types": snapshot.key_types.values(),
    }
    return render(request, "reference/scopes.html", context)


@require_safe
def key_type(request, slug: str):
    snapshot = current_snapshot()
    info = snapshot.key_types.get(slug)
    if info is None:
        raise Http404("No such key type")

    context = {
        "key_type": info,
        "scope_tables": _scope_tables(snapshot, slug),
        "scope_count": len(snapshot.scopes_for(slug)),
        "created_in": CREATED_IN[slug],
        "other_key_types": [kt for kt in snapshot.key_types.values() if kt != info],
    }
    return render(request, "reference/key_type.html", context)


def _scope_context(snapshot: Snapshot, name: str) -> dict:
    scope = snapshot.scopes.get(name)
    if scope is None:
        raise Http404("No such scope")
    return {
        "scope": scope,
        "uses": catalogue.uses_of(snapshot, name),
        "report_kind": MistakeReport.Kind.SCOPE,
        "report_key": name,
        "template": "reference/scope.html",
    }


@require_safe
def scope(request, name: str):
    snapshot = current_snapshot()
    context = _scope_context(snapshot, name)
    return _row_page(request, context)


@require_safe
@cached_page
def endpoints(request):
    snapshot = current_snapshot()
    chosen = catalogue.read_matrix_filter(request.GET, snapshot)
    kept_endpoints = [e for e in snapshot.endpoints if chosen.keeps(e)]
    kept_tasks = [
        op
        for op in snapshot.operations.values()
        if chosen.keeps(op) and not chosen.plane
    ]

    def tables() -> dict:
        return {
            "endpoint_areas": targets_by_area(kept_endpoints),
            "task_areas": targets_by_area(kept_tasks),
        }

    if chosen.active:
        matrix = render_to_string("reference/_matrix.html", tables())
    else:
        matrix = rendered_once(snapshot, "matrix", "reference/_matrix.html", tables)
    context = {
        "filter": chosen,
        "matrix": matrix,
        "shown": len(kept_endpoints) + len(kept_tasks),
        "total": len(snapshot.endpoints) + len(snapshot.operations),
        "areas": catalogue.areas(snapshot),
        "key_type_choices": [(s, KEY_TYPE_LABELS[s]) for s in KEY_TYPE_SLUGS],
    }
    return render(request, "reference/endpoints.html", context)


def _endpoint_context(snapshot: Snapshot, method: str, path: str) -> dict:
    endpoint = snapshot.endpoint(method, path)
    if endpoint is None:
        raise Http404("No such endpoint")
    return {
        "endpoint": endpoint,
        "target": endpoint,
        "report_kind": MistakeReport.Kind.ENDPOINT,
        "report_key": endpoint.label,
        "template": "reference/endpoint.html",
    }


@require_safe
def endpoint(request, method: str, path: str):
    snapshot = current_snapshot()
    wanted = "/" + path.strip("/")
    if snapshot.endpoint(method, wanted) is None:
        # A concrete path (/v1/integrations/openai) or a lower-case method
        # finds its template's page.
        match = match_endpoint(snapshot, method, wanted)
        if match.endpoint is None:
            raise Http404("No such endpoint")
        return redirect(ref_url(match.endpoint), permanent=True)

    context = _endpoint_context(snapshot, method, wanted)
    return _row_page(request, context)


def _operation_context(snapshot: Snapshot, slug: str) -> dict:
    operation = snapshot.operations.get(slug)
    if operation is None:
        raise Http404("No such task")
    return {
        "operation": operation,
        "target": operation,
        "report_kind": MistakeReport.Kind.OPERATION,
        "report_key": slug,
        "template": "reference/operation.html",
    }


@require_safe
def operation(request, slug: str):
    snapshot = current_snapshot()
    context = _operation_context(snapshot, slug)
    return _row_page(request, context)


@require_safe
@cached_page
def causes(request):
    snapshot = current_snapshot()
    context = {"causes": sorted(snapshot.causes.values(), key=lambda c: c.title)}
    return render(request, "reference/causes.html", context)


def _row_page(request, context: dict, form=None, status: int = 200):
    context = {
        **context,
        "form": form or MistakeReportForm(),
        "reported": request.GET.get("reported") == "1",
    }
    return render(request, context["template"], context, status=status)


# -- Report a mistake -------------------------------------------------------


def _row_context(snapshot: Snapshot, kind: str, key: str) -> dict | None:
    try:
        if kind == MistakeReport.Kind.SCOPE:
            return _scope_context(snapshot, key)
        if kind == MistakeReport.Kind.ENDPOINT:
            method, _, path = key.partition(" ")
            return _endpoint_context(snapshot, method, path)
        if kind == MistakeReport.Kind.OPERATION:
            return _operation_context(snapshot, key)
    except Http404:
        return None
    return None


def _report_unavailable(request):
    form = MistakeReportForm(request.POST)
    try:
        context = _row_context(
            current_snapshot(),
            request.POST.get("kind", "")[:20],
            request.POST.get("key", "")[:300],
        )
    except DATABASE_DOWN:
        context = None
    if context is None:
        kept = [("Your report", request.POST.get("message", ""))]
        return unavailable_page(request, context={"kept": kept})

    form.add_error(
        None,
        "We could not save your report just now: our database is unavailable. "
        "Your text is kept below; send it again in a minute.",
    )
    return _row_page(request, context, form=form, status=503)


@require_POST
@refuse_writes_while_down(_report_unavailable)
def report_mistake(request):
    snapshot = current_snapshot()
    kind = request.POST.get("kind", "")[:20]
    key = request.POST.get("key", "")[:300]
    form = MistakeReportForm(request.POST)
    context = _row_context(snapshot, kind, key)
    if context is None:
        return render(request, "reference/report_gone.html", {"form": form}, status=400)

    decision = ratelimit.peek(request, "report")
    if not decision.allowed:
        return _too_many(request, form, context, decision)
    if not form.is_valid():
        return _row_page(request, context, form=form, status=400)
    decision = ratelimit.hit(request, "report")
    if not decision.allowed:
        return _too_many(request, form, context, decision)

    report = form.save(commit=False)
    report.kind, report.key = kind, key
    report.message = mask_secrets(report.message).text
    report.data_version = snapshot.version
    report.save()
    logger.info("mistake report %s on %s %s", report.pk, kind, key)

    url = ref_url(context.get("scope") or context.get("target"))
    return redirect(f"{url}?reported=1#report")


def _too_many(request, form, context: dict, decision: ratelimit.Decision):
    form.add_error(
        None,
        "Please wait before sending another report: we take "
        f"{decision.limit.in_words} from one address. Send this one in "
        f"{decision.retry_in_words}; your text is kept below.",
    )
    response = _row_page(request, context, form=form, status=429)
    return ratelimit.with_retry_after(response, decision)


# -- Search -----------------------------------------------------------------


@require_safe
@vary_on_headers("HX-Request")
@cached_page
def search(request):
    snapshot = current_snapshot()
    query = " ".join(request.GET.get("q", "").split())[: searching.MAX_QUERY]

    results = None
    if query:
        try:
            results = searching.search(snapshot, query)
        except DatabaseError:
            logger.exception("full-text search failed; using the in-memory search")
            results = searching.search(snapshot, query, backend="memory")

    context = {"q": query, "results": results}
    template = "reference/search.html"
    if _partial(request):
        template += "#results"
    return render(request, template, context)


# -- Key simulator and builder ----------------------------------------------


@require_safe
@cached_page
def simulator(request):
    snapshot = current_snapshot()
    state = read_simulator(request.GET, snapshot)

    simulation = shown = None
    if state.key_type:
        simulation = simulate(
            snapshot,
            state.key_type,
            state.scopes,
            workspace_id_passed=state.workspace_id_passed,
            enterprise_plan=state.enterprise_plan,
        )
        shown = simulation if state.show == "all" else simulation.only((state.show,))

    holdable = snapshot.scopes_for(state.key_type) if state.key_type else None
    context = {
        "state": state,
        "simulation": simulation,
        "shown": shown,
        "share_url": _share_url(request, "reference:simulator", state.query()),
        "filter_urls": _filter_urls(state),
        "key_types": snapshot.key_types.values(),
        "scope_groups": catalogue.scopes_by_group(snapshot, holdable),
        "plan_choices": list(PLAN_CHOICES),
    }
    return render(request, "reference/simulator.html", context)


def _filter_urls(state: SimulatorState) -> list[tuple[str, str, bool]]:
    base = reverse("reference:simulator")
    labels = (
        ("all", "Everything"),
        ("denied", "Denied only"),
        ("allowed", "Allowed only"),
    )
    return [
        (label, f"{base}?{state.query(show=value)}", state.show == value)
        for value, label in labels
    ]


def _share_url(request, name: str, query: str) -> str:
    return request.build_absolute_uri(reverse(name) + (f"?{query}" if query else ""))


@require_safe
@cached_page
def builder(request):
    snapshot = current_snapshot()
    state = read_builder(request.GET, snapshot)

    plan = plan_keys(snapshot, state.targets) if state.targets else None
    planned = []
    for key in plan.keys if plan else ():
        rows = [(name, snapshot.scopes[name].enabled_at) for name in key.scopes]
        check = SimulatorState(key_type=key.key_type, scopes=frozenset(key.scopes))
        planned.append(
            (key, rows, reverse("reference:simulator") + "?" + check.query())
        )

    context = {
        "state": state,
        "plan": plan,
        "planned": planned,
        "checklist": checklist(snapshot, plan) if plan else "",
        "share_url": _share_url(request, "reference:builder", state.query()),
        "choices": targets_by_area(all_targets(snapshot)),
        "chosen": set(state.targets),
        "chosen_areas": set(state.areas),
    }
    return render(request, "reference/builder.html", context)
