"""The headers production really sends score A+ on the Mozilla HTTP
Observatory's rules.

The site runs under gunicorn with the production settings (DEBUG off, a real
secret, a named host, behind a TLS proxy that sets X-Forwarded-Proto), and
the pages are fetched over HTTP as the proxy would forward them. The score is
computed by ``observatory_score`` below, which follows the Observatory's
published tests and score table (mdn/mdn-http-observatory, src/analyzer/tests
and src/grader/charts.js): every test starts from 100, penalties always
count, bonuses only once the penalties leave at least 90, and A+ is 100 or
more.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
HOST = "scopedoctor.example.com"
ADMIN_URL = "staff-desk/"
STAFF_PASSWORD = "a long staff password for the header test"
# Pages that matter: the home page the Observatory itself scans, pages with a
# form (they set the CSRF cookie), the admin sign-in (it sets the session
# cookie) and the API (it is read from other origins).
PAGES = (
    "/",
    "/reference/scopes/completions.write/",
    "/paste/",
    "/diagnose/completions/",
    f"/{ADMIN_URL}login/",
    "/api/v1/scopes",
)

# -- The Observatory's rules --------------------------------------------------

SIX_MONTHS = 15_552_000
BROAD_SOURCES = {"ftp:", "http:", "https:", "*", "http://*", "http://*.*"} | {
    "https://*",
    "https://*.*",
}
UNSAFE_INLINE = {"'unsafe-inline'", "data:"}
GOOD_REFERRERS = {"no-referrer", "same-origin", "strict-origin"} | {
    "strict-origin-when-cross-origin"
}
BAD_REFERRERS = {"origin", "origin-when-cross-origin", "unsafe-url"} | {
    "no-referrer-when-downgrade"
}
GRADES = (
    (100, "A+"),
    (90, "A"),
    (85, "A-"),
    (80, "B+"),
    (70, "B"),
    (65, "B-"),
    (60, "C+"),
    (50, "C"),
    (45, "C-"),
    (40, "D+"),
    (30, "D"),
    (25, "D-"),
    (0, "F"),
)


@dataclass
class Fetched:
    """What the Observatory looks at: the final HTTPS answer, the answer to a
    cross-origin request, and where plain HTTP redirects to."""

    headers: dict[str, str]
    set_cookies: list[str] = field(default_factory=list)
    body: str = ""
    cors_headers: dict[str, str] = field(default_factory=dict)
    cors_origin: str = "https://evil.example"
    http_route: list[str] = field(default_factory=list)


def parse_csp(header: str) -> dict[str, set[str]]:
    policy: dict[str, set[str]] = {}
    for directive in header.split(";"):
        words = directive.strip().split()
        if words and words[0].lower() not in policy:
            policy[words[0].lower()] = {w.lower() for w in words[1:]}
    return policy


def csp_result(fetched: Fetched) -> tuple[str, int]:
    header = fetched.headers.get("content-security-policy")
    if not header:
        return "csp-not-implemented", -25
    csp = parse_csp(header)
    default = csp.get("default-src", {"*"})
    script = csp.get("script-src", default)
    style = csp.get("style-src", default)
    objects = csp.get("object-src", default)
    if script & (BROAD_SOURCES | UNSAFE_INLINE) or objects & BROAD_SOURCES:
        return "csp-implemented-with-unsafe-inline", -20
    sources = [s for values in csp.values() for s in values]
    if any(s.startswith(("http:", "ftp:")) for s in sources):
        return "csp-implemented-with-insecure-scheme", -20
    if "'unsafe-eval'" in script | style:
        return "csp-implemented-with-unsafe-eval", -10
    if style & (BROAD_SOURCES | UNSAFE_INLINE):
        return "csp-implemented-with-unsafe-inline-in-style-src-only", 0
    if csp.get("default-src") == {"'none'"}:
        return "csp-implemented-with-no-unsafe-default-src-none", 10
    return "csp-implemented-with-no-unsafe", 5


def hsts_result(fetched: Fetched) -> tuple[str, int]:
    header = fetched.headers.get("strict-transport-security")
    if not header:
        return "hsts-not-implemented", -20
    ages = re.findall(r"max-age=(\d+)", header.lower())
    if "," in header or not ages:
        return "hsts-header-invalid", -20
    if int(ages[0]) < SIX_MONTHS:
        return "hsts-implemented-max-age-less-than-six-months", -10
    return "hsts-implemented-max-age-at-least-six-months", 0


def cookies_result(fetched: Fetched) -> tuple[str, int]:
    if not fetched.set_cookies:
        return "cookies-not-found", 0
    hsts = hsts_result(fetched)[1] == 0
    worst = ("cookies-secure-with-httponly-sessions-and-samesite", 5)
    for raw in fetched.set_cookies:
        jar = SimpleCookie()
        jar.load(raw)
        for name, morsel in jar.items():
            session = any(word in name.lower() for word in ("login", "sess"))
            same_site = morsel["samesite"].lower()
            findings = []
            if same_site and same_site not in ("lax", "strict", "none"):
                findings.append(("cookies-samesite-flag-invalid", -20))
            if not morsel["secure"]:
                findings.append(
                    ("cookies-without-secure-flag-but-protected-by-hsts", -5)
                    if hsts
                    else ("cookies-without-secure-flag", -20)
                )
            if "csrf" in name.lower() and not same_site:
                findings.append(("cookies-anticsrf-without-samesite-flag", -20))
            if session and not morsel["httponly"]:
                findings.append(("cookies-session-without-httponly-flag", -30))
            if session and not morsel["secure"]:
                findings.append(("cookies-session-without-secure-flag", -40))
            if not same_site and not findings:
                findings.append(("cookies-secure-with-httponly-sessions", 0))
            for finding in findings:
                worst = min(worst, finding, key=lambda f: f[1])
    return worst


def cors_result(fetched: Fetched) -> tuple[str, int]:
    allowed = fetched.cors_headers.get("access-control-allow-origin", "").strip()
    credentials = fetched.cors_headers.get("access-control-allow-credentials", "")
    if not allowed:
        return "cross-origin-resource-sharing-not-implemented", 0
    if allowed == "*":
        return "cross-origin-resource-sharing-implemented-with-public-access", 0
    if allowed == fetched.cors_origin and credentials.strip().lower() == "true":
        return "cross-origin-resource-sharing-implemented-with-universal-access", -50
    return "cross-origin-resource-sharing-implemented-with-restricted-access", 0


def redirection_result(fetched: Fetched) -> tuple[str, int]:
    route = fetched.http_route
    if not route:
        return "redirection-not-needed-no-http", 0
    if len(route) == 1:
        return "redirection-missing", -20
    first, second, last = (urlsplit(route[0]), urlsplit(route[1]), urlsplit(route[-1]))
    if last.scheme != "https":
        return "redirection-not-to-https", -20
    if second.scheme == "http":
        return "redirection-not-to-https-on-initial-redirection", -10
    if first.hostname != second.hostname:
        return "redirection-off-host-from-http", -5
    return "redirection-to-https", 0


def referrer_result(fetched: Fetched) -> tuple[str, int]:
    header = fetched.headers.get("referrer-policy")
    if header is None:
        return "referrer-policy-not-implemented", 0
    known = [p.strip().lower() for p in header.split(",")]
    known = [p for p in known if p in GOOD_REFERRERS | BAD_REFERRERS]
    if known and known[-1] in GOOD_REFERRERS:
        return "referrer-policy-private", 5
    if known:
        return "referrer-policy-unsafe", -5
    return "referrer-policy-header-invalid", -5


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append(dict(attrs))


def sri_result(fetched: Fetched) -> tuple[str, int]:
    content_type = fetched.headers.get("content-type", "").split(";")[0]
    if content_type and content_type not in ("text/html", "application/xhtml+xml"):
        return "sri-not-implemented-response-not-html", 0
    parser = _Scripts()
    parser.feed(fetched.body)
    if not parser.scripts:
        return "sri-not-implemented-but-no-scripts-loaded", 0
    result = None
    for script in parser.scripts:
        src = script.get("src") or ""
        if not src:
            continue
        if src.startswith("//") or (
            re.match(r"https?://", src) and urlsplit(src).hostname != HOST
        ):
            if src.startswith("https://") and script.get("integrity"):
                continue
            if src.startswith("https://"):
                result = (
                    "sri-not-implemented-but-external-scripts-loaded-securely",
                    -5,
                )
            else:
                return (
                    "sri-not-implemented-and-external-scripts-not-loaded-securely",
                    -50,
                )
        elif script.get("integrity") and result is None:
            result = ("sri-implemented-and-all-scripts-loaded-securely", 5)
    return result or (
        "sri-not-implemented-but-all-scripts-loaded-from-secure-origin",
        0,
    )


def xcto_result(fetched: Fetched) -> tuple[str, int]:
    header = fetched.headers.get("x-content-type-options")
    if header is None:
        return "x-content-type-options-not-implemented", -5
    if header.strip().lower() == "nosniff":
        return "x-content-type-options-nosniff", 0
    return "x-content-type-options-header-invalid", -5


def xfo_result(fetched: Fetched) -> tuple[str, int]:
    csp = parse_csp(fetched.headers.get("content-security-policy", ""))
    if "frame-ancestors" in csp:
        return "x-frame-options-implemented-via-csp", 5
    header = fetched.headers.get("x-frame-options", "").strip().lower()
    if header in ("deny", "sameorigin"):
        return "x-frame-options-sameorigin-or-deny", 0
    if header.startswith("allow-from"):
        return "x-frame-options-allow-from-origin", 0
    if header:
        return "x-frame-options-header-invalid", -20
    return "x-frame-options-not-implemented", -20


def corp_result(fetched: Fetched) -> tuple[str, int]:
    header = fetched.headers.get("cross-origin-resource-policy")
    if header is None:
        return "cross-origin-resource-policy-not-implemented", 0
    value = header.strip().lower()
    if value in ("same-origin", "same-site"):
        return f"cross-origin-resource-policy-implemented-with-{value}", 10
    if value == "cross-origin":
        return "cross-origin-resource-policy-implemented-with-cross-origin", 0
    return "cross-origin-resource-policy-header-invalid", -5


OBSERVATORY_TESTS = (
    csp_result,
    cookies_result,
    cors_result,
    redirection_result,
    referrer_result,
    hsts_result,
    sri_result,
    xcto_result,
    xfo_result,
    corp_result,
)


def observatory_score(fetched: Fetched) -> tuple[int, str, dict[str, tuple]]:
    """The Observatory's score and grade for one page, with each test's result."""
    results = {test.__name__: test(fetched) for test in OBSERVATORY_TESTS}
    modifiers = [modifier for _, modifier in results.values()]
    penalised = 100 + sum(m for m in modifiers if m < 0)
    score = max(0, 100 + sum(modifiers) if penalised >= 90 else penalised)
    grade = next(grade for floor, grade in GRADES if min(score, 100) >= floor)
    return score, grade, results


# -- The production site --------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def production_site():
    """gunicorn serving the production settings on a fresh SQLite database
    (headers do not depend on the database), with one staff account."""
    # In memory where the system offers it: migrating is mostly disk syncs.
    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
    folder = tempfile.mkdtemp(prefix="scopedoctor-headers-", dir=shm)
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": HOST,
        "BEHIND_TLS_PROXY": "1",
        "ADMIN_URL": ADMIN_URL,
        "DATABASE_URL": f"sqlite:///{folder}/site.sqlite3",
        "STATIC_PLAIN": "1",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SUPERUSER_USERNAME": "staff",
        "DJANGO_SUPERUSER_EMAIL": "staff@example.com",
        "DJANGO_SUPERUSER_PASSWORD": STAFF_PASSWORD,
    }
    manage = [sys.executable, "manage.py"]
    for command in (
        ["migrate", "--no-input", "-v", "0"],
        ["load_reference", "-v", "0"],
        ["createsuperuser", "--no-input"],
    ):
        subprocess.run(
            [*manage, *command], cwd=ROOT, env=env, check=True, capture_output=True
        )

    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:troubleshooter.gunicorn_config",
            "troubleshooter.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_up(port, server)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_up(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "gunicorn stopped while starting"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start within a minute")


def request(
    port: int,
    path: str,
    *,
    https: bool = True,
    method: str = "GET",
    body: str = "",
    headers: dict[str, str] | None = None,
) -> http.client.HTTPResponse:
    """One request as the TLS proxy forwards it (or, with https off, as a
    visitor's plain-HTTP request reaches the site)."""
    sent = {"Host": HOST, **(headers or {})}
    if https:
        sent["X-Forwarded-Proto"] = "https"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, body=body or None, headers=sent)
    response = connection.getresponse()
    response.body = response.read().decode("utf-8", "replace")
    connection.close()
    return response


