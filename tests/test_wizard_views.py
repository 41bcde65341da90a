"""The wizard's pages as a person (or htmx) sees them."""

import re

import pytest
from django.http import QueryDict
from django.test import Client
from django.urls import reverse

from scopes.models import Scope
from tests.datasets import add_copies
from troubleshooter.models import Feedback, ShortLink

FIX_ANSWERS = {
    "scenario": "completions",
    "context": "code",
    "key_type": "workspace_service",
    "method": "POST",
    "path": "/v1/chat/completions",
    "scopes": "logs.view",
}


def step_url(scenario: str) -> str:
    return reverse("wizard:step", args=[scenario])


def h1_count(response) -> int:
    return len(re.findall(r"<h1[\s>]", response.content.decode()))


def test_the_home_page_offers_all_seven_scenarios(client, reference):
    html = client.get("/").content.decode()

    for slug in reference.scenarios:
        assert f'href="{step_url(slug)}"' in html
    assert 'action="/start/"' in html


@pytest.mark.parametrize(
    ("scenario", "first_question"),
    [
        ("playground", "Where did the request fail?"),
        ("completions", "Which kind of API key was used?"),
        ("admin_api", "Which kind of API key was used?"),
        ("logs", "Which kind of API key was used?"),
        ("mcp", "Which kind of API key was used?"),
        ("models", "Which kind of API key was used?"),
        ("something_else", "Which kind of API key was used?"),
    ],
)
def test_each_scenario_opens_on_its_first_question(
    client, reference, scenario, first_question
):
    response = client.get(step_url(scenario))

    assert response.status_code == 200
    assert h1_count(response) == 1
    assert first_question in response.content.decode()
    assert "I don't know" in response.content.decode()


def test_an_unknown_scenario_is_a_404(client, reference):
    assert client.get(step_url("time_travel")).status_code == 404


def test_the_endpoint_list_only_shows_the_scenarios_endpoints(client, reference):
    html = client.get(
        step_url("completions"), {"key_type": "workspace_user"}
    ).content.decode()

    assert "POST /v1/chat/completions" in html
    assert "GET /v1/audit-logs" not in html


def test_the_scope_checklist_only_shows_scopes_that_matter(client, reference):
    html = client.get(
        step_url("admin_api"),
        {
            "key_type": "workspace_service",
            "method": "GET",
            "path": "/v1/integrations/{slug}",
        },
    ).content.decode()

    assert 'value="workspace_integrations.read"' in html
    assert 'value="workspace_integrations.list"' in html  # the twin people confuse
    assert 'value="completions.write"' not in html


def test_an_htmx_answer_swaps_only_the_wizard_and_pushes_the_canonical_url(
    client, reference
):
    response = client.get(
        step_url("completions"),
        {"key_type": "workspace_user", "target": "POST /v1/chat/completions"},
        headers={"hx-request": "true"},
    )

    html = response.content.decode()
    assert "<html" not in html
    assert 'id="wizard"' in html
    assert response["HX-Push-Url"] == (
        step_url("completions")
        + "?context=code&key_type=workspace_user&method=POST&path=/v1/chat/completions"
    )
    assert "HX-Request" in response["Vary"]


def test_the_last_answer_leads_to_the_fix_page(client, reference):
    response = client.get(
        step_url("completions"),
        {
            "key_type": "workspace_service",
            "method": "POST",
            "path": "/v1/chat/completions",
            "scopes_asked": "1",
            "scope": "logs.view",
        },
    )

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("wizard:fix"))
    assert "scopes=logs.view" in response["Location"]


def test_the_last_answer_over_htmx_renders_the_fix_and_pushes_its_url(
    client, reference
):
    response = client.get(
        step_url("models"),
        {"key_type": "admin"},
        headers={"hx-request": "true"},
    )

    assert "This call is refused" in response.content.decode()
    assert response["HX-Push-Url"].startswith(reverse("wizard:fix"))


def test_the_fix_page_names_the_reason_the_scope_and_where_to_turn_it_on(
    client, reference
):
    response = client.get(reverse("wizard:fix"), FIX_ANSWERS)

    html = response.content.decode()
    assert response.status_code == 200
    assert h1_count(response) == 1
    assert "This call is refused" in html
    assert "The key lacks completions.write" in html
    assert "Completions &gt; write" in html
    assert "If it still fails" in html


