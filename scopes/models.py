"""The permission world of the gateway, as staff edit it in the admin.

The diagnosis engine never reads these models directly: ``scopes.services``
turns them into the immutable ``scopes.snapshot.Snapshot``. Every model keeps a
full change history (django-simple-history), and every write bumps the single
``DataVersion`` row so each process knows when to rebuild its snapshot.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
)
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

SCOPE_NAME_PATTERN = r"^[a-z_]+\.[a-z_]+$"
CAUSE_CODE_PATTERN = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"
ERROR_CODE_PATTERN = r"^AB[0-9]{2}$"
# A path template: segments of plain characters or {placeholders}, starting
# with a slash, no trailing slash and no query string.
PATH_SEGMENT = r"([A-Za-z0-9_.-]+|\{[A-Za-z0-9_-]+\})"
PATH_TEMPLATE_PATTERN = rf"^(/{PATH_SEGMENT})+$"

validate_scope_name = RegexValidator(
    SCOPE_NAME_PATTERN,
    "A scope name is resource.action in lower case with underscores, "
    "such as completions.write.",
)
validate_cause_code = RegexValidator(
    CAUSE_CODE_PATTERN,
    "A cause code is snake_case: lower-case letters, digits and single "
    "underscores, starting with a letter.",
)
validate_error_code = RegexValidator(
    ERROR_CODE_PATTERN, "An error code is AB followed by two digits, such as AB03."
)


def validate_path_template(value: str) -> None:
    """Refuse a path that is not a clean template such as ``/v1/logs/{id}``."""
    if not value.startswith("/"):
        raise ValidationError("A path starts with /.", code="path_start")
    if "?" in value or "#" in value:
        raise ValidationError(
            "A path has no query string or fragment.", code="path_query"
        )
    if len(value) > 1 and value.endswith("/"):
        raise ValidationError("A path has no trailing /.", code="path_trailing")
    if not re.fullmatch(PATH_TEMPLATE_PATTERN, value):
        raise ValidationError(
            "Each part of a path is letters, digits, _ . - or a {placeholder}, "
            "such as /v1/integrations/{slug}/models.",
            code="path_segment",
        )


class Family(models.TextChoices):
    ADMIN = "admin", "Admin"
    WORKSPACE = "workspace", "Workspace"


class ScopeGroup(models.TextChoices):
    ORGANISATION = "organisation", "Organisation management"
    WORKSPACE = "workspace", "Workspace management"
    INTEGRATIONS = "integrations", "Integrations"
    RESOURCES = "resources", "Resources"
    MONITORING = "monitoring", "Monitoring"
    INFERENCE = "inference", "Inference"


class Method(models.TextChoices):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"


class Plane(models.TextChoices):
    DATA = "data", "Data plane"
    CONTROL = "control", "Control plane"


class Provenance(models.TextChoices):
    DOCUMENTED = "documented", "Documented"
    INFERRED = "inferred", "Inferred from the scope naming pattern"


class RoleLevel(models.TextChoices):
    ORGANISATION = "organisation", "Organisation"
    WORKSPACE = "workspace", "Workspace"


class KeyType(models.Model):
    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    family = models.CharField(max_length=20, choices=Family.choices)
    purpose = models.TextField()
    facts = models.TextField(
        blank=True, help_text="One short fact per line, in our own words."
    )
    can_call_data_plane = models.BooleanField(default=False)
    can_run_ui_tests = models.BooleanField(
        default=False,
        help_text="Works in the Playground, Prompt Studio and Model Catalog.",
    )
    can_manage_api_keys = models.BooleanField(default=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=Q(family__in=Family.values), name="key_type_family_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def fact_list(self) -> list[str]:
        return [line.strip() for line in self.facts.splitlines() if line.strip()]


class Scope(models.Model):
    name = models.CharField(
        max_length=100, unique=True, validators=[validate_scope_name]
    )
    description = models.TextField()
    group = models.CharField(max_length=20, choices=ScopeGroup.choices)
    key_types = models.ManyToManyField(
        KeyType,
        blank=True,
        related_name="scopes",
        help_text="The key types that may hold this scope (none for JWT-only scopes).",
    )
    enabled_at = models.CharField(
        max_length=200,
        blank=True,
        help_text="Where a person turns it on, e.g. API key dialog > Completions > write.",
    )
    legacy_twin = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The other scope of a virtual_keys/providers pair: both may be needed.",
    )
    introduced_in = models.CharField(
        max_length=80, blank=True, help_text="Release and date, where known."
    )
    jwt_only = models.BooleanField(
        default=False, help_text="Only JWT tokens carry this scope, never an API key."
    )

    history = HistoricalRecords(m2m_fields=["key_types"])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(name__regex=SCOPE_NAME_PATTERN), name="scope_name_format"
            ),
            models.CheckConstraint(
                condition=Q(group__in=ScopeGroup.values), name="scope_group_valid"
            ),
            models.CheckConstraint(
                condition=~Q(legacy_twin=models.F("pk")), name="scope_not_own_twin"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.pk is not None and self.legacy_twin_id == self.pk:
            raise ValidationError({"legacy_twin": "A scope cannot be its own twin."})


class Requirement(models.Model):
    """What a call needs: the key types it accepts and its scope alternatives."""

    summary = models.CharField(max_length=300)
    area = models.CharField(max_length=80, help_text="A short grouping, e.g. Logs.")
    key_types = models.ManyToManyField(
        KeyType,
        related_name="%(class)ss",
        help_text="The key types this accepts at all.",
    )
    admin_needs_workspace_id = models.BooleanField(
        "Admin key needs workspace_id",
        default=False,
        help_text="A workspace-level resource: an Admin key must pass workspace_id.",
    )
    enterprise_only = models.BooleanField(default=False)
    provenance = models.CharField(max_length=20, choices=Provenance.choices)
    source_url = models.URLField(max_length=500, blank=True)
    verified_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(provenance__in=Provenance.values),
                name="%(class)s_provenance_valid",
            ),
        ]

    def clean(self) -> None:
        if self.provenance == Provenance.DOCUMENTED and not self.source_url:
            raise ValidationError(
                {"source_url": "A documented requirement names the page it is from."}
            )


class Endpoint(Requirement):
    method = models.CharField(max_length=6, choices=Method.choices)
    path = models.CharField(
        max_length=200,
        validators=[validate_path_template],
        help_text="A template such as /v1/integrations/{slug}.",
    )
    plane = models.CharField(max_length=10, choices=Plane.choices)

    history = HistoricalRecords(m2m_fields=["key_types"])

    class Meta(Requirement.Meta):
        ordering = ["path", "method"]
        constraints = [
            *Requirement.Meta.constraints,
            models.UniqueConstraint(
                fields=["method", "path"],
                name="endpoint_unique_method_path",
                violation_error_message="This method and path are already listed.",
            ),
            models.CheckConstraint(
                condition=Q(method__in=Method.values), name="endpoint_method_valid"
            ),
            models.CheckConstraint(
                condition=Q(plane__in=Plane.values), name="endpoint_plane_valid"
            ),
            models.CheckConstraint(
                condition=Q(path__regex=PATH_TEMPLATE_PATTERN),
                name="endpoint_path_template",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


class Operation(Requirement):
    """Something the docs name without a path, e.g. inviting organisation users."""

    slug = models.SlugField(max_length=80, unique=True)
    ui_only = models.BooleanField(
        "in the web app only",
        default=False,
        help_text="Happens in the web app, not through the API.",
    )

    history = HistoricalRecords(m2m_fields=["key_types"])

    class Meta(Requirement.Meta):
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.summary or self.slug


class ScopeAlternative(models.Model):
    """One way to satisfy a requirement: holding all of these scopes suffices."""

    endpoint = models.ForeignKey(
        Endpoint,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alternatives",
    )
    operation = models.ForeignKey(
        Operation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alternatives",
    )
    position = models.PositiveSmallIntegerField(
        default=0, help_text="The documented or primary alternative comes first."
    )
    scopes = models.ManyToManyField(Scope, related_name="alternatives")

    history = HistoricalRecords(m2m_fields=["scopes"])

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "scope alternative"
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(endpoint__isnull=False, operation__isnull=True)
                    | Q(endpoint__isnull=True, operation__isnull=False)
                ),
                name="alternative_has_exactly_one_owner",
                violation_error_message=(
                    "An alternative belongs to exactly one endpoint or operation."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.owner} #{self.position + 1}"

    @property
    def owner(self) -> Endpoint | Operation | None:
        return self.endpoint or self.operation

    def clean(self) -> None:
        if (self.endpoint_id is None) == (self.operation_id is None):
            raise ValidationError(
                "An alternative belongs to exactly one endpoint or operation."
            )


class Role(models.Model):
    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    level = models.CharField(max_length=20, choices=RoleLevel.choices)
    position = models.PositiveSmallIntegerField(default=0)
    summary = models.TextField()
    can_create_key_types = models.ManyToManyField(
        KeyType, blank=True, related_name="creatable_by_roles"
    )

    history = HistoricalRecords(m2m_fields=["can_create_key_types"])

    class Meta:
        ordering = ["position", "slug"]
        constraints = [
            models.CheckConstraint(
                condition=Q(level__in=RoleLevel.values), name="role_level_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RoleStatement(models.Model):
    """What one source says a role may do; sources can disagree."""

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="statements")
    position = models.PositiveSmallIntegerField(default=0)
    text = models.TextField()
    source_url = models.URLField(max_length=500, blank=True)
    shown = models.BooleanField(
        default=False, help_text="The statement the site shows for this role."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["role"],
                condition=Q(shown=True),
                name="one_shown_statement_per_role",
                violation_error_message="Only one statement of a role can be shown.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:60]}"

    def clean(self) -> None:
        # The admin's statement formset checks the submitted set as a whole,
        # since a swap of the shown flag is briefly two shown rows here.
        if getattr(self, "shown_checked_by_formset", False):
            return
        if self.shown and self.role_id is not None:
            others = RoleStatement.objects.filter(role_id=self.role_id, shown=True)
            if self.pk is not None:
                others = others.exclude(pk=self.pk)
            if others.exists():
                raise ValidationError(
                    {"shown": "Another statement of this role is already shown."}
                )


class Cause(models.Model):
    code = models.CharField(
        max_length=60,
        unique=True,
        validators=[validate_cause_code],
        help_text="Stable: the engine and the API refer to causes by this code.",
    )
    title = models.CharField(max_length=200)
    explanation = models.TextField()
    fix = models.TextField()
    how_to_check = models.TextField(help_text="What to verify to confirm this cause.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=CAUSE_CODE_PATTERN), name="cause_code_format"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Scenario(models.Model):
    slug = models.SlugField(max_length=60, unique=True)
    title = models.CharField(max_length=200)
    when = models.CharField(max_length=300, help_text="One line on when it applies.")
    position = models.PositiveSmallIntegerField(default=0)
    causes = models.ManyToManyField(
        Cause, through="ScenarioCause", related_name="scenarios"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "slug"]

    def __str__(self) -> str:
        return self.title


class ScenarioCause(models.Model):
    """A cause the wizard checks for a scenario, in the order it checks them."""

    scenario = models.ForeignKey(
        Scenario, on_delete=models.CASCADE, related_name="scenario_causes"
    )
    cause = models.ForeignKey(Cause, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "scenario cause"
        constraints = [
            models.UniqueConstraint(
                fields=["scenario", "cause"],
                name="scenario_cause_once",
                violation_error_message="This cause is already in the scenario.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scenario}: {self.cause}"


class ErrorCode(models.Model):
    code = models.CharField(max_length=4, unique=True, validators=[validate_error_code])
    http_status = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(100), MaxValueValidator(599)]
    )
    title = models.CharField(max_length=200)
    meaning = models.TextField()

    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=ERROR_CODE_PATTERN), name="error_code_format"
            ),
            models.CheckConstraint(
                condition=Q(http_status__gte=100, http_status__lte=599),
                name="error_code_http_status_range",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class DataVersion(models.Model):
    """One row whose number goes up on every change to the reference data.

    Every process compares it with the version of its cached snapshot, so an
    edit in the admin reaches all workers through the database alone.
    """

    number = models.PositiveIntegerField(default=0)
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="data_version_single_row"),
        ]

    def __str__(self) -> str:
        return f"version {self.number}"


REFERENCE_MODELS: tuple[type[models.Model], ...] = (
    KeyType,
    Scope,
    Endpoint,
    Operation,
    ScopeAlternative,
    Role,
    RoleStatement,
    Cause,
    Scenario,
    ScenarioCause,
    ErrorCode,
)
