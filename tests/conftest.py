"""Shared fixtures: the small cast of people every test module can use."""

import json
from pathlib import Path

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from scopes.services import current_snapshot
from scopes.snapshot import from_records
from troubleshooter.caching import page_store


@pytest.fixture(autouse=True)
def _empty_page_cache():
    # Keys carry the data stamp, so this is belt and braces: no test should
    # ever see a page another test rendered.
    page_store().clear()


@pytest.fixture(autouse=True)
def _no_rate_limit_counts():
    # Rate-limit counters live in the default cache; each test starts with
    # none, so tests that post often never meet another test's counts.
    caches["default"].clear()


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # Tests render templates with {% static %}; the plain backend means they
    # need no collectstatic run and no manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }


REFERENCE_FILE = Path(__file__).resolve().parent.parent / "scopes/data/reference.jsonl"


def reference_records() -> list[dict]:
    with REFERENCE_FILE.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="session")
def snapshot():
    """The shipped reference data as an engine snapshot, without a database."""
    return from_records(reference_records(), version=1)


@pytest.fixture(scope="module")
def _reference_in_module(django_db_setup, django_db_blocker):
    """Load the shipped reference data once per test module.

    Loading takes seconds, so it happens once inside an outer transaction
    that is rolled back when the module ends; each test still runs in its own
    savepoint (pytest-django's ``db``), so a test's edits never leak.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            # History rows for the initial load are half its cost and no test
            # reads them; edits made by tests are still recorded.
            with override_settings(SIMPLE_HISTORY_ENABLED=False):
                call_command("load_reference", verbosity=0)
            yield
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def reference(_reference_in_module, db):
    """A database holding the shipped reference data; returns its snapshot."""
    return current_snapshot()
