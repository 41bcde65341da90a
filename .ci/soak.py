"""Scope Doctor's soak test: many clients at once, reads and writes mixed.

`make soak` (or `.venv/bin/python .ci/soak.py --duration 60`) prepares a
throwaway PostgreSQL database with the project's own commands (migrate,
load_reference, a staff editor), collects the static files, and starts
gunicorn with production settings (2 x cores + 1 workers) on a loopback port,
with Redis as the shared cache when it is reachable. Then 64 clients run at
once for the given time: 62 visitors walk wizard steps, open fix pages, call
the API, answer "Did this fix it?", report mistakes and make short links
(each form fetched first for its CSRF token), while 2 staff editors change
scope descriptions through the admin's change form.

At the end it prints the requests and the errors (5xx, connection errors,
and any 4xx, which includes rate limits: they are raised out of the way here),
then every write the site acknowledged next to the rows the database holds.
It exits non-zero unless there were no errors and the two columns agree.
The database is dropped and the Redis db it used is flushed afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import livesite  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/14"
UNLIMITED = str(10**9)
SCENARIOS = ("completions", "logs", "admin_api", "models", "mcp", "something_else")
KEY_TYPES = ("admin", "workspace_user", "workspace_service")
HELD_SCOPES = ("logs.view", "completions.write", "logs.list", "virtual_keys.read")
REPORTED_SCOPES = ("logs.view", "completions.write", "logs.list")
# Short links are made for random sets of these, so most are new rows rather
# than "already exists" (thousands of distinct sets).
SCOPE_POOL = (
    "completions.write",
    "completions.read",
    "logs.view",
    "logs.list",
    "logs.read",
    "logs.export",
    "configs.read",
    "configs.list",
    "virtual_keys.read",
    "prompts.read",
    "analytics.view",
    "guardrails.invoke",
)
EDITED_SCOPES = ("virtual_keys.read", "prompts.read")
PUBLIC_MIX = (
    ("wizard step", 25),
    ("fix page", 25),
    ("api check", 20),
    ("feedback", 12),
    ("mistake report", 8),
    ("short link", 10),
)


@dataclass
class Tally:
    """What one client saw; merged at the end, so no lock is needed."""

    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    feedback: int = 0
    reports: int = 0
    short_links: set[str] = field(default_factory=set)
    edits: Counter[str] = field(default_factory=Counter)
    last_edit: dict[str, str] = field(default_factory=dict)

    def merge(self, other: Tally) -> None:
        self.requests += other.requests
        self.statuses += other.statuses
        self.failures += other.failures
        self.latencies += other.latencies
        self.feedback += other.feedback
        self.reports += other.reports
        self.short_links |= other.short_links
        self.edits += other.edits
        self.last_edit.update(other.last_edit)


class Unexpected(Exception):
    """An answer that is not what a working site gives."""


class Visitor:
    def __init__(self, base: str, tally: Tally, rng: random.Random) -> None:
        self.client = livesite.Client(base, timeout=60)
        self.tally = tally
        self.rng = rng

    def call(self, kind: str, method: str, path: str, fields=None, ok=(200,)):
        self.tally.requests[kind] += 1
        started = time.perf_counter()
        try:
            if method == "GET":
                response = self.client.get(path)
            else:
                response = self.client.post(path, fields)
        except OSError as error:
            self.tally.failures[f"connection error ({type(error).__name__})"] += 1
            raise Unexpected from error
        self.tally.latencies.append(time.perf_counter() - started)
        self.tally.statuses[response.status] += 1
        if response.status not in ok:
            self.tally.failures[f"HTTP {response.status} on {kind}"] += 1
            raise Unexpected
        return response

    def answers(self, scopes: str | None = None) -> dict[str, str]:
        return {
            "scenario": "completions",
            "context": "code",
            "key_type": self.rng.choice(KEY_TYPES),
            "method": "POST",
            "path": "/v1/chat/completions",
            "scopes": scopes or self.rng.choice(HELD_SCOPES),
        }

    def fix_path(self) -> str:
        return "/fix/?" + urlencode(self.answers())

    def actions_path(self, scopes: str | None = None) -> str:
        # The fix page loads its forms (with per-visitor tokens) from here.
        return "/fix/actions/?" + urlencode(self.answers(scopes))

    # -- The public mix -------------------------------------------------------

    def wizard_step(self) -> None:
        query = urlencode({"key_type": self.rng.choice(KEY_TYPES)})
        scenario = self.rng.choice(SCENARIOS)
        self.call("wizard step", "GET", f"/diagnose/{scenario}/?{query}", ok=(200, 302))

    def fix_page(self) -> None:
        self.call("fix page", "GET", self.fix_path())

    def api_check(self) -> None:
        query = urlencode(
            {
                "method": "POST",
                "path": "/v1/chat/completions",
                "key_type": self.rng.choice(KEY_TYPES),
                "scopes": self.rng.choice(HELD_SCOPES),
            }
        )
        self.call("api check", "GET", f"/api/v1/check?{query}")

    def feedback(self) -> None:
        page = self.call("feedback", "GET", self.actions_path()).text
        fields = livesite.form_fields(page, "page_view")
        fields["fixed"] = self.rng.choice(("yes", "no"))
        answer = self.call("feedback", "POST", "/feedback/", fields).text
        if "Thank you" not in answer or "already have your answer" in answer:
            self.tally.failures["feedback answered without thanks"] += 1
            raise Unexpected
        self.tally.feedback += 1

    def mistake_report(self) -> None:
        scope = self.rng.choice(REPORTED_SCOPES)
        page = self.call("mistake report", "GET", f"/reference/scopes/{scope}/").text
        fields = livesite.form_fields(page, "message")
        fields["message"] = f"Soak report {secrets.token_hex(6)}: please check this."
        answer = self.call(
            "mistake report", "POST", "/reference/report/", fields, ok=(302,)
        )
        if "reported=1" not in answer.headers.get("location", ""):
            self.tally.failures["report redirected elsewhere"] += 1
            raise Unexpected
        self.tally.reports += 1

    def short_link(self) -> None:
        held = self.rng.sample(SCOPE_POOL, self.rng.randint(1, 5))
        page = self.call("short link", "GET", self.actions_path(",".join(held))).text
        fields = livesite.form_fields(page, "scenario", action="/f/")
        answer = self.call("short link", "POST", "/f/", fields, ok=(302,))
        found = re.fullmatch(r"/f/([0-9a-f]+)/", answer.headers.get("location", ""))
        if found is None:
            self.tally.failures["short link redirected elsewhere"] += 1
            raise Unexpected
        self.tally.short_links.add(found.group(1))


class Editor(Visitor):
    """A staff member editing one scope's description again and again."""

    def __init__(self, base, tally, rng, password: str, change_path: str, scope: str):
        super().__init__(base, tally, rng)
        self.change_path = change_path
        self.scope = scope
        self.client.log_in("/admin/", livesite.STAFF_USER, password)

    def edit(self) -> None:
        page = self.call("staff edit", "GET", self.change_path).text
        fields = livesite.form_fields(page, "description")
        text = f"Edited during the soak ({secrets.token_hex(6)})."
        fields.update(description=text, _save="Save")
        self.call("staff edit", "POST", self.change_path, fields, ok=(302,))
        self.tally.edits[self.scope] += 1
        self.tally.last_edit[self.scope] = text


