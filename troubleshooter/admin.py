"""Staff views of what the wizard stores: feedback counts and short links."""

from django.contrib import admin
from django.db.models import Count, Q

from troubleshooter.models import Feedback, ShortLink
from troubleshooter.reference import admin as reference_admin  # noqa: F401 (registers)


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ("created_at", "scenario", "first_reason", "verdict", "fixed")
    list_filter = ("fixed", "scenario", "first_reason", "verdict")
    date_hierarchy = "created_at"
    readonly_fields = (
        "page_view",
        "scenario",
        "verdict",
        "reason_codes",
        "first_reason",
        "fixed",
        "created_at",
    )
    change_list_template = "admin/troubleshooter/feedback/change_list.html"

    def has_add_permission(self, request):
        # Feedback only ever comes from the fix page.
        return False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is None:
            return response

        # Counts per scenario and decisive cause, over the filtered rows.
        totals = (
            changelist.queryset.order_by()
            .values("scenario", "first_reason")
            .annotate(
                answers=Count("id"),
                fixed_count=Count("id", filter=Q(fixed=True)),
            )
            .order_by("-answers", "scenario", "first_reason")
        )
        response.context_data["feedback_totals"] = totals
        return response


@admin.register(ShortLink)
class ShortLinkAdmin(admin.ModelAdmin):
    list_display = ("code", "query", "data_version", "created_at")
    search_fields = ("code", "query")
    readonly_fields = ("code", "query", "data_version", "created_at")

    def has_add_permission(self, request):
        return False
