"""Strict readers for settings that come from the environment.

Each helper either returns a well-typed value or raises ImproperlyConfigured
naming the variable and the values it accepts, so a typo in a deployment stops
start-up instead of silently running with a default.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "on"})
FALSE_WORDS = frozenset({"0", "false", "off"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql")


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    source = os.environ if environ is None else environ
    value = source.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_bool(
    name: str, default: bool, environ: Mapping[str, str] | None = None
) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default

    lowered = value.lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean; use one of "
        f"{', '.join(sorted(TRUE_WORDS | FALSE_WORDS))}."
    )


def env_int(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    value = _raw(name, environ)
    if value is None:
        return default

    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a whole number; use 0 or a positive integer."
        )
    return number


def env_str(
    name: str, default: str | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    value = _raw(name, environ)
    return default if value is None else value


def env_required(name: str, why: str, environ: Mapping[str, str] | None = None) -> str:
    value = _raw(name, environ)
    if value is None:
        raise ImproperlyConfigured(f"{name} must be set: {why}")
    return value


def env_list(
    name: str, default: list[str], environ: Mapping[str, str] | None = None
) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return list(default)

    items = [item.strip() for item in value.split(",")]
    if any(item == "" for item in items):
        raise ImproperlyConfigured(
            f"{name}={value!r} has an empty entry; use a comma-separated list "
            "such as 'example.com,www.example.com'."
        )
    return items


def env_choice(
    name: str,
    choices: tuple[str, ...],
    default: str,
    environ: Mapping[str, str] | None = None,
) -> str:
    value = _raw(name, environ)
    if value is None:
        return default

    upper_choices = {choice.upper(): choice for choice in choices}
    if value.upper() not in upper_choices:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not accepted; use one of {', '.join(choices)}."
        )
    return upper_choices[value.upper()]


def env_database(
    name: str, default_sqlite: Path, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Parse a database URL; only SQLite and PostgreSQL are accepted."""
    value = _raw(name, environ)
    if value is None:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(default_sqlite),
            "CONN_MAX_AGE": 600,
        }

    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in DATABASE_SCHEMES:
        raise ImproperlyConfigured(
            f"{name} must look like sqlite:///path/to/file.sqlite3 or "
            "postgres://user:password@host:5432/dbname; got a value with scheme "
            f"{scheme or 'missing'!r}."
        )

    try:
        config = dj_database_url.parse(value, conn_max_age=60, conn_health_checks=True)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} could not be parsed: {error}") from None

    if scheme != "sqlite" and not config.get("NAME"):
        raise ImproperlyConfigured(
            f"{name} names no database; add one after the host, "
            "as in postgres://user@host:5432/dbname."
        )
    if scheme == "sqlite":
        # Opening a SQLite file reads its schema again: keep connections, as
        # the version check would otherwise cost a millisecond per request.
        config["CONN_MAX_AGE"] = 600
        config.pop("CONN_HEALTH_CHECKS", None)
    return config


CACHE_SCHEMES = ("redis", "rediss", "unix")


def env_cache(name: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Redis when a URL is given (shared by every process), else local memory."""
    value = _raw(name, environ)
    if value is None:
        return {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "scope-doctor",
        }

    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in CACHE_SCHEMES:
        raise ImproperlyConfigured(
            f"{name} must look like redis://host:6379/0 (or rediss:// or unix://); "
            f"got a value with scheme {scheme or 'missing'!r}."
        )
    return {
        # Django's backend, minus a per-call cost (see the module).
        "BACKEND": "troubleshooter.rediscache.RedisCache",
        "LOCATION": value,
        "KEY_PREFIX": "scope-doctor",
        # A hung Redis must not hold a worker: callers fall back or refuse.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
