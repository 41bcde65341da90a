"""Write the database back as the canonical reference file."""

import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scopes import referencefile
from scopes.services import export_text


class Command(BaseCommand):
    help = (
        "Write the reference data in the canonical file format: kinds in "
        "order, natural keys sorted, one sorted-keys JSON object per line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--file",
            default=str(referencefile.DEFAULT_PATH),
            help="Where to write (default: scopes/data/reference.jsonl); - for stdout.",
        )

    def handle(self, *args, **options) -> None:
        text = export_text()
        target = options["file"]

        if target == "-":
            self.stdout.write(text, ending="")
            return

        path = Path(target)
        if not path.parent.is_dir():
            raise CommandError(f"{path}: the folder {path.parent} does not exist.")
        # Written beside the target and renamed over it, so a failure never
        # leaves a half-written reference file behind.
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
                out.write(text)
            os.replace(temporary, path)
        except OSError as error:
            Path(temporary).unlink(missing_ok=True)
            raise CommandError(f"{path}: cannot be written ({error}).") from error

        lines = text.count("\n")
        self.stderr.write(self.style.SUCCESS(f"Wrote {lines} entries to {path}."))
