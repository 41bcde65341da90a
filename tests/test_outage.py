"""A database outage, played by cutting a TCP proxy between the site and
PostgreSQL: pages keep answering from the snapshot in memory, writes are
refused with a 503 that keeps what was typed, and once the proxy is restored
the same processes save again without a restart.

The site is gunicorn with production settings on a throwaway copy of the
reference database (tests/livesite.py). SQLite has no server to lose, so these
tests always use PostgreSQL, and are skipped only when it is not reachable.
"""

import contextlib
import json
import re
import time
from html import unescape
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest

from tests import livesite
from tests.tcpproxy import TcpProxy

_unreachable = livesite.postgres_unreachable_reason()
pytestmark = pytest.mark.skipif(_unreachable is not None, reason=_unreachable or "")

RETRY_AFTER = "30"
DENIED = {
    "scenario": "completions",
    "context": "code",
    "key_type": "workspace_service",
    "method": "POST",
    "path": "/v1/chat/completions",
    "scopes": "logs.view",
}
ALLOWED = {**DENIED, "scopes": "completions.write"}
CHECK = {
    "method": "POST",
    "path": "/v1/chat/completions",
    "key_type": "workspace_service",
}
REPORT = "The description should say it also covers streaming responses."
PASTE = '{"success":false,"data":{"message":"no","errorCode":"AB03"}}'


class Outage:
    def __init__(self, base: str, proxy: TcpProxy, database: str) -> None:
        self.base = base
        self.proxy = proxy
        self.database = database

    def visitor(self) -> livesite.Client:
        return livesite.Client(self.base, timeout=15)


def through(proxy: TcpProxy, url: str) -> str:
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))


@contextlib.contextmanager
def site_behind_a_proxy(workers: int = 1, log=None, cut=False, **extra: str):
    """The site under gunicorn, reaching its database through a proxy; with
    ``cut``, the proxy is cut before the site starts."""
    with livesite.database_from_template("outage") as database:
        parts = urlsplit(database)
        proxy = TcpProxy(parts.hostname, parts.port or 5432)
        if cut:
            proxy.cut()
        env = livesite.production_env(
            through(proxy, database), OUTAGE_RETRY_AFTER=RETRY_AFTER, **extra
        )
        try:
            with livesite.gunicorn(env, workers, log) as base:
                yield Outage(base, proxy, database)
        finally:
            proxy.close()


@pytest.fixture
def outage():
    with site_behind_a_proxy() as site:
        yield site


@pytest.fixture
def started_in_an_outage():
    """A process that could not load the reference data as it started."""
    with site_behind_a_proxy(cut=True) as site:
        yield site


def fix_url(answers: dict) -> str:
    return "/fix/?" + urlencode(answers)


def check_url(scopes: str) -> str:
    return "/api/v1/check?" + urlencode({**CHECK, "scopes": scopes})


def h1s(page: str) -> list[str]:
    """The text of each <h1>, without its inner tags."""
    found = re.findall(r"<h1[^>]*>(.*?)</h1>", page, re.S)
    return [unescape(re.sub(r"<[^>]+>", "", h)).strip() for h in found]


WORKERS = 3


def wait_for_log_lines(log, text: str, count: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        log.seek(0)
        if log.read().count(text) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"{count} lines with {text!r} did not appear in the log")


def test_every_worker_holds_the_data_from_the_start_so_none_fails_in_an_outage(
    tmp_path,
):
    with (
        (tmp_path / "gunicorn.log").open("w+") as log,
        site_behind_a_proxy(WORKERS, log, LOG_LEVEL="INFO") as site,
    ):
        wait_for_log_lines(log, "holds the reference data", WORKERS)
        # No page was asked for before the cut: whichever worker answers has
        # only what it loaded when it started.
        site.proxy.cut()

        answers = [site.visitor().get(fix_url(ALLOWED)) for _ in range(4 * WORKERS)]

    assert [answer.status for answer in answers] == [200] * len(answers)
    assert all("This key should be allowed" in answer.text for answer in answers)


