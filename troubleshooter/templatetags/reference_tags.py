"""Links and labels for reference rows, so every template names a scope,
endpoint or task the same way and links it to the same stable page."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.urls import reverse

from scopes.snapshot import (
    CauseInfo,
    EndpointInfo,
    KeyTypeInfo,
    OperationInfo,
    ScopeInfo,
)
from troubleshooter.diagnosis import KEY_TYPE_LABELS

register = template.Library()

SHORT_KEY_TYPE = {
    "admin": "Admin",
    "workspace_service": "Service",
    "workspace_user": "User",
}
KEY_TYPE_ORDER = ("admin", "workspace_service", "workspace_user")


def endpoint_anchor(endpoint: EndpointInfo) -> str:
    """A fragment id such as ``POST-v1-integrations-slug``: readable, and unique
    across the shipped data (tests check it)."""
    parts = endpoint.path.strip("/").replace("{", "").replace("}", "").split("/")
    return "-".join([endpoint.method, *parts])


@register.filter
def anchor(item) -> str:
    if isinstance(item, EndpointInfo):
        return endpoint_anchor(item)
    if isinstance(item, OperationInfo):
        return f"task-{item.slug}"
    if isinstance(item, ScopeInfo):
        return item.name
    if isinstance(item, CauseInfo):
        return item.code
    if isinstance(item, KeyTypeInfo):
        return item.slug
    return ""


@register.filter
def ref_url(item) -> str:
    """The stable page of a reference row."""
    if isinstance(item, ScopeInfo):
        return reverse("reference:scope", args=[item.name])
    if isinstance(item, EndpointInfo):
        return reverse("reference:endpoint", args=[item.method, item.path[1:]])
    if isinstance(item, OperationInfo):
        return reverse("reference:operation", args=[item.slug])
    if isinstance(item, CauseInfo):
        return reverse("reference:causes") + "#" + item.code
    if isinstance(item, KeyTypeInfo):
        return reverse("reference:key-type", args=[item.slug])
    return ""


@register.filter(name="web_url")
def web_url_filter(value) -> str:
    """A staff-entered source URL, or "" unless it is http(s): never a
    javascript: link, even if one reaches the database past the admin."""
    from troubleshooter.security import web_url

    return web_url(value)


@register.filter
def scope_url(name: str) -> str:
    return reverse("reference:scope", args=[name])


@register.filter
def diagnose_url(item) -> str:
    """Where the wizard starts for this endpoint (or task)."""
    if isinstance(item, EndpointInfo):
        query = urlencode({"method": item.method, "path": item.path}, safe="/{}")
        return reverse("wizard:start") + "?" + query
    return reverse("home")


@register.filter
def key_type_label(slug: str) -> str:
    return KEY_TYPE_LABELS.get(slug, slug)


@register.filter
def short_key_types(slugs) -> list[str]:
    """Key types as short words in a fixed order: Admin, Service, User."""
    return [SHORT_KEY_TYPE[slug] for slug in KEY_TYPE_ORDER if slug in slugs]


@register.filter
def sorted_names(names) -> list[str]:
    return sorted(names)


@register.filter
def get_count(counts, name: str) -> int:
    return counts.get(name, 0)


@register.filter
def verdict_count(simulation, verdict: str) -> int:
    return simulation.count(verdict)


@register.filter(name="target_ref")
def target_ref_filter(target) -> str:
    from troubleshooter.keys import target_ref

    return target_ref(target)
