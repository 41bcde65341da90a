"""The base page, the error pages and the security headers every page sends."""

import re

import pytest
from django.urls import reverse


def count_h1(html: str) -> int:
    return len(re.findall(r"<h1[\s>]", html))


@pytest.mark.django_db
def test_home_page_answers_with_exactly_one_heading(client):
    response = client.get(reverse("home"))

    assert response.status_code == 200
    html = response.content.decode()
    assert count_h1(html) == 1
    assert '<html lang="en">' in html
    assert 'href="#main"' in html
    for landmark in ("<header", "<main", "<footer"):
        assert landmark in html


def test_unknown_page_is_a_friendly_404_without_touching_the_database(client):
    # No django_db mark: pytest-django raises on any database access here.
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    html = response.content.decode()
    assert count_h1(html) == 1
    assert "could not find that page" in html


def test_server_error_page_renders_without_a_request_context():
    from troubleshooter.views import server_error

    response = server_error(None)

    assert response.status_code == 500
    assert count_h1(response.content.decode()) == 1


@pytest.mark.django_db
def test_every_page_sends_the_security_headers(client):
    response = client.get(reverse("home"))

    csp = response.headers["Content-Security-Policy"]
    directives = dict(
        (part.split(" ", 1) + [""])[:2] for part in (d.strip() for d in csp.split(";"))
    )
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert directives["base-uri"] == "'none'"
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_htmx_is_served_from_our_own_static_files_without_eval(client):
    html = client.get(reverse("home")).content.decode()

    assert re.search(r'<script src="/static/django_htmx/htmx-2[^"]*\.js"', html)
    assert '"allowEval": false' in html
    assert '"includeIndicatorStyles": false' in html
    assert "<style" not in html
