"""The wizard end to end in Debian's chromium: every scenario to a fix, with
JavaScript on and off; every documented cause within four answers; keyboard
use; the share link; the ticket; and axe on each kind of page."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible

CAUSES = {
    record["code"]: record["title"]
    for record in map(
        json.loads,
        (Path(__file__).parents[2] / "scopes/data/reference.jsonl")
        .read_text()
        .splitlines(),
    )
    if record["kind"] == "cause"
}

# (scenario, answers, the verdict heading, the cause shown) — at most four answers.
# An answer is (question name, value); "scope" answers are lists of scopes to tick.
WALKS = {
    "only_service_keys": (
        "playground",
        [("context", "playground"), ("key_type", "unknown"), ("user_keys", "0")],
    ),
    "playground_needs_user_key": (
        "playground",
        [
            ("context", "prompt_studio"),
            ("key_type", "workspace_service"),
            ("user_keys", "1"),
        ],
    ),
    "user_key_missing_completions_write": (
        "playground",
        [
            ("context", "model_catalog"),
            ("key_type", "workspace_user"),
            ("user_keys", "1"),
            ("scope", []),
        ],
    ),
    "several_user_keys": (
        "playground",
        [
            ("context", "playground"),
            ("key_type", "workspace_user"),
            ("user_keys", "2+"),
            ("scope", ["completions.write"]),
        ],
    ),
    "stale_session": (
        "playground",
        [
            ("context", "playground"),
            ("key_type", "workspace_user"),
            ("user_keys", "1"),
            ("scope", ["completions.write"]),
        ],
    ),
    "admin_key_on_data_plane": (
        "completions",
        [("key_type", "admin"), ("target", "POST /v1/chat/completions")],
    ),
    "missing_scope": (
        "completions",
        [
            ("key_type", "workspace_service"),
            ("target", "POST /v1/embeddings"),
            ("scope", []),
        ],
    ),
    "wrong_key_type": (
        "logs",
        [("key_type", "workspace_service"), ("target", "GET /v1/audit-logs")],
    ),
    "list_read_mixup": (
        "admin_api",
        [
            ("key_type", "workspace_service"),
            ("target", "GET /v1/integrations/{slug}"),
            ("scope", ["workspace_integrations.list"]),
        ],
    ),
    "workspace_id_required": (
        "admin_api",
        [
            ("key_type", "admin"),
            ("target", "GET /v1/configs"),
            ("workspace_id_sent", "no"),
        ],
    ),
    "resource_not_in_workspace": (
        "admin_api",
        [
            ("key_type", "workspace_service"),
            ("target", "GET /v1/configs/{slug}"),
            ("scope", ["configs.read"]),
        ],
    ),
    "org_security_settings": (
        "mcp",
        [
            ("key_type", "workspace_user"),
            ("target", "GET /v1/mcp-servers"),
            ("scope", ["mcp_servers.list"]),
        ],
    ),
    "plan_restriction": (
        "admin_api",
        [
            ("key_type", "admin"),
            ("target", "POST /v1/api-keys/{type}/{sub-type}"),
            ("scope", ["workspace_service_api_keys.create"]),
            ("plan", "other"),
        ],
    ),
}


def answer(page, name: str, value) -> None:
    """Answer the current question and wait for the next page or swap."""
    before = page.url
    if name == "scope":
        for scope in value:
            page.check(f'input[name="scope"][value="{scope}"]')
    else:
        choice = page.locator(f'input[name="{name}"][value="{value}"]')
        if name == "target" and value != "unknown" and not choice.count():
            # Beyond the first part of the list: type the call, as people do.
            page.fill("#target-find", value)
            page.get_by_role("button", name="Find").click()
            choice.wait_for()
        choice.check()
    page.get_by_role("button", name="Next").click()
    page.wait_for_url(lambda url: url != before)


def walk(page, scenario: str, answers) -> None:
    page.goto(f"/diagnose/{scenario}/")
    for name, value in answers:
        answer(page, name, value)
    expect(page.locator("h1")).to_have_count(1)


def test_every_cause_in_the_reference_has_a_walk():
    assert set(WALKS) == set(CAUSES)


@pytest.mark.parametrize("cause", sorted(WALKS))
def test_each_documented_cause_is_reached_within_four_answers(page, cause):
    scenario, answers = WALKS[cause]
    assert len(answers) <= 4

    walk(page, scenario, answers)

    assert "/fix/" in page.url
    title = CAUSES[cause]
    decisive = page.locator(".verdict").get_attribute("data-cause")
    first_check = page.locator(".check-next li").first
    if decisive == cause:
        expect(page.locator(".verdict")).to_contain_text(title)
    else:
        # Causes no answer can decide (a stale session, org security settings,
        # a resource in another workspace) lead the list of what to check next.
        assert first_check.get_attribute("data-cause") == cause
        expect(first_check).to_contain_text(title)


WALK_PER_SCENARIO = {
    "playground": WALKS["user_key_missing_completions_write"][1],
    "completions": WALKS["missing_scope"][1],
    "admin_api": WALKS["list_read_mixup"][1],
    "logs": WALKS["wrong_key_type"][1],
    "mcp": WALKS["org_security_settings"][1],
    "models": [("key_type", "workspace_user"), ("scope", [])],
    "something_else": [
        ("key_type", "admin"),
        ("target", "GET /v1/prompts"),
        ("workspace_id_sent", "unknown"),
        ("scope", ["prompts.list"]),
    ],
}


@pytest.mark.parametrize("scenario", sorted(WALK_PER_SCENARIO))
def test_each_scenario_reaches_a_fix_with_javascript(page, scenario):
    page.goto(f"/diagnose/{scenario}/")
    page.evaluate("window.stillTheSamePage = true")

    for name, value in WALK_PER_SCENARIO[scenario]:
        answer(page, name, value)

    assert "/fix/" in page.url
    # htmx swapped the wizard in place: no full page load happened.
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator(".fix-steps li").first).to_be_visible()


@pytest.mark.parametrize("scenario", sorted(WALK_PER_SCENARIO))
def test_each_scenario_reaches_a_fix_without_javascript(page_without_js, scenario):
    page = page_without_js
    page.goto(f"/diagnose/{scenario}/")

    for name, value in WALK_PER_SCENARIO[scenario]:
        answer(page, name, value)

    assert "/fix/" in page.url
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator(".fix-steps li").first).to_be_visible()


def test_each_swap_moves_focus_to_the_new_question_and_announces_it(page):
    page.goto("/diagnose/completions/")

    answer(page, "key_type", "workspace_service")

    heading = page.locator("h1")
    expect(heading).to_have_text("Which call failed?")
    assert page.evaluate("document.activeElement.id") == "step-heading"
    expect(page.locator("#announce")).to_have_text("Which call failed?")
    assert page.title().startswith("Which call failed?")


def test_back_forward_and_reload_keep_the_step(page):
    page.goto("/diagnose/completions/")
    answer(page, "key_type", "admin")
    expect(page.locator("h1")).to_have_text("Which call failed?")

    page.go_back()
    expect(page.locator("h1")).to_have_text("Which kind of API key was used?")
    page.go_forward()
    expect(page.locator("h1")).to_have_text("Which call failed?")
    page.reload()
    expect(page.locator("h1")).to_have_text("Which call failed?")


def test_the_call_list_filters_as_you_type_without_leaving_the_box(page):
    page.goto("/diagnose/admin_api/?key_type=admin")
    url = page.url

    page.locator("#target-find").press_sequentially("integrations models")

    expect(page.locator("#target-count")).to_contain_text("match")
    choices = page.locator('#target-list input[name="target"]')
    expect(choices.first).to_be_visible()
    for text in page.locator("#target-list li").all_inner_texts():
        assert "integrations" in text.lower() and "models" in text.lower()
    assert page.evaluate("document.activeElement.id") == "target-find"
    assert page.url == url

    page.fill("#target-find", "https://api.portkey.ai/v1/integrations/my-slug/models")
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    expect(choices).to_have_count(3)
    assert {c.get_attribute("value").split()[1] for c in choices.all()} == {
        "/v1/integrations/{slug}/models"
    }
    page.check('input[value="GET /v1/integrations/{slug}/models"]')
    page.get_by_role("button", name="Next").click()
    expect(page.locator("h1")).to_have_text("Which of these scopes does the key have?")


def test_narrowing_the_list_keeps_the_call_already_chosen(page):
    page.goto("/diagnose/admin_api/?key_type=admin")
    page.fill("#target-find", "configs")
    page.get_by_role("button", name="Find").click()
    chosen = page.locator('input[value="GET /v1/configs/{slug}"]')
    chosen.check()

    page.locator("#target-find").press("End")
    page.locator("#target-find").press_sequentially(" get")

    expect(page.locator("#target-count")).to_contain_text("“configs get”")
    expect(page.locator("#announce")).to_contain_text("match")
    expect(chosen).to_be_checked()
    page.get_by_role("button", name="Next").click()
    expect(page.locator("h1")).to_have_text(
        "Did the request name the workspace with workspace_id?"
    )


def test_a_pasted_curl_command_finds_its_call_and_its_key_stays_in_the_browser(page):
    key = "pkTESTabcdef0123456789XYZsecret"
    sent = []
    page.on("request", lambda request: sent.append(request.url))
    page.goto("/diagnose/completions/?key_type=workspace_service")

    page.fill(
        "#target-find",
        f"curl -H 'x-portkey-api-key: {key}' https://api.portkey.ai/v1/chat/completions",
    )

    choices = page.locator('#target-list input[name="target"]')
    expect(choices).to_have_count(1)
    expect(choices.first).to_have_value("POST /v1/chat/completions")
    assert sent and not any(key in url for url in sent)


def choose_while_the_narrowed_list_is_held(page) -> list:
    """Type in the find box on a slow connection, then choose a call from the
    list still shown; returns the held requests for the narrowed list."""
    held = []

    def hold_the_list(route):
        if route.request.headers.get("hx-target") == "target-list":
            held.append(route)
        else:
            route.continue_()

    page.route("**/diagnose/**", hold_the_list)
    page.goto("/diagnose/completions/?key_type=workspace_service")
    page.fill("#target-find", "chat")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the narrowed list should be on its way"

    page.locator('input[value="POST /v1/chat/completions"]').check()
    return held


def test_answering_while_the_list_is_still_loading_leaves_no_error(page):
    held = choose_while_the_narrowed_list_is_held(page)
    page.get_by_role("button", name="Next").click()
    expect(page.locator("h1")).to_have_text("Which of these scopes does the key have?")

    for route in held:
        route.continue_()
    page.wait_for_timeout(1000)  # let a late list land; the fixture fails on errors

    expect(page.locator("h1")).to_have_text("Which of these scopes does the key have?")
    assert page.locator("#target-list").count() == 0


def test_a_list_that_lands_after_the_choice_shows_it_chosen_at_once(page):
    held = choose_while_the_narrowed_list_is_held(page)
    # What a "Next" pressed the moment the new list appears would find: read in
    # the same task as the swap, before any timer of htmx's has run.
    page.evaluate(
        """() => {
          window.choiceWhenShown = [];
          document.addEventListener("htmx:afterSwap", (event) => {
            if (event.target.id !== "target-list") return;
            const checked = event.target.querySelector("input[name=target]:checked");
            window.choiceWhenShown.push(checked ? checked.value : null);
          });
        }"""
    )

    for route in held:
        route.continue_()
    page.wait_for_function("window.choiceWhenShown.length > 0")

    assert page.evaluate("window.choiceWhenShown") == ["POST /v1/chat/completions"]
    page.get_by_role("button", name="Next").click()
    expect(page.locator("h1")).to_have_text("Which of these scopes does the key have?")


def test_a_scenario_can_be_walked_with_the_keyboard_alone(page):
    page.goto("/diagnose/models/")

    # Skip link first, then into the form: Tab to the first radio, arrows move.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#main"
    focused_name = ""
    for _ in range(12):
        page.keyboard.press("Tab")
        focused_name = page.evaluate("document.activeElement.name")
        if focused_name == "key_type":
            break
    assert focused_name == "key_type"
    page.keyboard.press("ArrowDown")  # selects the next key type: a workspace key
    assert page.evaluate("document.activeElement.value").startswith("workspace_")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Which of these scopes does the key have?")

    page.keyboard.press("Tab")
    for _ in range(10):
        if page.evaluate("document.activeElement.name") == "scope":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Space")
    page.keyboard.press("Enter")

    expect(page.locator(".verdict")).to_be_visible()
    assert "/fix/" in page.url


def test_a_copied_share_link_opens_the_same_fix_in_a_fresh_browser(
    page, browser, live_site
):
    walk(page, "completions", WALKS["missing_scope"][1])
    verdict = page.locator(".verdict").inner_text()

    copy_button = page.get_by_role("button", name="Copy link to this fix")
    copy_button.focus()
    page.keyboard.press("Enter")  # copy buttons work from the keyboard
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    expect(page.locator("#announce")).to_have_text("Copied to the clipboard")
    link = page.evaluate("navigator.clipboard.readText()")

    fresh = browser.new_context()
    other = fresh.new_page()
    other.goto(link)
    assert other.locator(".verdict").inner_text() == verdict
    fresh.close()


def test_the_ticket_fills_in_as_you_type_and_masks_secrets(page):
    walk(page, "completions", WALKS["missing_scope"][1])

    page.fill("#ticket-workspace_id", "ws-7f3a")
    page.fill("#ticket-trace_id", "3f2a9c1e-1b2c-4d5e-8f90-123456789abc")
    page.fill(
        "#ticket-error_body",
        'curl -H "x-portkey-api-key: pk-Zx81mQ2vR7tLw0sN5yB3cK9d" -> {"errorCode": "AB03"}',
    )

    plain = page.locator("#ticket-plain").inner_text()
    assert "Workspace ID: ws-7f3a" in plain
    assert "3f2a9c1e-1b2c-4d5e-8f90-123456789abc" in plain
    assert "pk-Zx81mQ2vR7tLw0sN5yB3cK9d" not in plain
    assert "[masked]" in plain
    expect(page.locator("[data-masked-note]")).to_be_visible()
    mailto = page.locator("#ticket-mailto").get_attribute("href")
    assert "ws-7f3a" in mailto
    assert "Zx81mQ2" not in mailto
    # Nothing typed leaves the browser: the share link is unchanged.
    assert "ws-7f3a" not in page.locator("#share-url").input_value()

    page.get_by_role("button", name="Copy plain text").click()
    assert "ws-7f3a" in page.evaluate("navigator.clipboard.readText()")
    assert_accessible(page)


def test_feedback_is_answered_in_place(page):
    walk(page, "completions", WALKS["missing_scope"][1])

    page.get_by_role("button", name="Yes").click()

    expect(page.locator("#feedback")).to_contain_text("glad it worked")


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/diagnose/completions/?key_type=workspace_service",
        "/diagnose/admin_api/?key_type=admin",  # the list cut, "show all" link
        "/diagnose/mcp/?key_type=admin&find=zebra",  # nothing matches
        "/diagnose/completions/?context=code&key_type=workspace_service&method=POST&path=/v1/embeddings",
        "/fix/?scenario=completions&context=code&key_type=admin&method=POST&path=/v1/chat/completions&role=workspace_member",
    ],
)
def test_pages_have_no_accessibility_violations(page, path):
    page.goto(path)

    assert_accessible(page)


MASKING_SAMPLES = [
    'curl -H "x-portkey-api-key: pk-Zx81mQ2vR7tLw0sN5yB3cK9d" https://api.portkey.ai/v1',
    "x-portkey-api-key:\nAuthorization: Bearer sk-Zx81mQ2vR7tLw0sN5yB3cK9d",
    '{"api_key": "abcd1234EFGH5678ijkl9012mnop"}',
    "x-portkey-trace-id: 3f2a9c1e-1b2c-4d5e-8f90-123456789abc",
    "GET /v1/integrations/openai-production-2024-eu/models",
    "token K8s2nD9fQ1xZ7vB3mL0pR4tY6wE2uI5oP here",
    "plain words and workspace_id=ws-prod",
    "My key is pk-live-Zx81mQ2vR7tLw0sN5yB3cK9dQ4aT. It worked yesterday.",
    "the file report-2024-abcdefghijklmnopqrstu9.json is fine",
]


def test_the_browser_masks_exactly_as_the_server_does(page):
    from troubleshooter.masking import mask_secrets

    page.goto("/")

    for sample in MASKING_SAMPLES:
        in_browser = page.evaluate("text => window.scopeDoctorMask(text).text", sample)
        assert in_browser == mask_secrets(sample).text, sample
