"""The data-version stamp shared through Redis (REDIS_URL): a warm public
page needs no database query, an edit is seen at the next request, and an
unreachable Redis falls back to the database instead of failing.

Uses the real Redis on 127.0.0.1:6379 (database 12, flushed around each test).
"""

import logging
import time

import pytest

from scopes import services
from scopes.models import Scope
from troubleshooter.env import env_cache

REDIS_URL = "redis://127.0.0.1:6379/12"
SCOPE_PAGE = "/reference/scopes/logs.view/"
CHECK = (
    "/api/v1/check?method=POST&path=/v1/chat/completions"
    "&key_type=workspace_service&scopes=completions.write"
)


def _redis_unreachable_reason() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as error:
        return f"Redis is not reachable at {REDIS_URL}: {error}"
    return None


_unreachable = _redis_unreachable_reason()
pytestmark = pytest.mark.skipif(_unreachable is not None, reason=_unreachable or "")


def _use_redis(settings, url: str) -> None:
    # The same cache settings as production's, from the same helper.
    default = env_cache("REDIS_URL", environ={"REDIS_URL": url})
    settings.CACHES = {**settings.CACHES, "default": default}
    settings.DATA_VERSION_CACHE = "default"


@pytest.fixture
def shared(settings):
    import redis

    server = redis.Redis.from_url(REDIS_URL)
    server.flushdb()
    _use_redis(settings, REDIS_URL)
    yield server
    server.flushdb()


def test_a_warm_page_needs_no_query_when_the_stamp_is_shared(
    client, reference, shared, django_assert_num_queries
):
    client.get(SCOPE_PAGE)  # warm: the stamp is read once and shared
    client.get(CHECK)

    with django_assert_num_queries(0):
        assert client.get(SCOPE_PAGE).status_code == 200
        assert client.get(CHECK).json()["verdict"] == "allowed"


def test_an_edit_is_served_at_the_next_request(
    client, reference, shared, django_capture_on_commit_callbacks
):
    client.get(SCOPE_PAGE)

    with django_capture_on_commit_callbacks(execute=True):
        scope = Scope.objects.get(name="logs.view")
        scope.description = "Read every log of the workspace, freshly worded."
        scope.save()

    assert "freshly worded" in client.get(SCOPE_PAGE).content.decode()


@pytest.fixture
def fresh_shared_state(monkeypatch):
    # The pause after a Redis failure is per process; each test starts clean.
    monkeypatch.setattr(services, "_shared_resting_until", 0.0)


def test_an_unreachable_redis_falls_back_to_the_database(
    client, reference, settings, caplog, django_assert_num_queries, fresh_shared_state
):
    # Nothing listens on port 1: every Redis call fails at once.
    _use_redis(settings, "redis://127.0.0.1:1/0")
    client.get(SCOPE_PAGE)

    with caplog.at_level(logging.WARNING, logger="scopes.services"):
        with django_assert_num_queries(1):  # the stamp, from the database
            page = client.get(SCOPE_PAGE)

    assert page.status_code == 200
    assert "logs.view" in page.content.decode()


def test_a_redis_outage_is_logged_once_and_its_end_too(
    client, reference, shared, settings, caplog, monkeypatch, fresh_shared_state
):
    _use_redis(settings, "redis://127.0.0.1:1/0")

    def pause_over():
        monkeypatch.setattr(services, "_shared_resting_until", time.monotonic() - 1)

    with caplog.at_level(logging.WARNING, logger="scopes.services"):
        pages = [client.get(SCOPE_PAGE) for _ in range(5)]
        pause_over()
        client.get(SCOPE_PAGE)  # still down: tried again, not logged again
        pause_over()
        _use_redis(settings, REDIS_URL)
        back = client.get(SCOPE_PAGE)

    assert all(page.status_code == 200 for page in [*pages, back])
    assert caplog.text.count("Shared cache unavailable for the data version") == 1
    assert caplog.text.count("Shared cache reachable again") == 1
