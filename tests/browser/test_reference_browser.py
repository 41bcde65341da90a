"""Search as you type, the key simulator and the builder in Debian's chromium,
with JavaScript on and off, and axe on each page."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible


def test_search_updates_the_results_as_you_type_and_the_address_follows(page):
    page.goto("/search/")
    box = page.get_by_label("A scope, a path or a question")

    box.press_sequentially("rotate key", delay=40)

    first = page.locator("#search-results .result").first
    expect(first).to_contain_text("POST /v1/api-keys/{id}/rotate")
    expect(page).to_have_url(re.compile(r"/search/\?q=rotate(\+|%20)key$"))
    expect(page.locator("#announce")).to_contain_text("results for “rotate key”")
    assert page.locator("h1").count() == 1
    assert_accessible(page)


def test_a_pasted_question_puts_the_exact_endpoint_first(page):
    page.goto("/search/")

    page.get_by_label("A scope, a path or a question").fill(
        "which scope do I need for POST /v1/integrations"
    )

    results = page.locator("#search-results .result")
    expect(results.first).to_contain_text("Exact match")
    expect(results.first).to_contain_text("POST /v1/integrations")
    expect(results.nth(1)).to_contain_text("organisation_integrations.create")
    results.first.get_by_role("link").click()
    expect(page.locator("h1")).to_have_text("POST /v1/integrations")
    assert_accessible(page)


def test_the_header_search_works_without_javascript(page_without_js):
    page = page_without_js
    page.goto("/")

    page.get_by_role("searchbox", name="Search scopes, endpoints and causes").fill(
        "audit logs"
    )
    page.get_by_role("button", name="Search").click()

    expect(page).to_have_url(re.compile(r"/search/\?q=audit\+logs$"))
    expect(page.locator(".result").first).to_contain_text("audit")


def test_the_simulator_shows_allowed_and_denied_calls_and_filters_them(page):
    page.goto("/keys/simulator/")
    page.get_by_label("Workspace Service API key").check()
    page.get_by_role("button", name="Simulate").click()
    page.locator(".scope-picker summary").click()
    page.get_by_label("Filter the scopes").fill("completions")
    page.get_by_label("completions.write").check()
    page.get_by_label("Or paste the key's scopes").fill("logs.view, configs.list")

    page.get_by_role("button", name="Simulate").click()

    expect(page).to_have_url(re.compile(r"key_type=workspace_service"))
    chat = page.locator("tr", has_text="POST /v1/chat/completions")
    expect(chat.locator(".verdict-tag")).to_have_text("Allowed")
    configs = page.locator("tr", has_text="POST /v1/configs").first
    expect(configs.locator(".verdict-tag")).to_have_text("Denied")
    expect(configs).to_contain_text("configs.create")
    assert_accessible(page)

    page.get_by_role("link", name="Denied only").click()

    expect(page.locator(".verdict-row.allowed")).to_have_count(0)
    expect(page.locator(".verdict-row.denied").first).to_be_visible()
    shared = page.locator("#share-url").input_value()
    assert "scopes=completions.write,configs.list,logs.view" in shared
    assert shared.endswith("&show=denied")


def test_the_builder_plans_keys_and_copies_the_scopes_json(page):
    page.goto("/keys/builder/")
    page.get_by_label("Filter the list").fill("chat")
    page.get_by_role("checkbox", name="POST /v1/chat/completions").check()
    page.get_by_label("Filter the list").fill("invite")
    page.get_by_role("checkbox", name="Invite people to the organisation").check()

    page.get_by_role("button", name="Build the key").click()

    expect(page.locator("#plan-heading")).to_have_text("Create 2 keys")
    expect(page.locator("#json-1")).to_contain_text('"completions.write"')
    page.get_by_role("button", name="Copy the JSON").first.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert '"scopes"' in copied and "completions.write" in copied
    assert_accessible(page)


def test_a_scope_page_and_the_matrix_pass_axe(page):
    page.goto("/reference/scopes/logs.view/")
    assert page.locator("h1").count() == 1
    assert_accessible(page)

    page.goto("/reference/endpoints/?plane=data")
    assert page.locator("h1").count() == 1
    assert_accessible(page)
