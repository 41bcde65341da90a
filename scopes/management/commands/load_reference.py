"""Load the reference file into the database, changing only what differs."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scopes import referencefile
from scopes.services import apply_entries


class Command(BaseCommand):
    help = (
        "Check the whole reference file, then create or update rows by natural "
        "key. Rows the file lacks are listed and kept unless --delete-missing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--file",
            type=Path,
            default=referencefile.DEFAULT_PATH,
            help="The JSON Lines file to load (default: scopes/data/reference.jsonl).",
        )
        parser.add_argument(
            "--delete-missing",
            action="store_true",
            help="Delete rows that the file does not contain.",
        )

    def handle(self, *args, **options) -> None:
        path: Path = options["file"]
        try:
            entries = referencefile.read(path)
        except referencefile.ReferenceFileError as error:
            raise CommandError(str(error)) from error

        report = apply_entries(
            entries,
            delete_missing=options["delete_missing"],
            reason=f"load_reference {path.name}",
        )

        if report.missing:
            verb = "Deleted" if options["delete_missing"] else "Kept"
            self.stdout.write(
                f"{verb} {len(report.missing)} row(s) that {path} does not contain"
                + ("" if options["delete_missing"] else " (--delete-missing removes)")
                + ":"
            )
            for label in report.missing:
                self.stdout.write(f"  {label}")

        if not report.changed:
            self.stdout.write(
                f"Reference data already up to date ({report.total} entries)."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {path}: {sum(report.created.values())} created, "
                f"{sum(report.updated.values())} updated, "
                f"{sum(report.unchanged.values())} unchanged, "
                f"{len(report.deleted)} deleted."
            )
        )
