"""Shared fixtures: the small cast of people every test module can use."""

import json
from pathlib import Path

import pytest

from scopes.snapshot import from_records


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
