"""Scale-out: two app servers behind one load balancer share one PostgreSQL
and one Redis. A staff edit made through one is served by the other at its
next request, and a rate limit counted by one holds on the other.

Each server is its own gunicorn process with production settings and the
same SECRET_KEY, as behind a real load balancer. They use a copy of the
reference database on the local PostgreSQL (tests/livesite.py), whatever
database the rest of the suite runs on, and a Redis database number of their
own, flushed before and after.
"""

import re
import secrets
from html import unescape

import pytest

from tests import livesite

REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 13
SCOPE = "logs.view"
SCOPE_PAGE = f"/reference/scopes/{SCOPE}/"
FIX_ACTIONS = (
    "/fix/actions/?scenario=completions&context=code&key_type=workspace_service"
    "&method=POST&path=/v1/chat/completions&scopes=logs.view"
)


def _redis():
    import redis

    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)


def _redis_unreachable_reason() -> str | None:
    import redis

    try:
        _redis().ping()
    except redis.RedisError as error:
        return f"Redis at {REDIS_HOST}:{REDIS_PORT} is not reachable: {error}"
    return None


_unreachable = livesite.postgres_unreachable_reason() or _redis_unreachable_reason()
pytestmark = pytest.mark.skipif(_unreachable is not None, reason=_unreachable or "")


class Servers:
    def __init__(self, first: str, second: str, database: str) -> None:
        self.first = first
        self.second = second
        self.database = database


@pytest.fixture(scope="module")
def servers():
    redis = _redis()
    redis.flushdb()
    with livesite.database_from_template("scale_out") as database:
        env = livesite.production_env(
            database,
            REDIS_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
            RATE_LIMIT_SHORT_LINKS="2",
        )
        with livesite.gunicorn(env) as first, livesite.gunicorn(env) as second:
            yield Servers(first, second, database)
    redis.flushdb()


def description_on(page: str) -> str:
    found = re.search(r'<p class="lead">(.*?)</p>', page, re.S)
    assert found, "no description on the scope page"
    return unescape(found.group(1)).strip()


def test_a_staff_edit_through_one_server_is_served_by_the_other_at_its_next_request(
    servers,
):
    visitor = livesite.Client(servers.second)
    before = visitor.get(SCOPE_PAGE)
    assert before.status == 200
    new_description = f"Read request logs and their details ({secrets.token_hex(4)})."
    assert new_description not in before.text

    editor = livesite.Client(servers.first)
    editor.log_in("/admin/", livesite.STAFF_USER, livesite.template().password)
    [(pk,)] = livesite.query(
        servers.database, "SELECT id FROM scopes_scope WHERE name = %s", SCOPE
    )
    change = f"/admin/scopes/scope/{pk}/change/"
    fields = livesite.form_fields(editor.get(change).text, "description")
    fields.update(description=new_description, _save="Save")
    saved = editor.post(change, fields)
    assert saved.status == 302

    after = visitor.get(SCOPE_PAGE)

    assert after.status == 200
    assert description_on(after.text) == new_description
    assert livesite.query(
        servers.database,
        "SELECT description FROM scopes_scope WHERE name = %s",
        SCOPE,
    ) == [(new_description,)]


def test_a_rate_limit_counted_by_one_server_holds_on_the_other(servers):
    visitor = livesite.Client(servers.first)
    form = livesite.form_fields(visitor.get(FIX_ACTIONS).text, "scenario", action="/f/")

    first = visitor.post("/f/", form)
    second = visitor.post("/f/", {**form, "scopes": "logs.write"})
    visitor_on_second = livesite.Client(servers.second)
    visitor_on_second.cookies = dict(visitor.cookies)
    third = visitor_on_second.post("/f/", {**form, "scopes": "completions.write"})

    assert (first.status, second.status) == (302, 302)
    assert third.status == 429
    assert int(third.headers["retry-after"]) > 0
    keys = [key.decode() for key in _redis().keys("*ratelimit:short_link:*")]
    assert len(keys) == 1
    assert "127.0.0.1" not in keys[0]
