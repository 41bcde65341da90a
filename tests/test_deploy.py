"""Production mode: start-up refuses bad configuration and passes check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k3y-" + "x9Qz!7vB#2mL@4pR$6tY^8wE&0uI*1oP(3aS)5dF_" * 2,
    "ALLOWED_HOSTS": "scopedoctor.example.com",
    # Only named: check --deploy does not connect to it.
    "REDIS_URL": "redis://cache.internal:6379/0",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_in_production_mode():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV
    )

    assert result.returncode == 0, result.stderr + result.stdout


def test_check_deploy_warns_that_without_redis_each_worker_counts_alone():
    without_redis = {**PRODUCTION_ENV, "REDIS_URL": ""}

    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env=without_redis
    )

    assert result.returncode != 0
    assert "troubleshooter.W001" in result.stderr
    assert "Set REDIS_URL" in result.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must be set"),
        ({"DEBUG": "yes"}, "DEBUG='yes' is not a boolean"),
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL must look like"),
    ],
)
def test_start_up_stops_on_bad_configuration(override, message):
    result = run_manage("check", env={**PRODUCTION_ENV, **override})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_no_migrations_are_pending():
    result = run_manage("makemigrations", "--check", "--dry-run", env={"DEBUG": "1"})

    assert result.returncode == 0, result.stdout + result.stderr
