"""What the wizard stores: short links and anonymous feedback. Nothing a
person typed into a ticket is ever stored."""

import hashlib

from django.db import models


class ShortLink(models.Model):
    """A stable short code for a fix page's answers (the query string only)."""

    code = models.CharField(max_length=16, unique=True)
    # Unbounded on purpose: the canonical answers only hold names the
    # reference knows, but a key may hold every one of its scopes.
    query = models.TextField()
    data_version = models.PositiveIntegerField(
        help_text="The reference data version when the link was made."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"/f/{self.code}"

    @staticmethod
    def code_for(query: str) -> str:
        # Deterministic, so the same answers always give the same link.
        return hashlib.blake2b(query.encode(), digest_size=6).hexdigest()


class Feedback(models.Model):
    """One anonymous "Did this fix it?" answer."""

    page_view = models.CharField(
        max_length=64, unique=True, help_text="One answer per page view."
    )
    scenario = models.CharField(max_length=40, blank=True)
    verdict = models.CharField(max_length=10)
    reason_codes = models.CharField(max_length=300, blank=True)
    first_reason = models.CharField(max_length=60, blank=True)
    fixed = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "feedback"

    def __str__(self) -> str:
        answer = "fixed" if self.fixed else "not fixed"
        return f"{self.scenario or 'direct'} / {self.first_reason or '-'}: {answer}"


class MistakeReport(models.Model):
    """Someone's report that a reference row is wrong, for staff to review.

    The row is named by kind and natural key, not by a foreign key, so a
    report outlives the row being renamed or removed by a data load.
    """

    class Kind(models.TextChoices):
        SCOPE = "scope", "scope"
        ENDPOINT = "endpoint", "endpoint"
        OPERATION = "operation", "task"

    class Status(models.TextChoices):
        NEW = "new", "new"
        CONFIRMED = "confirmed", "confirmed"
        FIXED = "fixed", "fixed"
        REJECTED = "rejected", "rejected"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(
        max_length=300,
        help_text="The row's natural key: a scope name, 'METHOD /path' or a slug.",
    )
    message = models.TextField("what is wrong", max_length=2000)
    source_url = models.URLField("source", max_length=500, blank=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.NEW, db_index=True
    )
    staff_note = models.TextField(blank=True)
    data_version = models.PositiveIntegerField(
        help_text="The reference data version the reporter was looking at."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["scope", "endpoint", "operation"]),
                name="mistakereport_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    status__in=["new", "confirmed", "fixed", "rejected"]
                ),
                name="mistakereport_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.key}: {self.get_status_display()}"
