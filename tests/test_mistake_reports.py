"""Reporting a mistake: the form on every row's page, its protections, and
what staff see in the admin."""

import re
from html import unescape

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from scopes.models import Scope
from tests.factories import staff
from troubleshooter.models import MistakeReport
from troubleshooter.ratelimit import limit_for

REPORT = reverse("reference:report")
SCOPE_PAGE = reverse("reference:scope", args=["logs.view"])
ENDPOINT_PAGE = reverse("reference:endpoint", args=["GET", "v1/models"])
GOOD = {
    "kind": "scope",
    "key": "logs.view",
    "message": "The dialog now calls this Logs > view details, not Logs > view.",
    "source_url": "https://portkey.ai/docs/example",
}
CHANGELIST = reverse("admin:troubleshooter_mistakereport_changelist")


@pytest.fixture(autouse=True)
def _empty_cache():
    # The rate limit lives in the shared cache; each test starts with none.
    cache.clear()
    yield
    cache.clear()


def field_block(html: str, name: str) -> str:
    """The form field's wrapper: its label, errors, input and help text."""
    start = html.index(f'<label for="id_{name}">')
    return html[
        html.rindex('<div class="field', 0, start) : html.index("</div>", start)
    ]


def test_a_report_is_stored_with_its_row_and_status_new(client, reference):
    response = client.post(REPORT, GOOD)

    assert response.status_code == 302
    assert response["Location"] == SCOPE_PAGE + "?reported=1#report"
    report = MistakeReport.objects.get()
    assert (report.kind, report.key, report.status) == ("scope", "logs.view", "new")
    assert report.message == GOOD["message"]
    assert report.source_url == GOOD["source_url"]
    assert report.data_version == reference.version
    thanks = client.get(response["Location"]).content.decode()
    assert "Thank you: your report is with our editors" in thanks


def test_an_endpoint_report_names_the_endpoint_by_method_and_path(client, reference):
    response = client.post(
        REPORT, {**GOOD, "kind": "endpoint", "key": "GET /v1/models"}
    )

    assert response["Location"] == ENDPOINT_PAGE + "?reported=1#report"
    assert MistakeReport.objects.get().key == "GET /v1/models"


def test_a_report_without_a_csrf_token_is_refused(reference):
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(REPORT, GOOD)

    assert response.status_code == 403
    assert not MistakeReport.objects.exists()


