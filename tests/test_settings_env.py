"""The strict environment helpers accept the valid forms and name the variable
in every refusal."""

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from troubleshooter.env import (
    env_bool,
    env_cache,
    env_choice,
    env_database,
    env_int,
    env_list,
    env_required,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("ON", True),
        ("0", False),
        ("False", False),
        ("off", False),
    ],
)
def test_env_bool_accepts_the_usual_words(raw, expected):
    assert env_bool("DEBUG", default=not expected, environ={"DEBUG": raw}) is expected


def test_env_bool_falls_back_to_the_default_when_unset_or_blank():
    assert env_bool("DEBUG", default=True, environ={}) is True
    assert env_bool("DEBUG", default=False, environ={"DEBUG": "  "}) is False


@pytest.mark.parametrize("raw", ["yes", "no", "2", "enabled"])
def test_env_bool_rejects_anything_else_naming_the_variable(raw):
    with pytest.raises(ImproperlyConfigured, match=r"DEBUG=.*use one of .*true"):
        env_bool("DEBUG", default=False, environ={"DEBUG": raw})


def test_env_int_accepts_whole_numbers_and_rejects_the_rest():
    assert (
        env_int("SECURE_HSTS_SECONDS", 0, environ={"SECURE_HSTS_SECONDS": "60"}) == 60
    )
    for raw in ["-1", "1.5", "a year"]:
        with pytest.raises(ImproperlyConfigured, match="SECURE_HSTS_SECONDS"):
            env_int("SECURE_HSTS_SECONDS", 0, environ={"SECURE_HSTS_SECONDS": raw})


def test_env_list_splits_on_commas_and_rejects_empty_entries():
    hosts = env_list("ALLOWED_HOSTS", [], environ={"ALLOWED_HOSTS": "a.com, b.com"})
    assert hosts == ["a.com", "b.com"]

    with pytest.raises(ImproperlyConfigured, match="ALLOWED_HOSTS"):
        env_list("ALLOWED_HOSTS", [], environ={"ALLOWED_HOSTS": "a.com,,b.com"})


def test_env_required_names_the_missing_variable():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set"):
        env_required("SECRET_KEY", "needed in production", environ={})


def test_env_choice_is_case_insensitive_and_lists_the_choices():
    levels = ("DEBUG", "INFO")
    assert env_choice("LOG_LEVEL", levels, "INFO", environ={"LOG_LEVEL": "debug"}) == (
        "DEBUG"
    )
    with pytest.raises(ImproperlyConfigured, match="LOG_LEVEL.*DEBUG, INFO"):
        env_choice("LOG_LEVEL", levels, "INFO", environ={"LOG_LEVEL": "loud"})


def test_database_defaults_to_a_sqlite_file_in_the_project(tmp_path):
    config = env_database("DATABASE_URL", tmp_path / "db.sqlite3", environ={})

    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "db.sqlite3")


def test_database_accepts_a_sqlite_url():
    config = env_database(
        "DATABASE_URL", Path("x"), environ={"DATABASE_URL": "sqlite:////tmp/a.sqlite3"}
    )

    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == "/tmp/a.sqlite3"


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_database_accepts_a_postgres_url(scheme):
    url = f"{scheme}://alice:s3cret@db.internal:5433/scopes"

    config = env_database("DATABASE_URL", Path("x"), environ={"DATABASE_URL": url})

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == (
        "db.internal",
        5433,
        "scopes",
    )
    assert config["USER"] == "alice"


@pytest.mark.parametrize(
    "url",
    ["mysql://u@h/db", "not a url", "postgres://u:pw@host:5432", "redis://h:6379/0"],
)
def test_database_rejects_other_urls_without_echoing_the_password(url):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL") as error:
        env_database("DATABASE_URL", Path("x"), environ={"DATABASE_URL": url})

    assert "pw" not in str(error.value)


def test_the_cache_is_local_memory_unless_redis_is_named():
    assert "LocMemCache" in env_cache("REDIS_URL", environ={})["BACKEND"]

    redis = env_cache("REDIS_URL", environ={"REDIS_URL": "redis://127.0.0.1:6379/1"})
    assert redis["BACKEND"] == "troubleshooter.rediscache.RedisCache"
    assert redis["LOCATION"] == "redis://127.0.0.1:6379/1"


def test_a_cache_url_of_another_kind_is_refused():
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL must look like"):
        env_cache("REDIS_URL", environ={"REDIS_URL": "memcached://h:11211"})
