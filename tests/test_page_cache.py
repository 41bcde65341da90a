"""Answers kept in the page cache are the answers the views give.

CachedPageMiddleware answers repeats before the per-visitor layers run, so a
repeat must carry the same status, body and headers as the first answer, and
conditional requests must work on both.
"""

import pytest

FIX = (
    "/fix/?scenario=completions&context=code&key_type=workspace_service"
    "&method=POST&path=/v1/chat/completions&scopes=logs.view"
)
CHECK = (
    "/api/v1/check?method=POST&path=/v1/chat/completions"
    "&key_type=workspace_service&scopes=completions.write"
)
HTMX = {"hx-request": "true", "hx-target": "wizard"}
SAME_HEADERS = (
    "Content-Type",
    "Content-Security-Policy",
    "X-Frame-Options",
    "Cross-Origin-Resource-Policy",
    "Vary",
    "ETag",
    "Cache-Control",
    "Location",
    "HX-Push-Url",
    "Access-Control-Allow-Origin",
)


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/", {}),
        ("/diagnose/completions/?key_type=workspace_service", {}),
        ("/diagnose/completions/?key_type=workspace_service", HTMX),
        (FIX, {}),
        ("/fix/?scenario=completions&scopes_text=", {}),  # a redirect
        ("/reference/endpoints/", {}),
        (CHECK, {}),
        ("/api/v1/check?method=GET&path=/v1/nothing-here", {}),  # a JSON 404
    ],
)
def test_a_repeat_is_the_same_answer_as_the_first(client, reference, url, headers):
    first = client.get(url, headers=headers)
    repeat = client.get(url, headers=headers)

    assert repeat.status_code == first.status_code
    assert repeat.content == first.content
    for name in SAME_HEADERS:
        assert repeat.get(name) == first.get(name), name
    assert "Set-Cookie" not in repeat


@pytest.mark.parametrize("url", ["/reference/endpoints/", CHECK])
def test_a_repeat_revalidates_with_its_etag(client, reference, url):
    first = client.get(url)

    again = client.get(url, headers={"if-none-match": first["ETag"]})
    changed = client.get(url, headers={"if-none-match": '"something-else"'})

    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    assert again.get("Access-Control-Allow-Origin") == first.get(
        "Access-Control-Allow-Origin"
    )
    assert changed.status_code == 200


def test_a_page_kept_for_one_kind_of_request_is_not_served_to_another(
    client, reference
):
    url = "/diagnose/completions/?key_type=workspace_service"

    fragment = client.get(url, headers=HTMX).content.decode()
    page = client.get(url).content.decode()

    assert "<html" not in fragment
    assert "<html" in page
