"""`make fuzz`: ten thousand hostile requests against every public URL.

Runs the strategies of tests/fuzz.py outside pytest, on a throwaway test
database holding the shipped reference data (SQLite in memory, or a test
database next to DATABASE_URL's), and prints how many answers fell in each
status class, overall and per URL. Exits non-zero when any answer broke the
rules in tests/fuzz.py: a 5xx above all, but also an unclear refusal or an
off-site redirect. FUZZ_EXAMPLES changes the number of requests.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "troubleshooter.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from scopes.services import current_snapshot  # noqa: E402
from tests.fuzz import (  # noqa: E402
    fuzz_clients,
    hostile_requests,
    problems,
    public_targets,
    send,
)
from troubleshooter.models import ShortLink  # noqa: E402

CLASSES = ("2xx", "3xx", "4xx", "5xx")
SHOWN_FAILURES = 10


def fuzz(examples: int) -> tuple[Counter, dict[str, Counter], list[str]]:
    """Send ``examples`` hostile requests; count answers and collect problems."""
    snapshot = current_snapshot()
    query = "scenario=completions&key_type=admin&method=POST&path=/v1/chat/completions"
    ShortLink.objects.create(
        code=ShortLink.code_for(query), query=query, data_version=snapshot.version
    )
    targets = public_targets(snapshot, ShortLink.code_for(query))
    clients = fuzz_clients()
    overall: Counter = Counter()
    per_url: dict[str, Counter] = defaultdict(Counter)
    failures: list[str] = []

    # Generation only: a problem is recorded, not raised, so nothing shrinks
    # and all the requests are sent.
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def one_request(data) -> None:
        request = data.draw(hostile_requests(targets, snapshot))
        response = send(clients, request)

        status_class = f"{response.status_code // 100}xx"
        overall[status_class] += 1
        per_url[request.target.label][status_class] += 1
        for problem in problems(request, response, clients):
            failures.append(f"{request.describe()}\n  {problem}")

    one_request()
    return overall, per_url, failures


def report(overall: Counter, per_url: dict[str, Counter], seconds: float) -> None:
    total = sum(overall.values())
    print(f"\nSent {total} hostile requests in {seconds:.0f} s.\n")
    print("Answers by status class:")
    for status_class in CLASSES:
        print(f"  {status_class}  {overall[status_class]:>6}")

    width = max(len(label) for label in per_url)
    print("\nAnswers per URL:")
    print(f"  {'URL':<{width}}  " + "  ".join(f"{c:>5}" for c in CLASSES))
    for label in sorted(per_url):
        counts = per_url[label]
        row = "  ".join(f"{counts[c]:>5}" for c in CLASSES)
        print(f"  {label:<{width}}  {row}")


def main() -> int:
    examples = int(os.environ.get("FUZZ_EXAMPLES", "10000"))
    setup_test_environment(debug=False)
    # Refusals are the point here; the answers are judged below instead.
    logging.disable(logging.CRITICAL)
    # Static files are not collected, and hostile URLs make long cache keys.
    warnings.simplefilter("ignore")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        call_command("load_reference", verbosity=0)
        started = time.monotonic()
        overall, per_url, failures = fuzz(examples)
        report(overall, per_url, time.monotonic() - started)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    if failures:
        print(f"\n{len(failures)} answers broke the rules; the first ones:")
        for failure in failures[:SHOWN_FAILURES]:
            print(f"\n{failure}")
        return 1
    print("\nNo server errors; every refusal was a clear page or JSON error.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
