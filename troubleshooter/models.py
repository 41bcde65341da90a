"""What the wizard stores: short links and anonymous feedback. Nothing a
person typed into a ticket is ever stored."""

import hashlib

from django.db import models


class ShortLink(models.Model):
    """A stable short code for a fix page's answers (the query string only)."""

    code = models.CharField(max_length=16, unique=True)
    query = models.CharField(max_length=2000)
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
