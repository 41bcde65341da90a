"""Rate limits on the public forms: feedback, short links, pastes and the parse
API (mistake reports have theirs in test_mistake_reports.py). A limited client
gets a 429 that says when to retry and keeps what it sent."""

import re
from html import unescape

import jsonschema
import pytest
from django.core.cache import cache
from django.test import RequestFactory
from django.urls import reverse

from troubleshooter import ratelimit
from troubleshooter.models import Feedback, ShortLink
from troubleshooter.openapi import openapi_document

FIX_ANSWERS = {
    "scenario": "completions",
    "context": "code",
    "key_type": "workspace_service",
    "method": "POST",
    "path": "/v1/chat/completions",
    "scopes": "logs.view",
}
FEEDBACK = reverse("wizard:feedback")
SHORT_LINK = reverse("wizard:make-short-link")
PASTE = reverse("paste:paste")
PARSE = reverse("api:parse")
SECRET = "pk7Hq2mZp9Xw4Lr8Tn3Vb6Yc1Kd5Fg0"
PASTED = (
    '{"success":false,"data":{"message":"You do not have enough permissions",'
    f'"errorCode":"AB03"}}}}\nx-portkey-api-key: {SECRET}'
)


@pytest.fixture
def limit(settings):
    """Set one action's limit for this test: limit("paste", 2)."""

    def set_limit(action: str, requests: int, window: int = 3600) -> None:
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, action: (requests, window)}

    return set_limit


def h1_count(html: str) -> int:
    return len(re.findall(r"<h1[\s>]", html))


def page_view_token(client) -> str:
    html = client.get(reverse("wizard:fix-actions"), FIX_ANSWERS).content.decode()
    return re.search(r'name="page_view" value="([^"]+)"', html).group(1)