def fetch(port: int, path: str, extra: dict[str, str] | None = None) -> Fetched:
    page = request(port, path, headers=extra)
    assert page.status == 200, (path, page.status, page.body[:300])
    cors = request(
        port, path, headers={**(extra or {}), "Origin": "https://evil.example"}
    )
    return Fetched(
        headers={
            k.lower(): v for k, v in page.getheaders() if k.lower() != "set-cookie"
        },
        set_cookies=page.headers.get_all("Set-Cookie") or [],
        body=page.body,
        cors_headers={k.lower(): v for k, v in cors.getheaders()},
        http_route=http_route(port, path),
    )


def http_route(port: int, path: str) -> list[str]:
    """Where a plain-HTTP visit goes: the first hop must be the same host on
    HTTPS."""
    route = [f"http://{HOST}{path}"]
    answer = request(port, path, https=False)
    while answer.status in (301, 302, 307, 308) and len(route) < 5:
        location = answer.getheader("Location")
        route.append(location)
        target = urlsplit(location)
        if target.hostname != HOST:
            break
        answer = request(
            port,
            target.path + (f"?{target.query}" if target.query else ""),
            https=target.scheme == "https",
        )
    return route


def signed_in_cookies(port: int) -> list[str]:
    """The cookies a staff sign-in sets: the CSRF cookie and the session."""
    login = f"/{ADMIN_URL}login/"
    page = request(port, login)
    csrf_cookie = SimpleCookie()
    for raw in page.headers.get_all("Set-Cookie") or []:
        csrf_cookie.load(raw)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)[1]
    answer = request(
        port,
        login,
        method="POST",
        body=urlencode(
            {
                "csrfmiddlewaretoken": token,
                "username": "staff",
                "password": STAFF_PASSWORD,
                "next": f"/{ADMIN_URL}",
            }
        ),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf_cookie['csrftoken'].value}",
            "Referer": f"https://{HOST}{login}",
            "Origin": f"https://{HOST}",
        },
    )
    assert answer.status == 302, (answer.status, answer.body[:500])
    return answer.headers.get_all("Set-Cookie") or []


