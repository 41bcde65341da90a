"""Secrets are masked before anything is shown, copied, logged or linked."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from troubleshooter.masking import MASK, mask_secrets

KEY = "pk-Zx81mQ2vR7tLw0sN5yB3cK9d"


@pytest.mark.parametrize(
    "text",
    [
        f'curl -H "x-portkey-api-key: {KEY}" https://api.portkey.ai/v1/models',
        f"curl -H 'x-portkey-api-key: {KEY}' https://api.portkey.ai/v1/models",
        f"x-portkey-virtual-key: {KEY}",
        f"Authorization: Bearer {KEY}",
        f'{{"api_key": "{KEY}"}}',
        f"Portkey(api_key='{KEY}')",
        f"the key was {KEY} yesterday",
    ],
)
def test_keys_in_every_usual_shape_are_masked(text):
    masked = mask_secrets(text)

    assert KEY not in masked.text
    assert MASK in masked.text
    assert masked.changed


def test_trace_ids_and_paths_are_kept():
    text = (
        "x-portkey-trace-id: 3f2a9c1e-1b2c-4d5e-8f90-123456789abc\n"
        "POST /v1/chat/completions?workspace_id=ws-prod"
    )

    assert mask_secrets(text).text == text


def test_masking_twice_changes_nothing_more():
    once = mask_secrets(f"Authorization: Bearer {KEY}").text

    assert mask_secrets(once).text == once
    assert mask_secrets(once).count == 0


@given(
    prefix=st.text(max_size=40),
    secret=st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=20
    ).map(lambda s: s + "42"),
    suffix=st.text(max_size=40),
)
def test_a_bearer_token_never_survives_whatever_surrounds_it(prefix, secret, suffix):
    masked = mask_secrets(f"{prefix} Authorization: Bearer {secret} {suffix}")

    assert secret not in masked.text


def test_an_empty_credential_header_does_not_hide_the_next_lines_secret():
    text = f"x-portkey-api-key:\nAuthorization: Bearer {KEY}"

    masked = mask_secrets(text)

    assert KEY not in masked.text
    assert masked.text.startswith("x-portkey-api-key:\nAuthorization")


def test_a_long_path_is_not_masked_as_if_it_were_a_key():
    text = "GET /v1/integrations/openai-production-2024-eu/models"

    assert mask_secrets(text).text == text


def test_a_key_inside_a_path_segment_is_still_masked():
    masked = mask_secrets(f"GET /v1/keys/{KEY.removeprefix('pk-')}/rotate")

    assert KEY.removeprefix("pk-") not in masked.text
