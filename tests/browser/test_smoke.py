"""The site starts and the home page passes axe in a real browser."""

from tests.browser.conftest import assert_accessible


def test_the_home_page_has_no_accessibility_violations(page):
    page.goto("/")

    assert page.locator("h1").count() == 1
    assert_accessible(page)