def test_a_process_with_no_snapshot_yet_answers_a_clear_503_until_the_database_returns(
    started_in_an_outage,
):
    outage = started_in_an_outage
    visitor = outage.visitor()

    page = visitor.get("/")
    api = visitor.get(check_url("logs.view"))

    assert page.status == 503
    assert page.headers["retry-after"] == RETRY_AFTER
    assert h1s(page.text) == ["This page is unavailable for a moment"]
    assert "Traceback" not in page.text
    assert api.status == 503
    assert json.loads(api.body)["error"]["code"] == "unavailable"

    outage.proxy.restore()

    assert visitor.get("/").status == 200


def test_with_no_snapshot_a_paste_keeps_its_text_and_an_htmx_step_reloads_as_a_page(
    started_in_an_outage,
):
    visitor = started_in_an_outage.visitor()
    # The empty paste form needs no reference data, so it still has a token.
    form = livesite.form_fields(visitor.get("/paste/").text, "text")

    paste = visitor.post("/paste/", {**form, "text": PASTE})
    step = visitor.get("/diagnose/completions/", headers={"HX-Request": "true"})

    assert paste.status == 503
    assert paste.headers["retry-after"] == RETRY_AFTER
    assert "Your text is kept below" in paste.text
    assert livesite.form_fields(paste.text, "text")["text"] == PASTE
    assert step.status == 503
    assert step.headers["hx-redirect"] == "/diagnose/completions/"


def test_pages_answer_from_memory_with_the_right_verdict_while_the_database_is_down(
    outage,
):
    visitor = outage.visitor()
    assert visitor.get(fix_url(DENIED)).status == 200
    outage.proxy.cut()

    # Neither URL was asked before the cut, so nothing was cached for them:
    # the answers come from the snapshot held in memory.
    allowed = visitor.get(fix_url(ALLOWED))
    denied = visitor.get(fix_url({**DENIED, "key_type": "workspace_user"}))
    check = visitor.get(check_url("logs.view"))
    scope = visitor.get("/reference/scopes/completions.write/")

    assert allowed.status == 200
    assert "This key should be allowed" in allowed.text
    assert denied.status == 200
    assert "This call is refused" in denied.text
    assert "completions.write" in denied.text
    answer = json.loads(check.body)
    assert check.status == 200
    assert (answer["allowed"], answer["verdict"]) == (False, "denied")
    assert answer["missing"] == [["completions.write"]]
    assert scope.status == 200
    assert h1s(scope.text) == ["completions.write"]


def test_writes_are_refused_with_a_503_that_keeps_the_text_and_work_once_it_returns(
    outage,
):
    visitor = outage.visitor()
    scope_page = visitor.get("/reference/scopes/completions.write/").text
    report = livesite.form_fields(scope_page, "message")
    report.update(message=REPORT, source_url="https://portkey.ai/docs/example")
    actions = fix_url(DENIED).replace("/fix/?", "/fix/actions/?", 1)
    feedback = livesite.form_fields(visitor.get(actions).text, "page_view")
    outage.proxy.cut()

    refused = visitor.post("/reference/report/", report)
    answer = visitor.post("/feedback/", {**feedback, "fixed": "yes"})
    swapped = visitor.post(
        "/feedback/", {**feedback, "fixed": "yes"}, headers={"HX-Request": "true"}
    )
    paste = visitor.post("/paste/", {**feedback, "text": PASTE})

    assert refused.status == 503
    assert refused.headers["retry-after"] == RETRY_AFTER
    assert h1s(refused.text) == ["completions.write"]
    assert "We could not save your report just now" in refused.text
    kept = livesite.form_fields(refused.text, "message")
    assert kept["message"] == REPORT
    assert kept["source_url"] == "https://portkey.ai/docs/example"
    assert answer.status == 503
    assert answer.headers["retry-after"] == RETRY_AFTER
    assert h1s(answer.text) == ["We could not save that just now"]
    assert livesite.hidden_value(answer.text, "page_view") == feedback["page_view"]
    assert swapped.status == 503
    assert "<h1" not in swapped.text
    assert '<h2 id="feedback-heading">' in swapped.text
    # Reading a paste stores nothing, so it still works from memory.
    assert paste.status == 200
    assert "AB03" in paste.text

    outage.proxy.restore()
    saved = visitor.post("/reference/report/", kept)
    resent = visitor.post(
        "/feedback/", livesite.form_fields(answer.text, "page_view") | {"fixed": "yes"}
    )

    assert saved.status == 302
    assert resent.status == 200
    stored = livesite.query(
        outage.database, "SELECT key, message FROM troubleshooter_mistakereport"
    )
    assert stored == [("completions.write", REPORT)]
    assert livesite.query(
        outage.database, "SELECT scenario, fixed FROM troubleshooter_feedback"
    ) == [("completions", True)]


