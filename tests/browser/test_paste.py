"""Paste to diagnose in a real browser: a failing call's curl command and AB03
body lead to the fix, the ticket is filled from the paste in the browser only,
an oversize paste is stopped before it is sent, and it all works without
JavaScript too."""

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible

SECRET = "pk7Hq2mZp9Xw4Lr8Tn3Vb6Yc1Kd5Fg0"
TRACE = "0b7d9c3e-5a21-4f6e-8d4c-2e9f1a7b6c50"
FAILING_CALL = f"""curl -X POST https://api.portkey.ai/v1/chat/completions \\
  -H "Content-Type: application/json" \\
  -H "x-portkey-api-key: {SECRET}" \\
  -d '{{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "Hi"}}]}}'

HTTP/2 403
content-type: application/json
x-portkey-trace-id: {TRACE}

{{"success":false,"data":{{"message":"You do not have enough permissions to execute this request","errorCode":"AB03"}}}}
"""
HANDOFF = "scope-doctor.paste"


def paste(page, text: str) -> None:
    page.goto("/")
    page.get_by_role("link", name="Paste the error or curl command").click()
    page.fill("#paste-text", text)
    page.get_by_role("button", name="Read it").click()
    expect(page.locator("h1")).to_have_text("What we read")


def test_a_pasted_ab03_call_reaches_the_fix_in_one_step_with_the_ticket_filled(page):
    paste(page, FAILING_CALL)
    expect(page.locator(".paste-result .reason")).to_contain_text(
        "POST /v1/chat/completions was refused with 403 AB03"
    )
    assert_accessible(page)

    # The one thing a paste cannot say is the key type; telling it here is
    # the single step to the fix.
    page.select_option("#correct-key-type", "admin")
    page.get_by_role("button", name="Continue with these answers").click()

    page.wait_for_url("**/fix/**")
    expect(page.locator("h1")).to_have_text("This call is refused")
    expect(page.locator(".crumb")).to_contain_text("POST /v1/chat/completions")
    expect(page.locator("#ticket-trace_id")).to_have_value(TRACE)
    body = page.locator("#ticket-error_body").input_value()
    assert '"errorCode":"AB03"' in body
    assert SECRET not in body
    expect(page.locator("#ticket-plain")).to_contain_text(TRACE)
    assert page.evaluate(f"sessionStorage.getItem('{HANDOFF}')") is None
    assert SECRET not in page.url and TRACE not in page.url


def test_looks_right_opens_the_first_unanswered_question_and_the_walk_ends_at_the_fix(
    page,
):
    paste(page, FAILING_CALL)

    page.get_by_role("link", name="Looks right: continue").click()

    expect(page.locator("h1")).to_have_text("Which kind of API key was used?")
    page.evaluate("window.stillTheSamePage = true")
    page.check('input[name="key_type"][value="workspace_service"]')
    page.get_by_role("button", name="Next").click()
    # The endpoint came from the paste: the scope list is the chat call's.
    expect(
        page.locator('input[name="scope"][value="completions.write"]')
    ).to_be_visible()
    page.get_by_role("button", name="Next").click()

    page.wait_for_url("**/fix/**")
    expect(page.locator(".verdict")).to_contain_text("completions.write")
    # The fix arrived by an htmx swap; the ticket is still filled from the paste.
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page.locator("#ticket-trace_id")).to_have_value(TRACE)
    assert page.evaluate(f"sessionStorage.getItem('{HANDOFF}')") is None


def test_a_paste_over_one_megabyte_is_stopped_before_sending_and_kept(page):
    page.goto("/paste/")
    area = page.locator("#paste-text")
    area.evaluate("(element) => { element.value = 'x'.repeat(1000001); }")

    page.get_by_role("button", name="Read it").click()

    alert = page.locator("[data-paste-size-error]")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("we read at most 1 MB")
    assert page.url.endswith("/paste/")
    assert area.evaluate("(element) => element.value.length") == 1000001


def test_the_paste_page_passes_axe_before_anything_is_pasted(page):
    page.goto("/paste/")

    expect(page.locator("h1")).to_have_count(1)
    assert_accessible(page)


def test_a_not_ab03_paste_is_told_apart_in_the_browser(page):
    paste(
        page,
        "HTTP/1.1 403 Forbidden\nServer: cloudflare\n\n<html><head>"
        "<title>Attention Required! | Cloudflare</title></head></html>",
    )

    expect(page.locator(".paste-result .reason")).to_contain_text(
        "This 403 is not an AB03"
    )
    assert_accessible(page)


def test_pasting_works_without_javascript(page_without_js):
    page = page_without_js
    page.goto("/paste/")
    page.fill("#paste-text", FAILING_CALL)
    page.get_by_role("button", name="Read it").click()

    expect(page.locator(".paste-result .reason")).to_contain_text("403 AB03")
    assert SECRET not in page.content()
    page.get_by_role("link", name="Looks right: continue").click()

    expect(page.locator("h1")).to_have_text("Which kind of API key was used?")
    assert "path=/v1/chat/completions" in page.url