def test_a_report_from_the_page_with_its_csrf_token_is_accepted(reference):
    strict = Client(enforce_csrf_checks=True)
    html = strict.get(SCOPE_PAGE).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)

    response = strict.post(REPORT, {**GOOD, "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert MistakeReport.objects.count() == 1


def test_a_too_short_report_shows_the_error_next_to_the_field_and_keeps_the_text(
    client, reference
):
    response = client.post(REPORT, {**GOOD, "message": "  wrong  "})

    assert response.status_code == 400
    html = response.content.decode()
    assert len(re.findall(r"<h1[\s>]", html)) == 1
    block = field_block(html, "message")
    assert "Please say a little more" in block
    assert 'aria-invalid="true"' in block
    assert ">\n  wrong  </textarea>" in block
    assert 'value="https://portkey.ai/docs/example"' in field_block(html, "source_url")
    assert not MistakeReport.objects.exists()


def test_a_bad_source_shows_its_error_there_and_keeps_the_message(client, reference):
    response = client.post(REPORT, {**GOOD, "source_url": "javascript:alert(1)"})

    html = unescape(response.content.decode())
    assert response.status_code == 400
    assert "Enter a valid URL" in field_block(html, "source_url")
    assert "Please say" not in field_block(html, "message")
    assert GOOD["message"] in field_block(html, "message")
    assert not MistakeReport.objects.exists()


def test_an_ftp_source_is_refused_with_a_clear_message(client, reference):
    response = client.post(REPORT, {**GOOD, "source_url": "ftp://example.com/doc"})

    assert "starting with https:// or http://" in field_block(
        response.content.decode(), "source_url"
    )


def test_a_report_on_a_row_that_no_longer_exists_keeps_the_text(client, reference):
    response = client.post(REPORT, {**GOOD, "key": "logs.gone"})

    html = unescape(response.content.decode())
    assert response.status_code == 400
    assert "We could not find what you were reporting" in html
    assert GOOD["message"] in html
    assert not MistakeReport.objects.exists()


def test_secrets_pasted_into_a_report_are_masked_before_storing(client, reference):
    message = "My key x-portkey-api-key: pk-abcdef1234567890abcdef1234 was refused."

    client.post(REPORT, {**GOOD, "message": message})

    stored = MistakeReport.objects.get().message
    assert "abcdef1234567890" not in stored
    assert "[masked]" in stored


def test_a_client_over_the_limit_gets_a_429_with_retry_after_and_its_text(
    client, reference
):
    for _ in range(limit_for("report").requests):
        assert client.post(REPORT, GOOD).status_code == 302

    response = client.post(REPORT, {**GOOD, "message": "One report too many here."})

    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= limit_for("report").window
    html = response.content.decode()
    assert len(re.findall(r"<h1[\s>]", html)) == 1
    assert "Please wait before sending another report" in html
    assert "One report too many here." in html
    assert MistakeReport.objects.count() == limit_for("report").requests


def test_the_limit_is_per_client(client, reference):
    for _ in range(limit_for("report").requests):
        client.post(REPORT, GOOD, REMOTE_ADDR="203.0.113.7")

    other = client.post(REPORT, GOOD, REMOTE_ADDR="203.0.113.8")
    limited = client.post(REPORT, GOOD, REMOTE_ADDR="203.0.113.7")

    assert other.status_code == 302
    assert limited.status_code == 429


def test_the_limit_lives_in_the_shared_cache(client, reference):
    for _ in range(limit_for("report").requests):
        client.post(REPORT, GOOD)
    assert client.post(REPORT, GOOD).status_code == 429

    cache.clear()

    assert client.post(REPORT, GOOD).status_code == 302


def test_fixing_a_validation_error_does_not_use_up_the_limit(client, reference):
    for _ in range(limit_for("report").requests * 2):
        assert client.post(REPORT, {**GOOD, "message": "short"}).status_code == 400

    assert client.post(REPORT, GOOD).status_code == 302


def test_reports_are_only_accepted_by_post(client, reference):
    assert client.get(REPORT).status_code == 405


# -- The admin --------------------------------------------------------------


@pytest.fixture
def report(reference):
    return MistakeReport.objects.create(
        kind="scope", key="logs.view", message=GOOD["message"], data_version=1
    )


def with_permissions(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def test_anonymous_visitors_are_sent_to_the_admin_login(client, report):
    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_staff_without_the_permission_cannot_see_reports(client, report):
    client.force_login(staff("nobody"))

    assert client.get(CHANGELIST).status_code == 403


def test_viewers_read_reports_but_cannot_change_their_status(client, report):
    client.force_login(staff("viewer", group="Viewers"))
    change = reverse("admin:troubleshooter_mistakereport_change", args=[report.pk])

    listing = client.get(CHANGELIST).content.decode()
    refused = client.post(change, {"status": "fixed", "staff_note": ""})

    assert "logs.view" in listing
    assert refused.status_code == 403
    report.refresh_from_db()
    assert report.status == "new"


def test_editors_move_a_report_to_fixed_and_follow_it_to_the_row(client, report):
    client.force_login(staff("editor", group="Editors"))
    change = reverse("admin:troubleshooter_mistakereport_change", args=[report.pk])

    page = client.get(change).content.decode()
    saved = client.post(change, {"status": "fixed", "staff_note": "Renamed upstream."})

    scope_pk = Scope.objects.get(name="logs.view").pk
    assert reverse("admin:scopes_scope_change", args=[scope_pk]) in page
    assert SCOPE_PAGE in page
    assert saved.status_code == 302
    report.refresh_from_db()
    assert (report.status, report.staff_note) == ("fixed", "Renamed upstream.")
    assert report.message == GOOD["message"]


def test_the_bulk_actions_need_the_change_permission(client, report):
    viewer = with_permissions(staff("reader"), "view_mistakereport")
    client.force_login(viewer)
    listing = client.get(CHANGELIST).content.decode()
    assert "mark_rejected" not in listing

    editor = with_permissions(
        staff("closer"), "view_mistakereport", "change_mistakereport"
    )
    client.force_login(editor)
    response = client.post(
        CHANGELIST,
        {"action": "mark_rejected", "_selected_action": [report.pk]},
    )

    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == "rejected"


def test_staff_cannot_add_reports_by_hand(client, report):
    client.force_login(staff("editor", group="Editors"))

    response = client.get(reverse("admin:troubleshooter_mistakereport_add"))

    assert response.status_code == 403


def test_the_admin_filters_reports_by_status(client, report):
    MistakeReport.objects.create(
        kind="endpoint",
        key="GET /v1/models",
        message="Also accepts virtual_keys.read.",
        data_version=1,
        status="confirmed",
    )
    client.force_login(staff("editor", group="Editors"))

    confirmed = client.get(CHANGELIST, {"status__exact": "confirmed"}).content.decode()

    assert "GET /v1/models" in confirmed
    assert "logs.view" not in confirmed


def test_a_report_costs_two_queries(client, reference, django_assert_num_queries):
    client.get(SCOPE_PAGE)  # warm the snapshot

    with django_assert_num_queries(2):  # SELECT the data version; INSERT the report
        assert client.post(REPORT, GOOD).status_code == 302