def run_visitor(base: str, deadline: float, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    visitor = Visitor(base, tally, rng)
    actions = {
        "wizard step": visitor.wizard_step,
        "fix page": visitor.fix_page,
        "api check": visitor.api_check,
        "feedback": visitor.feedback,
        "mistake report": visitor.mistake_report,
        "short link": visitor.short_link,
    }
    names = [name for name, _ in PUBLIC_MIX]
    weights = [weight for _, weight in PUBLIC_MIX]
    while time.monotonic() < deadline:
        try:
            actions[rng.choices(names, weights)[0]]()
        except Unexpected:
            time.sleep(0.05)
        except LookupError:
            tally.failures["form missing from a page"] += 1


def run_editor(editor: Editor, deadline: float, pause: float) -> None:
    while time.monotonic() < deadline:
        try:
            editor.edit()
        except Unexpected:
            pass
        except LookupError:
            editor.tally.failures["admin change form missing"] += 1
        time.sleep(pause)


# -- Preparing and checking -----------------------------------------------------


def redis_url_if_reachable(url: str) -> str | None:
    import redis

    try:
        connection = redis.Redis.from_url(url)
        connection.flushdb()
    except redis.RedisError:
        return None
    return url


def stored_rows(database: str) -> dict[str, object]:
    """Row counts by kind of write, and each edited scope's description."""

    def one(sql: str, *params: object) -> object:
        return livesite.query(database, sql, *params)[0][0]

    rows = {
        "feedback answers": one("SELECT count(*) FROM troubleshooter_feedback"),
        "mistake reports": one("SELECT count(*) FROM troubleshooter_mistakereport"),
        "short links": one("SELECT count(*) FROM troubleshooter_shortlink"),
    }
    for scope in EDITED_SCOPES:
        # Each saved change form adds one "changed" history row.
        rows[f"staff edits {scope}"] = one(
            "SELECT count(*) FROM scopes_historicalscope"
            " WHERE name = %s AND history_type = '~'",
            scope,
        )
        rows[f"description {scope}"] = one(
            "SELECT description FROM scopes_scope WHERE name = %s", scope
        )
    return rows


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(
    tally: Tally, before: dict, after: dict, seconds: float, log_errors: int
) -> bool:
    total = sum(tally.requests.values())
    print(f"\nrequests {total:>10}  ({total / seconds:.1f}/s)")
    print(
        f"latency  median {statistics.median(tally.latencies or [0]) * 1000:.0f} ms,"
        f" p99 {percentile(tally.latencies, 0.99) * 1000:.0f} ms"
    )
    for kind, count in sorted(tally.requests.items()):
        print(f"  {kind:<16}{count:>8}")
    print(
        "statuses " + ", ".join(f"{s}: {n}" for s, n in sorted(tally.statuses.items()))
    )

    errors = sum(tally.failures.values())
    print(f"\nerrors   {errors:>10}")
    for what, count in sorted(tally.failures.items()):
        print(f"  {what:<40}{count:>6}")
    print(f"server log lines at ERROR: {log_errors}")

    acknowledged = {
        "feedback answers": tally.feedback,
        "mistake reports": tally.reports,
        "short links": len(tally.short_links),
        **{f"staff edits {scope}": tally.edits[scope] for scope in EDITED_SCOPES},
    }
    print(f"\n{'writes':<32}{'acknowledged':>13}{'stored':>8}")
    agree = True
    for label, count in acknowledged.items():
        kept = after[label] - before[label]
        mark = "" if count == kept else "  <- differs"
        agree &= count == kept
        print(f"  {label:<30}{count:>13}{kept:>8}{mark}")
    for scope in EDITED_SCOPES:
        stored = after[f"description {scope}"]
        if tally.last_edit.get(scope, stored) != stored:
            agree = False
            print(f"  {scope}: the stored description is not the last one saved")

    passed = errors == 0 and log_errors == 0 and agree
    print("\nresult: " + ("PASS" if passed else "FAIL"))
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60, help="seconds (60)")
    parser.add_argument("--clients", type=int, default=64, help="in all (64)")
    parser.add_argument("--staff", type=int, default=2, help="of them editors (2)")
    parser.add_argument(
        "--staff-pause", type=float, default=0.5, help="seconds between edits"
    )
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--redis-url", default=REDIS_URL)
    args = parser.parse_args()
    if not 0 < args.staff <= len(EDITED_SCOPES) or args.clients <= args.staff:
        parser.error(f"use 1 to {len(EDITED_SCOPES)} staff and more clients than that")

    reason = livesite.postgres_unreachable_reason()
    if reason:
        print(f"soak: {reason}", file=sys.stderr)
        return 2

    started = time.monotonic()
    print("Preparing a throwaway database (migrate, load_reference, a staff user)...")
    password = livesite.template().password
    with (
        livesite.database_from_template("soak") as database,
        tempfile.TemporaryDirectory(prefix="scopedoctor-soak-") as folder,
    ):
        redis_url = redis_url_if_reachable(args.redis_url)
        extra = {
            "STATIC_ROOT": str(Path(folder) / "static"),
            "RATE_LIMIT_FEEDBACK": UNLIMITED,
            "RATE_LIMIT_REPORTS": UNLIMITED,
            "RATE_LIMIT_PASTES": UNLIMITED,
            "RATE_LIMIT_SHORT_LINKS": UNLIMITED,
        }
        if redis_url:
            extra["REDIS_URL"] = redis_url
        env = livesite.production_env(database, **extra)
        livesite.manage(env, "collectstatic", "--no-input", "-v", "0")
        scopes = dict(
            livesite.query(
                database,
                "SELECT name, id FROM scopes_scope WHERE name = ANY(%s)",
                list(EDITED_SCOPES),
            )
        )
        before = stored_rows(database)
        print(f"Ready in {time.monotonic() - started:.0f} s.")

        log_path = Path(folder) / "gunicorn.log"
        with (
            log_path.open("w") as log,
            livesite.gunicorn(env, args.workers, log) as base,
        ):
            livesite.Client(base).get("/")
            print(
                f"Soak: {args.clients} clients ({args.clients - args.staff} visitors,"
                f" {args.staff} staff) for {args.duration:.0f} s against gunicorn"
                f" ({args.workers} workers), PostgreSQL,"
                f" {'Redis' if redis_url else 'local-memory'} cache"
            )
            tally, seconds = soak(base, args, password, scopes)
        log_errors = sum(" ERROR " in line for line in log_path.open())
        if log_errors:
            print(log_path.read_text()[-4000:], file=sys.stderr)
        after = stored_rows(database)
        if redis_url:
            redis_url_if_reachable(redis_url)

    return 0 if report(tally, before, after, seconds, log_errors) else 1


def soak(base: str, args, password: str, scopes: dict[str, int]):
    tallies = [Tally() for _ in range(args.clients)]
    editors = [
        Editor(
            base,
            tallies[i],
            random.Random(i),
            password,
            f"/admin/scopes/scope/{scopes[name]}/change/",
            name,
        )
        for i, name in enumerate(EDITED_SCOPES[: args.staff])
    ]
    begun = time.monotonic()
    deadline = begun + args.duration
    threads = [
        threading.Thread(target=run_editor, args=(e, deadline, args.staff_pause))
        for e in editors
    ]
    threads += [
        threading.Thread(target=run_visitor, args=(base, deadline, tallies[i], i))
        for i in range(args.staff, args.clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - begun

    total = Tally()
    for tally in tallies:
        total.merge(tally)
    return total, seconds


if __name__ == "__main__":
    sys.exit(main())
