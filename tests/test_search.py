"""Search: real questions find the right rows, exact names and paths first,
on SQLite (in-memory scorer) and on PostgreSQL (full-text search) alike."""

import re

import pytest
from django.db import connection
from django.urls import reverse

from tests.datasets import add_copies
from troubleshooter.caching import page_store
from troubleshooter.search import search

SEARCH = reverse("reference:search")

# (question, the first result as (kind, key)): the same on every database.
EXACT_FIRST = [
    ("logs.view", ("scope", "logs.view")),
    ("completions.write", ("scope", "completions.write")),
    ("portkey.completions.write", ("scope", "completions.write")),
    ("Which scope is audit_logs.list?", ("scope", "audit_logs.list")),
    ("POST /v1/chat/completions", ("endpoint", "POST /v1/chat/completions")),
    ("/v1/chat/completions", ("endpoint", "POST /v1/chat/completions")),
    ("/chat/completions", ("endpoint", "POST /v1/chat/completions")),
    (
        "https://api.portkey.ai/v1/chat/completions?stream=true",
        ("endpoint", "POST /v1/chat/completions"),
    ),
    (
        "which scope do I need for POST /v1/integrations",
        ("endpoint", "POST /v1/integrations"),
    ),
    (
        "GET /v1/integrations/openai/models",
        ("endpoint", "GET /v1/integrations/{slug}/models"),
    ),
    ("delete /v1/configs/my-config", ("endpoint", "DELETE /v1/configs/{slug}")),
    ("playground-test", ("operation", "playground-test")),
    ("Invite people to the organisation", ("operation", "invite-organisation-users")),
    ("wrong_key_type", ("cause", "wrong_key_type")),
    ("Rotate an API key's secret", ("endpoint", "POST /v1/api-keys/{id}/rotate")),
]

# (question, rows that must all be among the first ``top`` results).
FOUND_NEAR_THE_TOP = [
    ("rotate key", 1, [("endpoint", "POST /v1/api-keys/{id}/rotate")]),
    (
        "rotate key",
        4,
        [
            ("scope", "organisation_service_api_keys.rotate"),
            ("scope", "workspace_service_api_keys.rotate"),
        ],
    ),
    (
        "audit logs",
        2,
        [("scope", "audit_logs.list"), ("endpoint", "GET /v1/audit-logs")],
    ),
    ("playground", 1, [("operation", "playground-test")]),
    ("playground", 2, [("cause", "playground_needs_user_key")]),
    ("list logs", 5, [("scope", "logs.list"), ("operation", "list-logs")]),
    ("admin key chat completions", 2, [("cause", "admin_key_on_data_plane")]),
    ("prompt render", 2, [("scope", "prompts.render")]),
    ("rota", 5, [("endpoint", "POST /v1/api-keys/{id}/rotate")]),
    (
        "Why can my admin key not call embeddings",
        1,
        [("endpoint", "POST /v1/embeddings")],
    ),
    (
        "Why can my admin key not call embeddings",
        4,
        [("cause", "admin_key_on_data_plane")],
    ),
]


def keys_of(results, top=None):
    return [(hit.kind, hit.key) for hit in results.hits[:top]]


@pytest.mark.parametrize(("question", "expected"), EXACT_FIRST)
def test_exact_names_and_paths_come_first_on_this_database(
    reference, question, expected
):
    results = search(reference, question)

    assert keys_of(results)[0] == expected
    assert results.hits[0].match == "exact"


@pytest.mark.parametrize(("question", "expected"), EXACT_FIRST)
def test_the_in_memory_fallback_gives_the_same_first_result(
    reference, question, expected
):
    on_this_database = search(reference, question)

    in_memory = search(reference, question, backend="memory")

    assert keys_of(in_memory)[0] == keys_of(on_this_database)[0] == expected


@pytest.mark.parametrize(("question", "top", "expected"), FOUND_NEAR_THE_TOP)
@pytest.mark.parametrize("backend", [None, "memory"])
def test_real_questions_find_the_right_rows_near_the_top(
    reference, question, top, expected, backend
):
    results = search(reference, question, backend=backend)

    for row in expected:
        assert row in keys_of(results, top), keys_of(results, 8)


@pytest.mark.parametrize("backend", [None, "memory"])
def test_a_task_in_words_finds_the_rows_of_its_area(reference, backend):
    results = search(reference, "manage mcp servers", backend=backend)

    top = keys_of(results, 5)
    assert len(top) == 5
    for kind, key in top:
        assert "mcp-servers" in key or key.startswith("mcp_servers."), (kind, key)


def test_the_scopes_a_matched_call_needs_follow_it(reference):
    results = search(reference, "which scope do I need for POST /v1/integrations")

    assert keys_of(results, 3) == [
        ("endpoint", "POST /v1/integrations"),
        ("scope", "organisation_integrations.create"),
        ("scope", "workspace_integrations.create"),
    ]
    assert results.hits[1].needed_by == "POST /v1/integrations"


