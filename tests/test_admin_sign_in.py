"""Staff sign-in: attempts are throttled, the admin's address is configurable
and sessions do not outlive the browser or the working day."""

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from tests import factories

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _quick_password_hashing(settings):
    # Each sign-in checks a password; the production hasher is slow on purpose.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(db):
    user = factories.staff("alice")
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in(client, password: str, address: str = "203.0.113.7"):
    return client.post(
        reverse("admin:login"),
        {"username": "alice", "password": password, "next": reverse("admin:index")},
        REMOTE_ADDR=address,
    )


def fail_until_locked(client):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = sign_in(client, "wrong")
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.text

    # The fifth failure is answered with the lockout itself.
    assert sign_in(client, "wrong").status_code == 429


def test_staff_sign_in_with_the_right_password(client, alice):
    response = sign_in(client, PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


def test_five_failures_lock_the_address_out_with_a_429_that_says_when(client, alice):
    fail_until_locked(client)

    response = sign_in(client, PASSWORD)

    assert response.status_code == 429
    assert response["Retry-After"] == str(15 * 60)
    assert response.text.count("<h1") == 1
    assert "Too many sign-in attempts" in response.text
    assert "try again in 15 minutes" in response.text
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_for_that_address_only(client, alice):
    fail_until_locked(client)

    response = sign_in(client, PASSWORD, address="198.51.100.20")

    assert response.status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, alice):
    fail_until_locked(client)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    response = sign_in(client, PASSWORD)

    assert response.status_code == 302


def test_a_success_clears_earlier_failures(client, alice):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "wrong")
    sign_in(client, PASSWORD)
    client.logout()

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "wrong")

    assert sign_in(client, PASSWORD).status_code == 302


def test_staff_can_lift_a_lockout_by_hand(client, alice):
    fail_until_locked(client)

    call_command("axes_reset_ip", "203.0.113.7", stdout=StringIO())

    assert sign_in(client, PASSWORD).status_code == 302


def test_a_staff_session_ends_with_the_browser_and_within_a_working_day(client, alice):
    sign_in(client, PASSWORD)

    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["expires"] == ""
    assert cookie["max-age"] == ""
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert client.session.get_expiry_age() <= 8 * 60 * 60


def test_the_admin_lives_at_the_address_admin_url_names():
    env = {
        **os.environ,
        "DEBUG": "1",
        "ADMIN_URL": "staff-desk-4821/",
    }
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.urls import reverse; print(reverse('admin:login'))",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "/staff-desk-4821/login/"