# -- Tests --------------------------------------------------------------------------


def test_the_scoring_fails_a_site_that_sends_no_security_headers():
    bare = Fetched(
        headers={"content-type": "text/html"},
        set_cookies=["sessionid=abc; Path=/"],
        body='<script src="http://cdn.example/x.js"></script>',
        http_route=["http://example.com/"],
    )

    score, grade, results = observatory_score(bare)

    assert grade == "F"
    assert score == 0
    assert results["csp_result"][0] == "csp-not-implemented"
    assert results["cookies_result"][0] == "cookies-session-without-secure-flag"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_scores_a_plus_with_the_production_headers(production_site, path):
    fetched = fetch(production_site, path)

    score, grade, results = observatory_score(fetched)

    assert grade == "A+", (score, results)
    assert results["csp_result"][1] > 0
    assert results["hsts_result"][0] == "hsts-implemented-max-age-at-least-six-months"
    assert results["redirection_result"][0] == "redirection-to-https"
    assert results["xfo_result"][0] == "x-frame-options-implemented-via-csp"
    assert fetched.headers["cross-origin-opener-policy"] == "same-origin"


def test_the_home_page_scores_at_least_125(production_site):
    score, grade, results = observatory_score(fetch(production_site, "/"))

    # CSP without unsafe sources (+5), referrer policy (+5), frame-ancestors
    # (+5) and a same-origin resource policy (+10) on top of no penalty.
    assert score >= 125, results
    assert grade == "A+"