def test_a_short_link_refused_during_the_outage_keeps_the_answers_and_the_long_link(
    outage,
):
    visitor = outage.visitor()
    actions = fix_url(DENIED).replace("/fix/?", "/fix/actions/?", 1)
    fields = livesite.form_fields(visitor.get(actions).text, "scenario", action="/f/")
    outage.proxy.cut()

    refused = visitor.post("/f/", fields)

    assert refused.status == 503
    assert refused.headers["retry-after"] == RETRY_AFTER
    resend = livesite.form_fields(refused.text, "scenario", action="/f/")
    assert {k: resend[k] for k in DENIED} == DENIED
    assert 'href="/fix/?' in refused.text

    outage.proxy.restore()
    made = visitor.post("/f/", resend)

    assert made.status == 302
    code = made.headers["location"].rstrip("/").rsplit("/", 1)[-1]
    assert livesite.query(
        outage.database, "SELECT code FROM troubleshooter_shortlink"
    ) == [(code,)]


STAFF_EDIT = "Reads virtual keys.\nWritten while the database was away."


def without_token(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if k != "csrfmiddlewaretoken"}


def test_a_staff_edit_refused_during_the_outage_comes_back_whole_and_saves_later(
    outage,
):
    staff = outage.visitor()
    staff.log_in("/admin/", livesite.STAFF_USER, livesite.template().password)
    [(scope_id,)] = livesite.query(
        outage.database,
        "SELECT id FROM scopes_scope WHERE name = %s",
        "virtual_keys.read",
    )
    change = f"/admin/scopes/scope/{scope_id}/change/"
    typed = livesite.form_fields(staff.get(change).text, "description")
    typed.update(description=STAFF_EDIT, _save="Save")
    outage.proxy.cut()

    refused = staff.post(change, typed)

    assert refused.status == 503
    assert refused.headers["retry-after"] == RETRY_AFTER
    assert h1s(refused.text) == ["We could not save that just now"]
    assert "Your changes were not saved" in refused.text
    resend = livesite.form_fields(refused.text, "description", action=change)
    # Every field as typed, the button pressed included; only the token is new.
    assert without_token(resend) == without_token(typed)
    assert STAFF_EDIT in unescape(refused.text)

    outage.proxy.restore()
    saved = staff.post(change, resend)

    assert saved.status == 302
    assert livesite.query(
        outage.database,
        "SELECT description FROM scopes_scope WHERE id = %s",
        scope_id,
    ) == [(STAFF_EDIT,)]


def test_a_refused_staff_sign_in_keeps_the_name_but_never_echoes_the_password(
    outage,
):
    staff = outage.visitor()
    login = "/admin/login/"
    fields = livesite.form_fields(staff.get(login).text, "username")
    password = "correct-horse-battery-staple"
    outage.proxy.cut()

    refused = staff.post(login, {**fields, "username": "alice", "password": password})

    assert refused.status == 503
    assert password not in refused.text
    kept = livesite.form_fields(refused.text, "username", action=login)
    assert kept["username"] == "alice"
    assert "Type your password again" in refused.text
