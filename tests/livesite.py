"""Real Scope Doctor processes for the tests that need more than one process
or a database that can fail: the outage and scale-out tests, and
`make soak` (.ci/soak.py).

The site runs under gunicorn with production settings against a throwaway
PostgreSQL database. Migrating and loading the reference data takes a while,
so that is done once into a template database; each test then copies it,
which takes a fraction of a second.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import html
import http.client
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
STAFF_USER = "soak-editor"


# -- PostgreSQL ---------------------------------------------------------------


def postgres_server_url() -> str:
    """The PostgreSQL server to make throwaway databases on: the suite's own
    when DATABASE_URL names one, the local server otherwise."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return urlunsplit(urlsplit(url)._replace(path="/postgres"))
    return DEFAULT_POSTGRES


def database_url(name: str) -> str:
    return urlunsplit(urlsplit(postgres_server_url())._replace(path=f"/{name}"))


def postgres_unreachable_reason() -> str | None:
    """Why no throwaway PostgreSQL database can be made, or None."""
    import psycopg

    try:
        with psycopg.connect(postgres_server_url(), connect_timeout=3):
            return None
    except psycopg.Error as error:
        first_line = str(error).strip().splitlines()[0] if str(error) else ""
        return f"PostgreSQL at {postgres_server_url()} is not reachable: {first_line}"


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(postgres_server_url(), autocommit=True) as connection:
        connection.execute(sql)


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stderr[-3000:]}")
    return result.stdout


class Template:
    """A migrated database holding the reference data and one staff editor."""

    def __init__(self) -> None:
        self.name = f"scopedoctor_live_template_{os.getpid()}"
        self.password = secrets.token_urlsafe(16)
        self.ready = False

    def build(self) -> None:
        _admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        _admin(f'CREATE DATABASE "{self.name}"')
        self.ready = True
        env = {**os.environ, "DEBUG": "1", "DATABASE_URL": database_url(self.name)}
        env.pop("REDIS_URL", None)
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "load_reference", "-v", "0")
        # The password goes through the environment, never the command line.
        env["STAFF_PASSWORD"] = self.password
        manage(env, "shell", "-v", "0", "-c", create_staff_code(STAFF_USER))

    def drop(self) -> None:
        if self.ready:
            _admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.ready = False


def create_staff_code(username: str) -> str:
    """Python for `manage.py shell -c`: a staff user in the Editors group,
    with the password in STAFF_PASSWORD."""
    return (
        "import os\n"
        "from django.contrib.auth.models import Group, User\n"
        f"user = User.objects.create_user({username!r}, is_staff=True,\n"
        "    password=os.environ['STAFF_PASSWORD'])\n"
        "user.groups.add(Group.objects.get(name='Editors'))\n"
    )


@functools.cache
def template() -> Template:
    """The one template of this process, built on first use and dropped when
    the process ends."""
    built = Template()
    atexit.register(built.drop)
    built.build()
    return built


@contextlib.contextmanager
def database_from_template(label: str) -> Iterator[str]:
    """Yield the URL of a fresh copy of the template, dropped afterwards."""
    source = template()
    name = f"scopedoctor_{label}_{os.getpid()}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{source.name}"')
    try:
        yield database_url(name)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def query(url: str, sql: str, *params: object) -> list[tuple]:
    """Rows from the site's database, read the way staff tooling would."""
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute(sql, params).fetchall()


# -- The site -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(database: str, **extra: str) -> dict[str, str]:
    """Production settings on plain HTTP over loopback."""
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": database,
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    if "REDIS_URL" not in extra:
        env.pop("REDIS_URL", None)
    if "STATIC_ROOT" not in extra:
        # Pages only need the names of static files, not the files.
        env["STATIC_PLAIN"] = "1"
    return env


