"""The reference pages, the key simulator and the key builder as people see
them: stable addresses, one heading, the facts, state in the URL, and a
query budget that does not grow with the data."""

import json
import re
from html import unescape
from urllib.parse import quote

import pytest
from django.urls import reverse

from scopes.models import Endpoint, Scope
from tests.datasets import add_copies
from troubleshooter.templatetags.reference_tags import anchor, ref_url

SIMULATOR = reverse("reference:simulator")
BUILDER = reverse("reference:builder")
MATRIX = reverse("reference:endpoints")


def h1_count(html: str) -> int:
    return len(re.findall(r"<h1[\s>]", html))


def page(client, url, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200, url
    html = response.content.decode()
    assert h1_count(html) == 1, url
    return html


def list_pages(snapshot) -> list[str]:
    return [
        reverse("reference:index"),
        reverse("reference:scopes"),
        MATRIX,
        reverse("reference:causes"),
        reverse("reference:search"),
        SIMULATOR,
        BUILDER,
        *(reverse("reference:key-type", args=[slug]) for slug in snapshot.key_types),
    ]


def test_every_list_page_answers_with_exactly_one_heading(client, reference):
    for url in list_pages(reference):
        page(client, url)


def test_every_scope_endpoint_and_task_has_its_own_page_with_a_report_form(
    client, reference
):
    rows = [
        *reference.scopes.values(),
        *reference.endpoints,
        *reference.operations.values(),
    ]
    for row in rows:
        html = page(client, ref_url(row))
        assert 'action="/reference/report/"' in html, ref_url(row)
        assert "csrfmiddlewaretoken" in html


def test_row_addresses_are_readable_and_stable(reference):
    chat = reference.endpoint("POST", "/v1/chat/completions")
    models = reference.endpoint("GET", "/v1/integrations/{slug}/models")

    assert ref_url(reference.scopes["logs.view"]) == "/reference/scopes/logs.view/"
    assert ref_url(chat) == "/reference/endpoints/POST/v1/chat/completions/"
    assert ref_url(models) == (
        "/reference/endpoints/GET/v1/integrations/%7Bslug%7D/models/"
    )
    assert ref_url(reference.operations["playground-test"]) == (
        "/reference/tasks/playground-test/"
    )


def test_every_row_has_a_unique_anchor_on_its_list_page(client, reference):
    scopes_html = page(client, reverse("reference:scopes"))
    matrix_html = page(client, MATRIX)

    for scope in reference.scopes.values():
        assert f'id="{anchor(scope)}"' in scopes_html
    targets = [*reference.endpoints, *reference.operations.values()]
    anchors = [anchor(t) for t in targets]
    assert len(set(anchors)) == len(anchors)
    for name in anchors:
        assert f'id="{name}"' in matrix_html
    assert len(re.findall(r'\sid="([^"]+)"', matrix_html)) == len(
        set(re.findall(r'\sid="([^"]+)"', matrix_html))
    )


def test_a_scope_page_shows_its_facts_and_the_calls_that_need_it(client, reference):
    scope = reference.scopes["configs.list"]

    html = unescape(page(client, ref_url(scope)))

    assert scope.description in html
    assert scope.enabled_at in html
    assert (
        '<a href="/reference/endpoints/GET/v1/configs/"><code>GET /v1/configs' in html
    )
    assert "Workspace Service API key" in html
    logs_view = unescape(page(client, reverse("reference:scope", args=["logs.view"])))
    assert "Open one log's details" in logs_view
    twin = next(s for s in reference.scopes.values() if s.legacy_twin)
    twin_html = unescape(page(client, ref_url(twin)))
    assert f'href="/reference/scopes/{twin.legacy_twin}/"' in twin_html
    dated = next(s for s in reference.scopes.values() if s.introduced_in)
    assert dated.introduced_in in unescape(page(client, ref_url(dated)))


def test_a_scope_page_says_what_else_a_call_accepts(client, reference):
    # GET /v1/models takes completions.write or virtual_keys.list.
    html = page(client, reverse("reference:scope", args=["virtual_keys.list"]))

    start = html.index("GET /v1/models</code>")
    assert "or instead <code>completions.write</code>" in html[start : start + 400]


def test_an_endpoint_page_shows_requirements_source_date_and_a_wizard_link(
    client, reference
):
    endpoint = reference.endpoint("POST", "/v1/integrations")

    html = unescape(page(client, ref_url(endpoint)))

    for alternative in endpoint.alternatives:
        for name in alternative:
            assert f"/reference/scopes/{name}/" in html
    assert endpoint.source_url in html
    assert endpoint.verified_on.strftime("%Y-%m-%d") in html
    link = re.search(r'href="(/start/\?[^"]+)"', html).group(1)
    assert link == "/start/?method=POST&path=/v1/integrations"


def test_the_diagnose_link_of_every_endpoint_reaches_the_wizard(client, reference):
    for endpoint in reference.endpoints[::10]:
        html = page(client, ref_url(endpoint))
        link = unescape(re.search(r'href="(/start/\?[^"]+)"', html).group(1))

        response = client.get(link, follow=True)

        assert response.status_code == 200, endpoint.label
        assert response.redirect_chain[0][0].startswith("/diagnose/")


def test_an_inferred_endpoint_says_so_with_its_note(client, reference):
    inferred = next(e for e in reference.endpoints if e.provenance == "inferred")

    html = unescape(page(client, ref_url(inferred)))

    assert "Inferred" in html
    assert inferred.notes in html


def test_a_concrete_path_or_lower_case_method_redirects_to_the_template_page(
    client, reference
):
    response = client.get("/reference/endpoints/get/v1/integrations/openai/models/")

    assert response.status_code == 301
    assert response["Location"] == (
        "/reference/endpoints/GET/v1/integrations/%7Bslug%7D/models/"
    )


@pytest.mark.parametrize(
    "url",
    [
        "/reference/scopes/no_such.scope/",
        "/reference/scopes/%3Cscript%3E/",
        "/reference/endpoints/GET/v1/nowhere/",
        "/reference/endpoints/BREW/v1/chat/completions/",
        "/reference/tasks/no-such-task/",
        "/reference/key-types/root/",
    ],
)
def test_unknown_rows_are_a_friendly_404(client, reference, url):
    response = client.get(url)

    assert response.status_code == 404


def test_the_matrix_lists_every_endpoint_and_task_with_its_facts(client, reference):
    html = unescape(page(client, MATRIX))

    for endpoint in reference.endpoints:
        assert f"<code>{endpoint.label}</code>" in html
    for task in reference.operations.values():
        assert task.summary in html
    assert html.count(">Documented</a>") + html.count(">Inferred</a>") == len(
        reference.endpoints
    ) + len(reference.operations)
    assert "/start/?method=POST&path=/v1/chat/completions" in html


def test_the_matrix_does_not_load_notes_it_does_not_show(client, reference):
    noted = [e for e in reference.endpoints if len(e.notes) > 80]

    html = unescape(page(client, MATRIX))

    assert noted
    assert not any(e.notes in html for e in noted)


def test_an_edit_to_the_data_shows_at_once_on_the_list_pages(client, reference):
    page(client, MATRIX)
    page(client, reverse("reference:scopes"))
    endpoint = Endpoint.objects.get(method="GET", path="/v1/models")
    endpoint.summary = "List every model this key may use"
    endpoint.save()
    scope = Scope.objects.get(name="logs.view")
    scope.description = "Open the full record of one logged request."
    scope.save()

    assert "List every model this key may use" in page(client, MATRIX)
    assert "Open the full record of one logged request." in page(
        client, reverse("reference:scopes")
    )


def test_the_matrix_filters_by_plane_and_key_type(client, reference):
    data_plane = unescape(page(client, MATRIX, plane="data"))
    admin_data = page(client, MATRIX, plane="data", key_type="admin")

    for endpoint in reference.endpoints:
        shown = f"<code>{endpoint.label}</code>" in data_plane
        assert shown == (endpoint.plane == "data"), endpoint.label
    assert "Nothing matches these filters" in admin_data


def test_nonsense_filters_are_ignored(client, reference):
    html = page(client, MATRIX, plane="<x>", key_type="root", area="nowhere")

    assert "Showing" not in html
    assert f"{len(reference.endpoints) + len(reference.operations)} calls." in html


def test_the_header_links_to_the_reference_and_the_key_tools(client, reference):
    html = page(client, "/")

    for url in (reverse("reference:index"), SIMULATOR, BUILDER):
        assert f'<li><a href="{url}">' in html


# -- The key simulator ------------------------------------------------------


def rows(html: str) -> dict[str, str]:
    """The verdict shown for each call in a simulator page."""
    found = {}
    for row in re.findall(
        r'<tr class="verdict-row (\w+)">\s*<th[^>]*>(.*?)</th>', html, re.S
    ):
        verdict, cell = row
        found[unescape(re.sub(r"<[^>]+>", "", cell)).strip()] = verdict
    return found


def test_the_simulator_shows_every_call_as_allowed_or_denied(client, reference):
    html = page(
        client,
        SIMULATOR,
        key_type="workspace_service",
        scopes="completions.write,logs.view",
    )

    verdicts = rows(html)
    assert len(verdicts) == len(reference.endpoints) + len(reference.operations)
    assert verdicts["POST /v1/chat/completions"] == "allowed"
    assert verdicts["GET /v1/logs/{log_id}"] == "allowed"
    assert verdicts["GET /v1/configs"] == "denied"
    assert "Add <a" in html and "configs.list" in html


def test_the_simulator_reads_ticked_and_pasted_scopes_and_shares_a_clean_link(
    client, reference
):
    html = unescape(
        page(
            client,
            SIMULATOR,
            key_type="workspace_user",
            scope=["completions.write"],
            scopes_text='["portkey.logs.view", "not-a-scope", "audit_logs.list"]',
        )
    )

    assert rows(html)["GET /v1/logs/{log_id}"] == "allowed"
    assert "We ignored names that are not scopes: not-a-scope." in html
    assert "cannot hold audit_logs.list" in html
    share = re.search(r'id="share-url" type="text" readonly value="([^"]+)"', html)
    assert share.group(1).endswith(
        "/keys/simulator/?key_type=workspace_user&scopes=completions.write,logs.view"
    )


def test_a_shared_simulation_link_shows_the_same_result(client, reference):
    form = page(
        client,
        SIMULATOR,
        key_type="admin",
        scope=["prompts.read"],
        workspace_id="no",
        plan="other",
    )
    link = unescape(re.search(r'id="share-url"[^>]*value="([^"]+)"', form).group(1))

    shared = page(client, link.removeprefix("http://testserver"))

    assert rows(shared) == rows(form)
    assert 'value="no" selected' in shared and 'value="other" selected' in shared


def test_the_denied_filter_hides_the_allowed_calls(client, reference):
    html = page(
        client,
        SIMULATOR,
        key_type="workspace_user",
        scopes="completions.write",
        show="denied",
    )

    verdicts = rows(html)
    assert verdicts and set(verdicts.values()) == {"denied"}
    current = re.search(r'<a href="([^"]+)" aria-current="page">', html).group(1)
    assert unescape(current) == (
        "/keys/simulator/?key_type=workspace_user&scopes=completions.write&show=denied"
    )


def test_an_admin_key_is_told_why_it_cannot_make_inference_calls(client, reference):
    html = unescape(page(client, SIMULATOR, key_type="admin", scopes="logs.view"))

    assert rows(html)["POST /v1/chat/completions"] == "denied"
    assert "Admin API keys cannot make data-plane calls" in html


def test_the_simulator_without_a_key_type_asks_for_one(client, reference):
    html = page(client, SIMULATOR, key_type="root", scopes="logs.view")

    assert "We did not recognise the key type" in html
    assert "verdict-row" not in html


# -- The key builder --------------------------------------------------------


def test_the_builder_plans_two_keys_when_one_cannot_do_everything(client, reference):
    html = unescape(
        page(
            client,
            BUILDER,
            want=["POST /v1/chat/completions", "op:invite-organisation-users"],
        )
    )

    assert "Create 2 keys" in html
    assert "No single key type can do everything" in html
    blocks = re.findall(r'<pre id="json-\d+"[^>]*>(.*?)</pre>', html, re.S)
    assert [json.loads(block) for block in blocks] == [
        {"scopes": ["completions.write"]},
        {"scopes": ["organisation_users.create"]},
    ]
    checklist = re.search(r'<pre id="checklist"[^>]*>(.*?)</pre>', html, re.S).group(1)
    assert "[ ] Turn on completions.write" in checklist
    assert "[ ] Turn on organisation_users.create" in checklist
    assert reference.scopes["organisation_users.create"].enabled_at in html


def test_the_builder_takes_a_whole_area_and_keeps_it_in_the_link(client, reference):
    html = unescape(page(client, BUILDER, area="MCP servers"))

    assert "Create one Workspace Service API key" in html
    for name in ("mcp_servers.create", "mcp_servers.list", "mcp_servers.delete"):
        assert f'"{name}"' in html
    assert 'name="area" value="MCP servers" checked' in html
    assert "/keys/builder/?area=MCP+servers" in html


def test_each_planned_key_links_to_the_simulator_which_allows_its_calls(
    client, reference
):
    html = unescape(
        page(client, BUILDER, want=["GET /v1/models", "GET /v1/logs/{log_id}"])
    )
    link = re.search(r'href="(/keys/simulator/\?[^"]+)">Check this key', html).group(1)

    verdicts = rows(page(client, link))

    assert verdicts["GET /v1/models"] == "allowed"
    assert verdicts["GET /v1/logs/{log_id}"] == "allowed"


def test_the_builder_says_which_picks_it_no_longer_knows(client, reference):
    html = unescape(
        page(client, BUILDER, want=["GET /v1/gone", "op:nothing"], area="Nowhere")
    )

    assert "We no longer know these calls: GET /v1/gone, op:nothing." in html
    assert "We ignored an area we no longer know." in html
    assert 'id="plan"' not in html


def test_an_endpoint_page_offers_to_plan_a_key_for_it(client, reference):
    endpoint = reference.endpoint("POST", "/v1/chat/completions")
    html = page(client, ref_url(endpoint))

    link = unescape(re.search(r'href="(/keys/builder/\?want=[^"]+)"', html).group(1))

    assert link == "/keys/builder/?want=" + quote("POST /v1/chat/completions")
    assert "Create one Workspace Service API key" in unescape(page(client, link))


# -- Query budget -----------------------------------------------------------


@pytest.mark.parametrize("size", ["shipped", "ten_times"])
def test_warm_reference_pages_run_only_the_version_query_whatever_the_size(
    client, reference, django_assert_num_queries, size
):
    if size == "ten_times":
        add_copies(9)
    urls = [
        *list_pages(reference),
        reverse("reference:scope", args=["logs.view"]),
        ref_url(reference.endpoint("POST", "/v1/chat/completions")),
        ref_url(reference.operations["playground-test"]),
        MATRIX + "?plane=data",
        SIMULATOR + "?key_type=workspace_service&scopes=completions.write,logs.view",
        SIMULATOR + "?key_type=admin&scopes=logs.view&show=denied",
        BUILDER + "?area=MCP+servers&want=op:invite-organisation-users",
    ]
    for url in urls:
        client.get(url)  # warm the snapshot

    for url in urls:
        with django_assert_num_queries(1):  # SELECT the data version stamp
            assert client.get(url).status_code == 200, url