def hidden_value(html: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden {name} field"
    return unescape(found.group(1))


# -- Feedback ---------------------------------------------------------------


def test_feedback_over_the_limit_gets_a_429_page_that_offers_the_answer_again(
    client, reference, limit
):
    limit("feedback", 2)
    for _ in range(2):
        answer = {"page_view": page_view_token(client), "fixed": "yes"}
        assert client.post(FEEDBACK, answer).status_code == 200
    token = page_view_token(client)

    response = client.post(FEEDBACK, {"page_view": token, "fixed": "no"})

    html = response.content.decode()
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert h1_count(html) == 1
    assert "We have not recorded your answer." in html
    assert "We take 2 an hour from one address" in html
    assert "You can send it again in about" in html
    assert hidden_value(html, "page_view") == token
    assert 'name="fixed" value="yes"' in html
    assert 'name="fixed" value="no"' in html
    assert Feedback.objects.count() == 2


def test_an_htmx_feedback_answer_over_the_limit_swaps_in_the_section_only(
    client, reference, limit
):
    limit("feedback", 0)

    response = client.post(
        FEEDBACK,
        {"page_view": page_view_token(client), "fixed": "yes"},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert response.status_code == 429
    assert "<html" not in html
    assert h1_count(html) == 0
    assert '<h2 id="feedback-heading">Did this fix it?</h2>' in html
    assert 'role="alert"' in html
    assert not Feedback.objects.exists()


def test_forged_feedback_does_not_use_up_the_limit(client, reference, limit):
    limit("feedback", 1)
    for _ in range(3):
        forged = client.post(FEEDBACK, {"page_view": "made-up", "fixed": "yes"})
        assert forged.status_code == 400

    answer = {"page_view": page_view_token(client), "fixed": "yes"}

    assert client.post(FEEDBACK, answer).status_code == 200


# -- Short links ------------------------------------------------------------


def test_a_short_link_over_the_limit_gets_a_429_with_the_long_link_and_a_retry_form(
    client, reference, limit
):
    limit("short_link", 1)
    assert client.post(SHORT_LINK, FIX_ANSWERS).status_code == 302

    response = client.post(SHORT_LINK, {**FIX_ANSWERS, "scopes": "logs.write"})

    html = response.content.decode()
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert h1_count(html) == 1
    assert "The short link was not made." in html
    assert hidden_value(html, "scopes") == "logs.write"
    assert f'action="{SHORT_LINK}"' in html
    long_link = re.search(r'<a href="(/fix/\?[^"]+)">', html).group(1)
    assert "scopes=logs.write" in unescape(long_link)
    assert ShortLink.objects.count() == 1


# -- Pastes and the parse API -----------------------------------------------


def test_a_paste_over_the_limit_shows_the_form_again_with_the_text_masked(
    client, reference, limit
):
    limit("paste", 1, 600)
    assert client.post(PASTE, {"text": PASTED}).status_code == 200

    response = client.post(PASTE, {"text": PASTED})

    html = unescape(response.content.decode())
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 600
    assert h1_count(html) == 1
    assert "You have sent many pastes in a short while" in html
    textarea = re.search(r'<textarea id="paste-text"[^>]*>(.*?)</textarea>', html, re.S)
    assert '"errorCode":"AB03"' in textarea.group(1)
    assert SECRET not in html


def test_the_parse_api_over_the_limit_answers_a_documented_json_429(
    client, reference, limit
):
    limit("paste", 1, 600)
    client.post(PARSE, {"text": PASTED}, content_type="application/json")

    response = client.post(PARSE, {"text": PASTED}, content_type="application/json")

    body = response.json()
    assert response.status_code == 429
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["retry_after"] == int(response["Retry-After"])
    document = openapi_document("http://testserver/")
    jsonschema.validate(body, {"$ref": "#/components/schemas/Error", **document})
    assert "429" in document["paths"]["/api/v1/parse"]["post"]["responses"]


def test_the_paste_form_and_the_parse_api_share_one_count(client, reference, limit):
    limit("paste", 2, 600)
    client.post(PASTE, {"text": PASTED})
    client.post(PARSE, {"text": PASTED}, content_type="application/json")

    assert client.post(PASTE, {"text": PASTED}).status_code == 429
    assert (
        client.post(PARSE, {"text": PASTED}, content_type="application/json")
    ).status_code == 429


# -- Who is counted, and where ----------------------------------------------


def test_each_client_address_has_its_own_count(client, reference, limit):
    limit("short_link", 1)
    assert (
        client.post(SHORT_LINK, FIX_ANSWERS, REMOTE_ADDR="198.51.100.1").status_code
        == 302
    )

    other = client.post(SHORT_LINK, FIX_ANSWERS, REMOTE_ADDR="198.51.100.2")
    again = client.post(SHORT_LINK, FIX_ANSWERS, REMOTE_ADDR="198.51.100.1")

    assert other.status_code == 302
    assert again.status_code == 429


def test_behind_a_trusted_proxy_its_header_names_the_client(
    client, reference, limit, settings
):
    settings.RATE_LIMIT_CLIENT_HEADER = "X-Real-IP"
    limit("short_link", 1)
    proxy = {"REMOTE_ADDR": "10.0.0.5"}
    first = client.post(
        SHORT_LINK, FIX_ANSWERS, headers={"X-Real-IP": "198.51.100.1"}, **proxy
    )

    other = client.post(
        SHORT_LINK, FIX_ANSWERS, headers={"X-Real-IP": "198.51.100.2"}, **proxy
    )
    again = client.post(
        SHORT_LINK, FIX_ANSWERS, headers={"X-Real-IP": "198.51.100.1"}, **proxy
    )

    assert (first.status_code, other.status_code) == (302, 302)
    assert again.status_code == 429


def test_the_count_is_kept_under_a_hash_of_the_address_never_the_address(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "paste": (5, 600)}
    request = RequestFactory().post(PASTE, REMOTE_ADDR="203.0.113.77")

    ratelimit.hit(request, "paste", now=1200.0)
    ratelimit.hit(request, "paste", now=1300.0)

    client = ratelimit.client_id(request)
    assert re.fullmatch(r"[0-9a-f]{16}", client)
    assert cache.get(f"ratelimit:paste:{client}:1200") == 2


def test_a_new_window_starts_with_a_fresh_count_and_retry_after_counts_down(
    settings,
):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "paste": (1, 600)}
    request = RequestFactory().post(PASTE, REMOTE_ADDR="203.0.113.78")

    first = ratelimit.hit(request, "paste", now=6000.0)
    second = ratelimit.hit(request, "paste", now=6500.0)
    next_window = ratelimit.hit(request, "paste", now=6600.0)

    assert first.allowed and not second.allowed and next_window.allowed
    assert second.retry_after == 100
    assert second.retry_in_words == "about 2 minutes"


def test_an_unreachable_cache_lets_posts_through_uncounted(client, reference, settings):
    # Port 1 on loopback refuses connections at once: Redis is "down".
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "short_link": (0, 3600)}

    response = client.post(SHORT_LINK, FIX_ANSWERS)

    assert response.status_code == 302
    assert ShortLink.objects.count() == 1


@pytest.mark.parametrize(
    ("remote_addr", "recorded"),
    [("203.0.113.9", "203.0.113.9"), ("", None), ("unknown", None), ("x; drop", None)],
)
def test_sign_ins_record_only_real_addresses(rf, remote_addr, recorded):
    from troubleshooter.ratelimit import login_client_address

    request = rf.get("/", REMOTE_ADDR=remote_addr)

    assert login_client_address(request) == recorded


def test_a_staff_sign_in_without_an_address_is_not_a_server_error(client, db):
    from django.contrib.auth.models import User

    staff = User.objects.create_user("alice", is_staff=True)

    # The test client's forced login carries no REMOTE_ADDR; on PostgreSQL the
    # sign-in log's IP column refused the placeholder text.
    client.force_login(staff)

    assert client.get("/").status_code == 200
