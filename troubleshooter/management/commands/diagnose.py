"""Diagnose one call from the command line, for scripts and CI.

Exit status: 0 allowed, 1 denied, 2 unknown, 3 bad input.
"""

import sys

from django.core.management.base import BaseCommand, CommandError

from scopes.services import current_snapshot
from scopes.snapshot import KEY_TYPE_SLUGS
from troubleshooter.diagnosis import CONTEXTS, Question, diagnose
from troubleshooter.paths import METHODS, match_endpoint, normalise_method

EXIT_CODES = {"allowed": 0, "denied": 1, "unknown": 2}


class Command(BaseCommand):
    help = "Say whether a key may call an endpoint, why not, and how to fix it."

    def add_arguments(self, parser):
        parser.add_argument("--method", default="GET", help="HTTP method (GET, POST…)")
        parser.add_argument("--path", required=True, help="path or URL called")
        parser.add_argument(
            "--key-type", choices=[*KEY_TYPE_SLUGS, "unknown"], default="unknown"
        )
        parser.add_argument(
            "--scopes", help="comma-separated scopes the key holds (omit if unknown)"
        )
        parser.add_argument(
            "--workspace-id-sent",
            action="store_true",
            help="the request passed workspace_id",
        )
        parser.add_argument("--context", choices=CONTEXTS)

    def handle(self, *args, **options):
        method = normalise_method(options["method"])
        if method is None:
            raise CommandError(
                f"--method must be one of {', '.join(METHODS)}.", returncode=3
            )

        snapshot = current_snapshot()
        match = match_endpoint(snapshot, method, options["path"])
        if match.endpoint is None:
            hint = ", ".join(match.suggestions) or "none"
            raise CommandError(
                f"No known endpoint matches {method} {match.normalised_path}. "
                f"Closest: {hint}.",
                returncode=3,
            )

        scopes = None
        if options["scopes"] is not None:
            scopes = frozenset(
                s.strip().removeprefix("portkey.")
                for s in options["scopes"].split(",")
                if s.strip()
            )
        key_type = options["key_type"]
        question = Question(
            key_type=None if key_type == "unknown" else key_type,
            scopes=scopes,
            workspace_id_passed=options["workspace_id_sent"],
            context=options["context"],
        )
        diagnosis = diagnose(snapshot, match.endpoint, question)

        self._print(diagnosis)
        sys.exit(EXIT_CODES[diagnosis.verdict])

    def _print(self, diagnosis) -> None:
        write = self.stdout.write
        write(f"{diagnosis.target.label}: {diagnosis.verdict.upper()}")
        for reason in diagnosis.reasons:
            write(f"  reason [{reason.code}] {reason.message}")
        write(f"Fix: {diagnosis.fix_summary}")
        for number, step in enumerate(diagnosis.fix_steps, start=1):
            write(f"  {number}. {step}")
        if diagnosis.check_next:
            write("If that does not help, check:")
            for reason in diagnosis.check_next:
                write(f"  - [{reason.code}] {reason.message}")
