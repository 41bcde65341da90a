"""Staff editing of the reference data, with full history and revert.

Every model uses SimpleHistoryAdmin, so each object has a History page that
says who changed what and when, and can put an older version back. Forms
refuse an edit that would break the integrity rule (every scope a
requirement names must be holdable by a key type it accepts) and keep what
the person typed. Changelists prefetch their many-to-many columns so they run
the same number of queries for ten rows or a hundred.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from simple_history.admin import SimpleHistoryAdmin
from simple_history.manager import SIMPLE_HISTORY_REVERSE_ATTR_NAME

from scopes.models import (
    Cause,
    DataVersion,
    Endpoint,
    ErrorCode,
    KeyType,
    Operation,
    Role,
    RoleStatement,
    Scenario,
    ScenarioCause,
    Scope,
    ScopeAlternative,
)
from scopes.referencefile import unholdable_scopes
from scopes.revert import alternatives_in_version, restore_alternatives, scopes_of
from scopes.signals import one_version_bump

admin.site.site_header = "Scope Doctor reference data"
admin.site.site_title = "Scope Doctor admin"
admin.site.index_title = "Reference data"


# -- The integrity rule, over the database ----------------------------------


def scope_holders(
    scopes: Iterable[Scope],
) -> tuple[dict[str, set[str]], set[str]]:
    """Which key types hold each scope, and which scopes are JWT-only (1 query)."""
    scopes = list(scopes)
    holders: dict[str, set[str]] = {scope.name: set() for scope in scopes}
    through = Scope.key_types.through.objects.filter(scope__in=scopes)
    for name, slug in through.values_list("scope__name", "keytype__slug"):
        holders[name].add(slug)
    return holders, {scope.name for scope in scopes if scope.jwt_only}


def integrity_message(label: str, allowed: Iterable[str], stranded: list[str]) -> str:
    accepted = ", ".join(sorted(allowed)) or "no key type"
    return (
        f"{label} accepts {accepted}, and none of them can hold "
        f"{', '.join(stranded)}. Allow a key type that holds it, or change "
        "the alternatives."
    )


def check_requirement(
    label: str, allowed: Iterable[str], alternatives: list[list[Scope]]
) -> None:
    """Raise ValidationError if the requirement breaks the integrity rule."""
    allowed = set(allowed)
    holders, jwt_only = scope_holders(scope for alt in alternatives for scope in alt)
    names = [[scope.name for scope in alt] for alt in alternatives]
    stranded = unholdable_scopes(names, allowed, holders, jwt_only)
    if stranded:
        raise ValidationError(integrity_message(label, allowed, stranded))


def saved_alternatives(owner: Endpoint | Operation) -> list[list[Scope]]:
    if owner.pk is None:
        return []
    return [
        list(alternative.scopes.all())
        for alternative in owner.alternatives.prefetch_related("scopes")
    ]


# -- Shared pieces ----------------------------------------------------------


class KeyTypeCheckboxes(forms.CheckboxSelectMultiple):
    """Three key types read better as ticks than as a multi-select list."""


def key_type_names(key_types: Iterable[KeyType]) -> str:
    return ", ".join(kt.slug for kt in key_types) or "-"


def newest_change(instance: Any):
    """The newest history record of a saved object, or None: it changes with
    every save, whoever made it and however (form, revert, load_reference)."""
    if instance.pk is None:
        return None
    return (
        type(instance)
        .history.filter(**{instance._meta.pk.attname: instance.pk})
        .select_related("history_user")
        .order_by("-history_id")
        .first()
    )


def change_mark(instance: Any) -> int | None:
    """What a form remembers of the version it was opened at: the newest
    history record's id, 0 for an object with no history yet (loaded without
    it), None for an object not saved yet."""
    if instance.pk is None:
        return None
    newest = newest_change(instance)
    return newest.history_id if newest else 0


class HistoryForm(forms.ModelForm):
    """Two things every reference form needs.

    A save that would overwrite someone else's newer one is refused: the form
    remembers the version it was opened at, and the person sees their own
    text again next to a note of who saved what in between, then saves again
    to replace it knowingly. Without this the later of two staff members
    editing one object would silently undo the earlier one's acknowledged
    save.

    On a history revert page, many-to-many fields show the old version:
    simple-history stores many-to-many rows with each version but fills the
    revert form from the live object, which would silently keep today's key
    types and scopes; this puts the recorded ones in front of the person.
    """

    opened_at = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["opened_at"].initial = change_mark(self.instance)

        record = getattr(self.instance, SIMPLE_HISTORY_REVERSE_ATTR_NAME, None)
        if record is None:
            return
        for field in record._history_m2m_fields:
            if field.name in self.fields:
                target = f"{field.m2m_reverse_field_name()}_id"
                rows = getattr(record, field.name).all()
                self.initial[field.name] = [getattr(row, target) for row in rows]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        opened_at = cleaned.get("opened_at")
        if opened_at is None or self.instance.pk is None:
            return cleaned

        if transaction.get_connection().in_atomic_block:
            # Two saves of one object wait for each other here (PostgreSQL), so
            # the second sees the first's history record.
            type(self.instance).objects.select_for_update().filter(
                pk=self.instance.pk
            ).exists()
        newest = newest_change(self.instance)
        if newest is None or newest.history_id == opened_at:
            return cleaned

        # Shown again at the newest version: saving once more replaces it.
        self.data = self.data.copy()
        self.data[self.add_prefix("opened_at")] = str(newest.history_id)
        raise ValidationError(self.collision_message(newest))

    def collision_message(self, newest) -> str:
        who = newest.history_user.get_username() if newest.history_user else None
        when = newest.history_date.strftime("%Y-%m-%d %H:%M UTC")
        return (
            f"This {self._meta.model._meta.verbose_name} was saved again "
            f"{f'by {who} ' if who else ''}at {when}, after you opened it, so "
            "your changes were not saved. They are still in the form below: "
            "compare them with its History, then save again to replace that "
            "version."
        )


class HistoryAdmin(SimpleHistoryAdmin):
    """Key types as checkboxes; deletes refused while rows still use the object."""

    form = HistoryForm
    checkbox_fields: tuple[str, ...] = ()

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # simple-history checks only the view permission here, even to save a
        # revert; saving must need the change permission like any edit.
        if request.method == "POST" and not self.has_change_permission(request):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_fieldsets(self, request, obj=None):
        # Forms that name their fields would leave out the version the form
        # was opened at, and with it the check against overwriting.
        fieldsets = list(super().get_fieldsets(request, obj))
        named = flatten_fieldsets(fieldsets)
        if issubclass(self.form, HistoryForm) and "opened_at" not in named:
            title, options = fieldsets[-1]
            fields = (*options["fields"], "opened_at")
            fieldsets[-1] = (title, {**options, "fields": fields})
        return fieldsets

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name in self.checkbox_fields:
            kwargs["widget"] = KeyTypeCheckboxes
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def uses_that_block_delete(self, objs: Iterable[Any]) -> list[str]:
        return []

    def get_deleted_objects(self, objs, request):
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(
            objs, request
        )
        protected = [*protected, *self.uses_that_block_delete(objs)]
        return to_delete, model_count, perms_needed, protected


# -- Key types and scopes ---------------------------------------------------


@admin.register(KeyType)
class KeyTypeAdmin(HistoryAdmin):
    list_display = (
        "name",
        "slug",
        "family",
        "can_call_data_plane",
        "can_run_ui_tests",
        "can_manage_api_keys",
    )
    list_filter = ("family", "can_call_data_plane", "can_run_ui_tests")
    search_fields = ("slug", "name", "purpose", "facts")
    prepopulated_fields = {"slug": ("name",)}

    def uses_that_block_delete(self, objs):
        # Deleting a key type would silently strip it from every scope and
        # endpoint that names it, which can strand their requirements.
        blocked = []
        for kt in objs:
            uses = kt.scopes.count() + kt.endpoints.count() + kt.operations.count()
            if uses:
                blocked.append(f"{kt}: still named by {uses} scopes and requirements")
        return blocked


class ScopeForm(HistoryForm):
    class Meta:
        model = Scope
        fields = (
            "name",
            "description",
            "group",
            "key_types",
            "enabled_at",
            "legacy_twin",
            "introduced_in",
            "jwt_only",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        key_types = cleaned.get("key_types")
        if key_types is None:
            return cleaned

        slugs = {kt.slug for kt in key_types}
        if cleaned.get("jwt_only") and slugs:
            self.add_error(
                "key_types", "A JWT-only scope is carried by tokens, not by keys."
            )
        elif not cleaned.get("jwt_only") and not slugs:
            self.add_error(
                "key_types", "Tick at least one key type, or mark the scope JWT-only."
            )
        elif self.instance.pk is not None and not cleaned.get("jwt_only"):
            self._check_requirements_still_met(slugs)
        return cleaned

    def _check_requirements_still_met(self, slugs: set[str]) -> None:
        alternatives = (
            ScopeAlternative.objects.filter(scopes=self.instance)
            .select_related("endpoint", "operation")
            .prefetch_related("endpoint__key_types", "operation__key_types")
        )
        broken = []
        for alternative in alternatives:
            owner = alternative.owner
            allowed = {kt.slug for kt in owner.key_types.all()}
            if not allowed & slugs:
                broken.append(f"{owner} (accepts {', '.join(sorted(allowed))})")
        if broken:
            self.add_error(
                "key_types",
                "With these key types no accepted key could hold this scope for: "
                + "; ".join(sorted(broken)),
            )


@admin.register(Scope)
class ScopeAdmin(HistoryAdmin):
    form = ScopeForm
    list_display = (
        "name",
        "group",
        "held_by",
        "jwt_only",
        "legacy_twin",
        "introduced_in",
    )
    list_filter = ("group", "key_types", "jwt_only")
    list_select_related = ("legacy_twin",)
    search_fields = ("name", "description", "enabled_at")
    autocomplete_fields = ("legacy_twin",)
    checkbox_fields = ("key_types",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Scope]:
        return super().get_queryset(request).prefetch_related("key_types")

    @admin.display(description="held by")
    def held_by(self, scope: Scope) -> str:
        return key_type_names(scope.key_types.all())

    def uses_that_block_delete(self, objs):
        # Removing a scope from an alternative silently would loosen what
        # the alternative demands; staff should edit those first.
        blocked = []
        for scope in objs:
            for alternative in scope.alternatives.select_related(
                "endpoint", "operation"
            ):
                blocked.append(f"{scope} is needed by {alternative}")
        return blocked


# -- Endpoints and operations -----------------------------------------------


class RequirementForm(HistoryForm):
    """Hands the chosen key types to the alternatives formset, which checks
    the pair; a history revert (no formset) checks against the alternatives
    it will restore."""

    check_saved_alternatives = False
    # Set on a revert: the version's alternatives, and scopes since deleted.
    reverted_alternatives: list[list[Scope]] | None = None
    deleted_scope_ids: tuple[int, ...] = ()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        key_types = cleaned.get("key_types")
        if key_types is None:
            self.instance._pending_key_type_slugs = None
            return cleaned

        slugs = {kt.slug for kt in key_types}
        self.instance._pending_key_type_slugs = slugs
        if self.deleted_scope_ids:
            self.add_error(
                None,
                "This version needs scopes that have since been deleted "
                f"(ids {', '.join(map(str, self.deleted_scope_ids))}). Restore "
                "them from the scopes' history first, then revert this.",
            )
        if self.check_saved_alternatives:
            alternatives = self.reverted_alternatives
            if alternatives is None:
                alternatives = saved_alternatives(self.instance)
            try:
                check_requirement(str(self.instance), slugs, alternatives)
            except ValidationError as error:
                self.add_error("key_types", error)
        return cleaned


class AlternativeFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        allowed = getattr(self.instance, "_pending_key_type_slugs", None)
        if any(self.errors) or allowed is None:
            return

        alternatives = [
            list(form.cleaned_data["scopes"])
            for form in self.forms
            if form.cleaned_data.get("scopes") and not self._should_delete_form(form)
        ]
        check_requirement(str(self.instance) or "This", allowed, alternatives)


class AlternativeInline(admin.TabularInline):
    model = ScopeAlternative
    formset = AlternativeFormSet
    fields = ("position", "scopes")
    autocomplete_fields = ("scopes",)
    extra = 1
    show_change_link = True
    verbose_name_plural = (
        "scope alternatives: holding every scope of any one row is enough"
    )


class EndpointAlternativeInline(AlternativeInline):
    fk_name = "endpoint"


class OperationAlternativeInline(AlternativeInline):
    fk_name = "operation"


class RequirementAdmin(HistoryAdmin):
    form = RequirementForm
    checkbox_fields = ("key_types",)
    actions = ["mark_verified_today"]
    list_filter = (
        "key_types",
        "provenance",
        "verified_on",
        "enterprise_only",
        "admin_needs_workspace_id",
        "area",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        alternatives = Prefetch(
            "alternatives",
            queryset=ScopeAlternative.objects.order_by(
                "position", "id"
            ).prefetch_related("scopes"),
        )
        return super().get_queryset(request).prefetch_related("key_types", alternatives)

    object_history_form_template = "admin/scopes/requirement_history_form.html"

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        revert = getattr(request, "scopes_revert", None)
        if revert is not None:
            past, scopes, missing = revert
            checks = {
                "check_saved_alternatives": True,
                "reverted_alternatives": scopes,
                "deleted_scope_ids": tuple(missing),
            }
            form = type(form.__name__, (form,), checks)
        return form

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        owner = get_object_or_404(self.model, pk=object_id)
        record = get_object_or_404(owner.history, history_id=version_id)
        past = alternatives_in_version(owner, record)
        scopes, missing = scopes_of(past)
        request.scopes_revert = (past, scopes, missing)
        context = {
            **(extra_context or {}),
            "past_alternatives": [
                " + ".join(sorted(scope.name for scope in alternative))
                for alternative in scopes
            ],
        }
        # The owner, its key types and its alternatives change as one edit.
        with transaction.atomic(), one_version_bump():
            return super().history_form_view(request, object_id, version_id, context)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        revert = getattr(request, "scopes_revert", None)
        if revert is not None:
            restore_alternatives(obj, revert[0])

    @admin.display(description="accepts")
    def accepted_key_types(self, obj: Endpoint | Operation) -> str:
        return key_type_names(obj.key_types.all())

    @admin.display(description="scopes needed (any one row)")
    def needed_scopes(self, obj: Endpoint | Operation) -> str:
        return " | ".join(
            " + ".join(sorted(scope.name for scope in alt.scopes.all()))
            for alt in obj.alternatives.all()
        )

    @admin.action(permissions=["change"], description="Mark verified today")
    def mark_verified_today(self, request: HttpRequest, queryset: QuerySet) -> None:
        today = datetime.date.today()
        count = 0
        with one_version_bump():
            for obj in queryset:
                obj.verified_on = today
                obj._change_reason = "Marked verified today"
                obj.save(update_fields=["verified_on"])
                count += 1
        self.message_user(
            request,
            f"Marked {count} {self.opts.verbose_name_plural} verified on {today}.",
            messages.SUCCESS,
        )


@admin.register(Endpoint)
class EndpointAdmin(RequirementAdmin):
    list_display = (
        "method",
        "path",
        "plane",
        "area",
        "accepted_key_types",
        "needed_scopes",
        "provenance",
        "verified_on",
        "enterprise_only",
    )
    list_display_links = ("method", "path")
    list_filter = ("plane", *RequirementAdmin.list_filter)
    search_fields = ("path", "summary", "area", "notes", "alternatives__scopes__name")
    inlines = [EndpointAlternativeInline]
    fieldsets = (
        (None, {"fields": ("method", "path", "plane", "summary", "area")}),
        (
            "Requirement",
            {"fields": ("key_types", "admin_needs_workspace_id", "enterprise_only")},
        ),
        (
            "Provenance",
            {"fields": ("provenance", "source_url", "verified_on", "notes")},
        ),
    )


@admin.register(Operation)
class OperationAdmin(RequirementAdmin):
    list_display = (
        "summary",
        "slug",
        "area",
        "ui_only",
        "accepted_key_types",
        "needed_scopes",
        "provenance",
        "verified_on",
        "enterprise_only",
    )
    list_filter = ("ui_only", *RequirementAdmin.list_filter)
    search_fields = ("slug", "summary", "area", "notes", "alternatives__scopes__name")
    prepopulated_fields = {"slug": ("summary",)}
    inlines = [OperationAlternativeInline]
    fieldsets = (
        (None, {"fields": ("slug", "summary", "area", "ui_only")}),
        (
            "Requirement",
            {"fields": ("key_types", "admin_needs_workspace_id", "enterprise_only")},
        ),
        (
            "Provenance",
            {"fields": ("provenance", "source_url", "verified_on", "notes")},
        ),
    )


class ScopeAlternativeForm(HistoryForm):
    class Meta:
        model = ScopeAlternative
        fields = ("endpoint", "operation", "position", "scopes")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        owner = cleaned.get("endpoint") or cleaned.get("operation")
        scopes = cleaned.get("scopes")
        if owner is not None and scopes is not None:
            allowed = {kt.slug for kt in owner.key_types.all()}
            try:
                check_requirement(str(owner), allowed, [list(scopes)])
            except ValidationError as error:
                self.add_error("scopes", error)
        return cleaned


@admin.register(ScopeAlternative)
class ScopeAlternativeAdmin(HistoryAdmin):
    """Mostly edited inline; listed on its own for its history and search."""

    form = ScopeAlternativeForm
    list_display = ("__str__", "endpoint", "operation", "position", "scope_names")
    list_select_related = ("endpoint", "operation")
    list_filter = ("endpoint__plane", "scopes__group")
    search_fields = ("endpoint__path", "operation__slug", "scopes__name")
    autocomplete_fields = ("endpoint", "operation", "scopes")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ScopeAlternative]:
        return super().get_queryset(request).prefetch_related("scopes")

    @admin.display(description="scopes")
    def scope_names(self, alternative: ScopeAlternative) -> str:
        return " + ".join(sorted(scope.name for scope in alternative.scopes.all()))


# -- Roles ------------------------------------------------------------------


class StatementFormSet(forms.BaseInlineFormSet):
    """Checks the one-shown rule over the submitted set, and saves in an
    order the database accepts when the shown flag moves between rows."""

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        form.instance.shown_checked_by_formset = True
        return form

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        shown = [
            form
            for form in self.forms
            if form.cleaned_data.get("shown") and not self._should_delete_form(form)
        ]
        if len(shown) > 1:
            raise ValidationError(
                "Only one statement of a role can be shown; untick all but one."
            )

    def save(self, commit: bool = True):
        # The database allows one shown statement per role at every instant,
        # so statements losing the flag (or going away) lose it first.
        losing = [
            form.instance.pk
            for form in self.initial_forms
            if form.instance.pk is not None
            and (self._should_delete_form(form) or not form.cleaned_data.get("shown"))
        ]
        RoleStatement.objects.filter(pk__in=losing, shown=True).update(shown=False)
        return super().save(commit)


class StatementForm(HistoryForm):
    class Meta:
        model = RoleStatement
        fields = ("position", "text", "source_url", "shown")
        widgets = {"text": forms.Textarea(attrs={"rows": 2, "cols": 60})}

    def _get_validation_exclusions(self):
        # The formset checks the one-shown rule across the submitted rows;
        # checked row by row against the database, a swap would look like two.
        exclusions = super()._get_validation_exclusions()
        exclusions.add("shown")
        return exclusions


class StatementInline(admin.TabularInline):
    model = RoleStatement
    form = StatementForm
    formset = StatementFormSet
    extra = 1
    show_change_link = True
    verbose_name_plural = (
        "statements: what each source says; where they disagree, show one"
    )


@admin.register(Role)
class RoleAdmin(HistoryAdmin):
    list_display = ("name", "slug", "level", "position", "creates")
    list_filter = ("level", "can_create_key_types")
    search_fields = ("name", "slug", "summary", "statements__text")
    checkbox_fields = ("can_create_key_types",)
    prepopulated_fields = {"slug": ("name",)}
    inlines = [StatementInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Role]:
        return super().get_queryset(request).prefetch_related("can_create_key_types")

    @admin.display(description="can create")
    def creates(self, role: Role) -> str:
        return key_type_names(role.can_create_key_types.all())


@admin.register(RoleStatement)
class RoleStatementAdmin(HistoryAdmin):
    list_display = ("role", "short_text", "shown", "source_url")
    list_select_related = ("role",)
    list_filter = ("shown", "role")
    search_fields = ("text", "source_url", "role__name")
    autocomplete_fields = ("role",)

    @admin.display(description="text")
    def short_text(self, statement: RoleStatement) -> str:
        return statement.text[:100]


# -- Causes, scenarios, error codes -----------------------------------------


@admin.register(Cause)
class CauseAdmin(HistoryAdmin):
    list_display = ("code", "title")
    search_fields = ("code", "title", "explanation", "fix", "how_to_check")
    list_filter = ("scenarios",)


class ScenarioCauseInline(admin.TabularInline):
    model = ScenarioCause
    fields = ("position", "cause")
    autocomplete_fields = ("cause",)
    extra = 1
    verbose_name_plural = "causes, in the order the wizard checks them"


@admin.register(Scenario)
class ScenarioAdmin(HistoryAdmin):
    list_display = ("title", "slug", "position", "cause_codes")
    search_fields = ("title", "slug", "when")
    prepopulated_fields = {"slug": ("title",)}
    inlines = [ScenarioCauseInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Scenario]:
        ordered = Prefetch(
            "scenario_causes",
            queryset=ScenarioCause.objects.order_by("position", "id").select_related(
                "cause"
            ),
        )
        return super().get_queryset(request).prefetch_related(ordered)

    @admin.display(description="causes, in order")
    def cause_codes(self, scenario: Scenario) -> str:
        return ", ".join(link.cause.code for link in scenario.scenario_causes.all())


@admin.register(ScenarioCause)
class ScenarioCauseAdmin(HistoryAdmin):
    list_display = ("scenario", "cause", "position")
    list_select_related = ("scenario", "cause")
    list_filter = ("scenario",)
    search_fields = ("scenario__title", "cause__code")
    autocomplete_fields = ("scenario", "cause")


@admin.register(ErrorCode)
class ErrorCodeAdmin(HistoryAdmin):
    list_display = ("code", "http_status", "title")
    list_filter = ("http_status",)
    search_fields = ("code", "title", "meaning")


@admin.register(DataVersion)
class DataVersionAdmin(admin.ModelAdmin):
    """Read-only: the number moves by itself on every change."""

    list_display = ("number", "changed_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