def test_a_path_without_a_method_finds_every_method_on_it(reference):
    results = search(reference, "/v1/integrations/openai/models")

    exact = [hit.key for hit in results.exact]
    assert exact == [
        "GET /v1/integrations/{slug}/models",
        "PUT /v1/integrations/{slug}/models",
        "DELETE /v1/integrations/{slug}/models",
    ]


def test_every_scope_and_endpoint_finds_itself_first_on_both_backends(reference):
    for name in reference.scopes:
        for backend in (None, "memory"):
            assert keys_of(search(reference, name, backend=backend))[0] == (
                "scope",
                name,
            )
    for endpoint in reference.endpoints:
        for backend in (None, "memory"):
            first = keys_of(search(reference, endpoint.label, backend=backend))[0]
            assert first == ("endpoint", endpoint.label)


def test_questions_of_only_filler_words_find_nothing_without_failing(reference):
    assert search(reference, "which do I need for the").hits == ()
    assert search(reference, "?!,;").hits == ()


# -- The page ---------------------------------------------------------------


def test_the_search_page_shows_ranked_results_with_exact_matches_marked(
    client, reference
):
    response = client.get(
        SEARCH, {"q": "which scope do I need for POST /v1/integrations"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert len(re.findall(r"<h1[\s>]", html)) == 1
    first = html.index("POST /v1/integrations</code>")
    assert (
        html.index("Exact match")
        < first
        < html.index("organisation_integrations.create")
    )
    assert 'href="/reference/endpoints/POST/v1/integrations/"' in html
    assert 'href="/reference/scopes/organisation_integrations.create/"' in html


def test_typing_asks_for_the_results_partial_and_gets_only_that(client, reference):
    response = client.get(SEARCH, {"q": "audit logs"}, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "<h1" not in html
    assert "audit_logs.list" in html
    assert "data-announce" in html
    assert "HX-Request" in response.headers["Vary"]


def test_the_search_box_works_as_a_plain_form_and_updates_live_with_htmx(
    client, reference
):
    html = client.get(SEARCH, {"q": "rotate key"}).content.decode()

    form = re.search(r'<form class="search-form"[^>]*>', html).group(0)
    assert 'method="get"' in form and f'action="{SEARCH}"' in form
    box = re.search(r'<input id="search-q"[^>]*>', html, re.S).group(0)
    assert 'name="q"' in box and 'value="rotate key"' in box
    assert 'hx-trigger="input changed delay:300ms, search"' in box
    assert 'hx-target="#search-results"' in box
    assert 'hx-push-url="true"' in box


def test_every_page_has_the_search_box_in_its_header(client, reference):
    for url in ("/", reverse("reference:scopes"), reverse("reference:simulator")):
        html = client.get(url).content.decode()
        assert (
            f'<form class="site-search" role="search" method="get" action="{SEARCH}">'
            in html
        )


def test_the_search_page_does_not_repeat_the_header_box(client, reference):
    html = client.get(SEARCH).content.decode()

    assert 'class="site-search"' not in html
    assert html.count('role="search"') == 1


def test_a_query_is_escaped_in_the_page(client, reference):
    html = client.get(SEARCH, {"q": '<script>alert("x")</script>'}).content.decode()

    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize(
    "query", ["", "   ", "x" * 5000, "GET /" + "a/" * 900, "%00", "logs.view " * 300]
)
def test_odd_queries_get_a_page_not_an_error(client, reference, query):
    response = client.get(SEARCH, {"q": query})

    assert response.status_code == 200


def test_nothing_found_suggests_where_to_look(client, reference):
    html = client.get(SEARCH, {"q": "zzzqqq"}).content.decode()

    assert "Nothing found" in html
    assert reverse("reference:scopes") in html


@pytest.mark.parametrize("size", ["shipped", "ten_times"])
def test_a_warm_search_costs_the_same_queries_whatever_the_data_size(
    client, reference, django_assert_num_queries, size
):
    if size == "ten_times":
        add_copies(9)
    urls = [
        SEARCH,
        SEARCH + "?q=rotate+key",
        SEARCH + "?q=which+scope+do+I+need+for+POST+/v1/integrations",
    ]
    for url in urls:
        client.get(url)  # warm the snapshot

    on_postgres = connection.vendor == "postgresql"
    for url in urls:
        # Warm pages come from the page cache: SELECT the data version stamp.
        with django_assert_num_queries(1):
            assert client.get(url).status_code == 200

    page_store().clear()
    for url in urls[1:]:
        # Rendered afresh: SELECT the data version stamp; on PostgreSQL also
        # the one full-text query (a UNION over the five reference tables).
        with django_assert_num_queries(2 if on_postgres else 1):
            assert client.get(url).status_code == 200