@contextlib.contextmanager
def gunicorn(env: dict[str, str], workers: int = 1, log=None) -> Iterator[str]:
    """Yield the base URL of gunicorn serving the site, stopped afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "--config",
            "python:troubleshooter.gunicorn_config",
            "troubleshooter.wsgi",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log or subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_port(port: int, process: subprocess.Popen) -> None:
    # Only the port is polled: a request would already read the database.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn stopped while starting")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not open its port within 30 seconds")


# -- A small HTTP client with cookies -----------------------------------------


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Client:
    """One visitor: keeps its cookies (Secure ones too: this is loopback
    HTTP standing in for HTTPS) and never follows redirects."""

    def __init__(self, base: str, timeout: float = 30) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self._connection: http.client.HTTPConnection | None = None

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def post(
        self, path: str, fields, headers: dict[str, str] | None = None
    ) -> Response:
        body = urlencode(fields, doseq=True).encode()
        sent = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.request("POST", path, body, sent)

    def post_json(self, path: str, body: bytes) -> Response:
        return self.request("POST", path, body, {"Content-Type": "application/json"})

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection = self._connect()
        try:
            connection.request(method, path, body=body, headers=sent)
            raw = connection.getresponse()
            content = raw.read()
        except Exception:
            self.close()
            raise
        if raw.will_close:
            self.close()
        for name, value in raw.getheaders():
            if name.lower() == "set-cookie":
                cookie = value.split(";", 1)[0]
                key, _, val = cookie.partition("=")
                self.cookies[key.strip()] = val.strip()
        return Response(
            raw.status, {k.lower(): v for k, v in raw.getheaders()}, content
        )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            self._connection = http.client.HTTPConnection(
                self.host, self.port, timeout=self.timeout
            )
        return self._connection

    def log_in(self, admin: str, username: str, password: str) -> None:
        """Log in through the admin's own login form, with its CSRF token."""
        login = f"{admin}login/"
        page = self.get(login)
        fields = form_fields(page.text, "username")
        fields.update({"username": username, "password": password, "next": admin})
        answer = self.post(login, fields)
        if answer.status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"admin login failed with HTTP {answer.status}")


# -- Forms in pages -----------------------------------------------------------


class _Forms(HTMLParser):
    """Every form's fields, with the values a browser would submit."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, list[tuple[str, str]]]] = []
        self._form: list[tuple[str, str]] | None = None
        self._textarea: tuple[str, list[str]] | None = None
        self._select: tuple[str, list[tuple[str, bool]]] | None = None
        self._option: list | None = None
        self._multiple = False

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = []
            self.forms.append((a.get("action", ""), self._form))
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "file", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self._form.append(
                (
                    a["name"],
                    a.get("value", "on" if kind in ("checkbox", "radio") else ""),
                )
            )
        elif tag == "textarea" and a.get("name"):
            self._textarea = (a["name"], [])
        elif tag == "select" and a.get("name"):
            self._select = (a["name"], [])
            self._multiple = "multiple" in a
        elif tag == "option" and self._select is not None:
            self._option = [a.get("value"), "selected" in a, []]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1].append(data)
        if self._option is not None:
            self._option[2].append(data)

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None:
            name, parts = self._textarea
            # A newline right after <textarea> is not part of its value.
            self._form.append((name, "".join(parts).removeprefix("\n")))
            self._textarea = None
        elif tag == "option" and self._option is not None:
            value, selected, text = self._option
            self._select[1].append(
                (value if value is not None else "".join(text).strip(), selected)
            )
            self._option = None
        elif tag == "select" and self._select is not None:
            name, options = self._select
            chosen = [value for value, selected in options if selected]
            if not chosen and options and not self._multiple:
                chosen = [options[0][0]]
            self._form.extend((name, value) for value in chosen)
            self._select = None
        elif tag == "form":
            self._form = None


def form_fields(
    page: str, containing: str, action: str | None = None
) -> dict[str, str | list[str]]:
    """The fields of the first form on ``page`` (posting to ``action``, if
    given) with a field named ``containing``; repeated names become lists."""
    parser = _Forms()
    parser.feed(page)
    for form_action, fields in parser.forms:
        if action is not None and form_action != action:
            continue
        if any(name == containing for name, _ in fields):
            collected: dict[str, str | list[str]] = {}
            for name, value in fields:
                if name in collected:
                    previous = collected[name]
                    collected[name] = [
                        *([previous] if isinstance(previous, str) else previous),
                        value,
                    ]
                else:
                    collected[name] = value
            return collected
    raise LookupError(f"no form with a field named {containing!r}")


def hidden_value(page: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    if found is None:
        raise LookupError(f"no field named {name!r} in the page")
    return html.unescape(found.group(1))