def test_hsts_asks_for_a_year_with_subdomains_and_preload(production_site):
    headers = fetch(production_site, "/").headers

    assert headers["strict-transport-security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )


def test_the_form_pages_set_a_secure_httponly_lax_csrf_cookie(production_site):
    fetched = fetch(production_site, "/reference/scopes/completions.write/")

    assert fetched.set_cookies, "a page with a form sets the CSRF cookie"
    for raw in fetched.set_cookies:
        cookie = next(iter(SimpleCookie(raw).values()))
        assert cookie["secure"], raw
        assert cookie["httponly"], raw
        assert cookie["samesite"] == "Lax", raw
    assert cookies_result(fetched)[0] == (
        "cookies-secure-with-httponly-sessions-and-samesite"
    )


def test_a_staff_sign_in_sets_a_secure_session_cookie_that_ends_with_the_browser(
    production_site,
):
    raw_cookies = signed_in_cookies(production_site)

    jar = SimpleCookie()
    for raw in raw_cookies:
        jar.load(raw)
    session = jar["sessionid"]
    assert session["secure"] and session["httponly"]
    assert session["samesite"] == "Lax"
    assert not session["expires"] and not session["max-age"]
    fetched = Fetched(
        headers=fetch(production_site, "/").headers, set_cookies=raw_cookies
    )
    assert cookies_result(fetched)[1] == 5


def test_the_api_is_readable_from_other_origins_without_credentials(production_site):
    fetched = fetch(production_site, "/api/v1/scopes")

    assert cors_result(fetched)[0] == (
        "cross-origin-resource-sharing-implemented-with-public-access"
    )
    assert "access-control-allow-credentials" not in fetched.cors_headers