def test_a_tampered_link_never_fails_and_says_what_it_dropped(client, reference):
    response = client.get(
        step_url("admin_api"),
        {
            "key_type": "admin",
            "method": "POST",
            "path": "/v1/flux-capacitor",
            "role": "x",
        },
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "no longer know the endpoint" in html
    assert "Which call failed?" in html


@pytest.mark.parametrize(
    "query",
    [
        {"scopes": "\x00" * 50},
        {"key_type": ["admin", "<script>"]},
        {"path": "/" * 5000, "method": "GET"},
        {"user_keys": "-1", "context": "moon"},
    ],
)
def test_nonsense_in_the_url_gets_a_page_not_an_error(client, reference, query):
    for url in (step_url("playground"), reverse("wizard:fix")):
        response = client.get(url, query)
        assert response.status_code in (200, 302)


def test_the_share_link_reproduces_the_fix_and_carries_only_answers(client, reference):
    html = client.get(reverse("wizard:fix"), FIX_ANSWERS).content.decode()
    share = re.search(
        r'id="share-url" type="text" readonly value="([^"]+)"', html
    ).group(1)

    assert share.startswith("http://testserver/fix/?")
    again = client.get(share.replace("&amp;", "&"))
    assert "The key lacks completions.write" in again.content.decode()


def test_a_short_link_is_stable_and_shows_the_same_fix(client, reference):
    first = client.post(reverse("wizard:make-short-link"), FIX_ANSWERS)
    second = client.post(reverse("wizard:make-short-link"), FIX_ANSWERS)

    assert first.status_code == 302
    assert first["Location"] == second["Location"]
    assert ShortLink.objects.count() == 1
    page = client.get(first["Location"])
    assert "The key lacks completions.write" in page.content.decode()
    assert "has changed since this link was made" not in page.content.decode()


def test_a_short_link_says_when_the_data_changed_since_it_was_made(client, reference):
    location = client.post(reverse("wizard:make-short-link"), FIX_ANSWERS)["Location"]

    scope = Scope.objects.get(name="completions.write")
    scope.description = "Send inference requests of every kind."
    scope.save()

    html = client.get(location).content.decode()
    assert "has changed since this link was made" in html


def test_a_key_holding_every_scope_still_gets_a_short_link(client, reference):
    # On PostgreSQL the stored query was limited to 2,000 characters, so a key
    # with all 133 Admin scopes was refused with "try again later" (a 503)
    # although nothing was down.
    every_scope = sorted(
        name for name, scope in reference.scopes.items() if "admin" in scope.key_types
    )
    answers = {
        **FIX_ANSWERS,
        "key_type": "admin",
        "method": "GET",
        "path": "/v1/configs",
        "workspace_id_sent": "yes",
        "scopes": ",".join(every_scope),
    }

    made = client.post(reverse("wizard:make-short-link"), answers)

    assert len(answers["scopes"]) > 2000
    assert made.status_code == 302
    link = ShortLink.objects.get()
    assert set(QueryDict(link.query)["scopes"].split(",")) == set(every_scope)
    assert client.get(made["Location"]).status_code == 200


def test_making_a_short_link_needs_a_csrf_token(reference):
    client = Client(enforce_csrf_checks=True)

    assert (
        client.post(reverse("wizard:make-short-link"), FIX_ANSWERS).status_code == 403
    )


def test_an_unknown_short_link_is_a_404(client, reference):
    assert client.get(reverse("wizard:short-link", args=["nope"])).status_code == 404


def feedback_token(client) -> str:
    html = client.get(reverse("wizard:fix-actions"), FIX_ANSWERS).content.decode()
    return re.search(r'name="page_view" value="([^"]+)"', html).group(1)


def test_feedback_is_stored_anonymously_once_per_page_view(client, reference):
    token = feedback_token(client)

    first = client.post(reverse("wizard:feedback"), {"page_view": token, "fixed": "no"})
    again = client.post(
        reverse("wizard:feedback"), {"page_view": token, "fixed": "yes"}
    )

    assert first.status_code == 200
    assert "already have your answer" in again.content.decode()
    stored = Feedback.objects.get()
    assert stored.fixed is False
    assert stored.scenario == "completions"
    assert stored.first_reason == "missing_scope"


def test_feedback_needs_a_csrf_token(reference):
    client = Client(enforce_csrf_checks=True)
    token = feedback_token(client)

    response = client.post(
        reverse("wizard:feedback"), {"page_view": token, "fixed": "yes"}
    )

    assert response.status_code == 403
    assert Feedback.objects.count() == 0


def test_forged_feedback_is_refused(client, reference):
    response = client.post(
        reverse("wizard:feedback"), {"page_view": "made-up", "fixed": "yes"}
    )

    assert response.status_code == 400
    assert Feedback.objects.count() == 0


def test_the_ticket_lists_what_the_wizard_checked_and_placeholders_for_the_rest(
    client, reference
):
    html = client.get(reverse("wizard:fix"), FIX_ANSWERS).content.decode()

    assert "Endpoint called: POST /v1/chat/completions" in html
    assert "API key type: Workspace Service API key" in html
    assert "Checked the key type: Workspace Service API key." in html
    assert "[workspace ID]" in html
    assert "[x-portkey-trace-id]" in html
    assert 'href="mailto:support@portkey.ai?subject=' in html


def test_the_role_check_tells_a_member_to_ask_an_admin(client, reference):
    member = client.get(
        reverse("wizard:fix"), {**FIX_ANSWERS, "role": "workspace_member"}
    ).content.decode()
    owner = client.get(
        reverse("wizard:fix"), {**FIX_ANSWERS, "role": "org_owner"}
    ).content.decode()

    assert "Send this to your organisation" in member
    assert "apply this fix yourself" in owner


@pytest.mark.parametrize("size", ["shipped", "ten_times"])
def test_warm_wizard_pages_run_only_the_version_query(
    client, reference, django_assert_num_queries, size
):
    if size == "ten_times":
        add_copies(9)
    urls = [
        "/",
        step_url("admin_api") + "?key_type=admin",
        step_url("completions")
        + "?key_type=workspace_user&target=POST+/v1/chat/completions",
        reverse("wizard:fix")
        + "?"
        + "&".join(f"{k}={v}" for k, v in FIX_ANSWERS.items()),
    ]
    for url in urls:
        client.get(url)  # warm the snapshot

    for url in urls:
        with django_assert_num_queries(1):  # SELECT the data version stamp
            assert client.get(url).status_code == 200


def test_not_knowing_the_call_leads_to_the_general_checks_in_order(client, reference):
    response = client.get(
        step_url("something_else"), {"key_type": "admin", "target": "unknown"}
    )
    assert response.status_code == 302

    page = client.get(response["Location"])

    html = page.content.decode()
    assert page.status_code == 200
    assert h1_count(page) == 1
    positions = [html.index(f"<h2>{n}. ") for n in range(1, 5)]
    assert positions == sorted(positions)
    assert "You used the <strong>Admin API key</strong>" in html
    for code in reference.scenarios["something_else"].causes:
        assert f'data-cause="{code}"' in html


def test_the_fix_page_is_the_same_for_everyone_and_loads_its_forms_apart(
    client, reference
):
    first = client.get(reverse("wizard:fix"), FIX_ANSWERS)
    again = client.get(reverse("wizard:fix"), FIX_ANSWERS)
    revalidated = client.get(
        reverse("wizard:fix"), FIX_ANSWERS, headers={"if-none-match": first["ETag"]}
    )
    actions = client.get(reverse("wizard:fix-actions"), FIX_ANSWERS)

    assert first.content == again.content
    assert "csrfmiddlewaretoken" not in first.content.decode()
    assert revalidated.status_code == 304
    assert 'hx-get="/fix/actions/?' in first.content.decode()
    assert 'href="/fix/actions/?' in first.content.decode()
    html = actions.content.decode()
    assert h1_count(actions) == 1
    assert "csrfmiddlewaretoken" in html
    assert 'name="page_view"' in html
    assert (
        "no-cache" in actions["Cache-Control"]
        or "max-age=0" in actions["Cache-Control"]
    )


def test_the_forms_arrive_as_a_fragment_over_htmx(client, reference):
    response = client.get(
        reverse("wizard:fix-actions"), FIX_ANSWERS, headers={"hx-request": "true"}
    )

    html = response.content.decode()
    assert "<html" not in html
    assert "Did this fix it?" in html
    assert "Make a short link" in html


def test_a_cached_redirect_stays_a_redirect_whatever_the_preconditions(
    client, reference
):
    # Found by `make fuzz`: "If-None-Match: *" turned a cached redirect into a
    # 304 with no Location, leaving the browser nowhere to go. Preconditions
    # apply to successful answers only (RFC 9110, 13.2.1).
    untidy = {"scenario": "completions", "scopes_text": ""}
    first = client.get(reverse("wizard:fix"), untidy)
    again = client.get(reverse("wizard:fix"), untidy, headers={"if-none-match": "*"})

    assert first.status_code == 302
    assert again.status_code == 302
    assert again["Location"] == first["Location"]


def test_the_call_list_does_not_grow_with_the_reference_data(client, reference):
    url = step_url("completions") + "?key_type=workspace_service"
    normal = client.get(url).content

    add_copies(9)
    larger = client.get(url)

    html = larger.content.decode()
    assert len(larger.content) < 1.25 * len(normal)
    assert html.count('name="target"') == 40 + 1  # plus "I don't know which call"
    assert "360 calls; the first 40 are shown" in html
    show_all = re.search(r'<a href="([^"]+show=all[^"]*)"', html).group(1)
    everything = client.get(show_all.replace("&amp;", "&")).content.decode()
    assert everything.count('name="target"') == 360 + 1


def test_typing_a_path_finds_the_call_without_javascript(client, reference):
    add_copies(9)  # so the call is far beyond the first page of the list

    page = client.get(
        step_url("admin_api"),
        {"key_type": "workspace_service", "find": "GET /v1/configs/pc-123"},
    )

    html = page.content.decode()
    assert page.status_code == 200
    assert '<input type="radio" name="target" value="GET /v1/configs/{slug}"' in html
    assert "1 of " in html and "calls match “GET /v1/configs/pc-123”" in html
    assert 'value="GET /v1/configs/pc-123"' in html  # the box keeps what was typed
    answered = client.get(
        step_url("admin_api"),
        {"key_type": "workspace_service", "target": "GET /v1/configs/{slug}"},
    )
    assert "Which of these scopes does the key have?" in answered.content.decode()


def test_live_filtering_swaps_the_list_alone_and_is_cached_apart(client, reference):
    query = {"key_type": "admin", "find": "integrations models"}
    as_list = {"hx-request": "true", "hx-target": "target-list"}

    the_list = client.get(step_url("admin_api"), query, headers=as_list)
    the_wizard = client.get(
        step_url("admin_api"),
        query,
        headers={"hx-request": "true", "hx-target": "wizard"},
    )
    again = client.get(step_url("admin_api"), query, headers=as_list)

    html = the_list.content.decode()
    assert html.lstrip().startswith('<div id="target-list"')
    assert "<h1" not in html and "HX-Push-Url" not in the_list
    assert "/v1/integrations/{slug}/models" in html
    assert 'id="wizard"' in the_wizard.content.decode()
    assert again.content == the_list.content
    assert "HX-Target" in the_list["Vary"]


def test_a_search_that_matches_nothing_says_so(client, reference):
    html = client.get(
        step_url("mcp"), {"key_type": "admin", "find": "<script>alert(1)</script>"}
    ).content.decode()

    assert "No call in this list matches" in html
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_cached_fix_page_links_to_the_host_it_was_asked_on(
    client, reference, settings
):
    # The page cache was keyed by path alone, so a site reachable under two
    # names served the share link of whichever name asked first.
    settings.ALLOWED_HOSTS = ["testserver", "scopedoctor.example"]
    url = (
        reverse("wizard:fix")
        + "?"
        + "&".join(f"{k}={v}" for k, v in FIX_ANSWERS.items())
    )

    client.get(url, headers={"host": "scopedoctor.example"})
    here = client.get(url).content.decode()

    assert 'value="http://testserver/fix/?' in here
    assert "scopedoctor.example" not in here


KEY = "pkTESTabcdef0123456789XYZsecret"
CURL = (
    f"curl -H 'x-portkey-api-key: {KEY}' "
    "https://api.portkey.ai/v1/chat/completions -d '{}'"
)


def test_a_key_pasted_into_the_find_box_leaves_the_address_bar(client, reference):
    url = step_url("completions")

    pasted = client.get(url, {"key_type": "workspace_service", "find": CURL})
    landed = client.get(pasted["Location"])

    assert pasted.status_code == 302
    assert KEY not in pasted["Location"]
    assert "%5Bmasked%5D" in pasted["Location"]
    html = landed.content.decode()
    assert KEY not in html
    assert '<input type="radio" name="target" value="POST /v1/chat/completions"' in html


def test_a_key_in_a_live_search_is_masked_before_it_is_echoed(client, reference):
    found = client.get(
        step_url("completions"),
        {"key_type": "workspace_service", "find": CURL},
        headers={"hx-request": "true", "hx-target": "target-list"},
    )

    html = found.content.decode()
    assert found.status_code == 200
    assert KEY not in html
    assert "POST /v1/chat/completions" in html
