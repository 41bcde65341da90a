"""Staff review of mistake reports: read what was reported, follow the link to
the row, and move the report through new, confirmed, fixed or rejected."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from scopes.models import Endpoint, Operation, Scope
from troubleshooter.models import MistakeReport
from troubleshooter.security import web_url


def _row(report: MistakeReport):
    """The reference row a report names, if it still exists."""
    if report.kind == MistakeReport.Kind.SCOPE:
        return Scope.objects.filter(name=report.key).first()
    if report.kind == MistakeReport.Kind.ENDPOINT:
        method, _, path = report.key.partition(" ")
        return Endpoint.objects.filter(method=method, path=path).first()
    if report.kind == MistakeReport.Kind.OPERATION:
        return Operation.objects.filter(slug=report.key).first()
    return None


def _public_url(report: MistakeReport) -> str | None:
    try:
        if report.kind == MistakeReport.Kind.SCOPE:
            return reverse("reference:scope", args=[report.key])
        if report.kind == MistakeReport.Kind.ENDPOINT:
            method, _, path = report.key.partition(" ")
            return reverse("reference:endpoint", args=[method, path.lstrip("/")])
        if report.kind == MistakeReport.Kind.OPERATION:
            return reverse("reference:operation", args=[report.key])
    except NoReverseMatch:
        return None
    return None


def _set_status(status: str, label: str):
    @admin.action(description=f"Mark as {label}", permissions=["change"])
    def action(modeladmin, request, queryset):
        changed = queryset.exclude(status=status).update(status=status)
        modeladmin.message_user(
            request, f"{changed} report(s) marked as {label}.", messages.SUCCESS
        )

    action.__name__ = f"mark_{status}"
    return action


@admin.register(MistakeReport)
class MistakeReportAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "key", "status", "short_message")
    list_filter = ("status", "kind")
    search_fields = ("key", "message")
    date_hierarchy = "created_at"
    fields = (
        "kind",
        "key",
        "row_links",
        "message",
        "source_link",
        "data_version",
        "created_at",
        "updated_at",
        "status",
        "staff_note",
    )
    readonly_fields = (
        "kind",
        "key",
        "row_links",
        "message",
        "source_link",
        "data_version",
        "created_at",
        "updated_at",
    )
    actions = [
        _set_status("confirmed", "confirmed"),
        _set_status("fixed", "fixed"),
        _set_status("rejected", "rejected"),
    ]

    def has_add_permission(self, request):
        # Reports only ever come from the public form.
        return False

    @admin.display(description="message")
    def short_message(self, report: MistakeReport) -> str:
        text = " ".join(report.message.split())
        return text if len(text) <= 80 else text[:79] + "…"

    @admin.display(description="source")
    def source_link(self, report: MistakeReport) -> str:
        if not web_url(report.source_url):
            return report.source_url or "—"
        return format_html(
            '<a href="{}" rel="noopener noreferrer">{}</a>',
            report.source_url,
            report.source_url,
        )

    @admin.display(description="the row")
    def row_links(self, report: MistakeReport) -> str:
        """Links to the row in the admin (to fix it) and on the site."""
        row = _row(report)
        public = _public_url(report)
        parts = []
        if row is not None:
            meta = row._meta
            edit = reverse(
                f"admin:{meta.app_label}_{meta.model_name}_change", args=[row.pk]
            )
            parts.append(
                format_html('<a href="{}">Edit {} in the admin</a>', edit, row)
            )
        else:
            parts.append(format_html("{}", "The row no longer exists."))
        if public is not None and row is not None:
            parts.append(format_html('<a href="{}">See it on the site</a>', public))
        return format_html(" · ".join(["{}"] * len(parts)), *parts)
