"""The "report a mistake" form."""

from __future__ import annotations

from urllib.parse import unquote

from django import forms

from troubleshooter.masking import mask_secrets
from troubleshooter.models import MistakeReport

MIN_MESSAGE = 10
MAX_MESSAGE = 2000


class MistakeReportForm(forms.ModelForm):
    class Meta:
        model = MistakeReport
        fields = ["message", "source_url"]
        labels = {
            "message": "What is wrong?",
            "source_url": "Source (optional)",
        }
        help_texts = {
            "message": "For example: this call also accepts logs.view, or the "
            "scope was renamed. Do not paste API keys.",
            "source_url": "A link to the page that shows the right fact.",
        }
        widgets = {
            "message": forms.Textarea(attrs={"rows": 4, "maxlength": MAX_MESSAGE}),
            "source_url": forms.URLInput(attrs={"placeholder": "https://"}),
        }

    def clean_message(self) -> str:
        message = self.cleaned_data["message"].strip()
        if len(message) < MIN_MESSAGE:
            raise forms.ValidationError(
                f"Please say a little more: at least {MIN_MESSAGE} characters, "
                "so we can check it.",
                code="too_short",
            )
        return message

    def clean_source_url(self) -> str:
        url = self.cleaned_data["source_url"]
        if url and not url.lower().startswith(("https://", "http://")):
            raise forms.ValidationError(
                "Give a web address starting with https:// or http://.",
                code="scheme",
            )
        if mask_secrets(unquote(url)).changed:
            # A link is stored as it is; one with a key in it must not be.
            raise forms.ValidationError(
                "This address looks like it holds a key or token. Remove that "
                "part and send the page's address only.",
                code="secret",
            )
        return url
