"""Every change to the reference data moves the data version, and the cached
snapshot costs one query until it does."""

import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection

from scopes.models import DataVersion, KeyType, Scope
from scopes.services import current_snapshot
from tests import factories

pytestmark = pytest.mark.django_db


def version() -> int:
    return DataVersion.objects.get().number


def test_the_migration_creates_the_version_row_at_zero():
    assert version() == 0


def test_saving_a_reference_row_moves_the_version_by_one():
    scope = factories.scope("logs.write")
    before = version()

    scope.description = "Write log entries."
    scope.save()

    assert version() == before + 1


def test_deleting_a_reference_row_moves_the_version():
    scope = factories.scope("logs.write")
    before = version()

    scope.delete()

    assert version() > before


def test_adding_and_removing_a_key_type_each_move_the_version():
    scope = factories.scope("logs.write", held_by=["workspace_user"])
    admin = KeyType.objects.get(slug="admin")
    before = version()

    scope.key_types.add(admin)
    after_add = version()
    scope.key_types.remove(admin)

    assert after_add == before + 1
    assert version() == before + 2


def test_loading_a_file_moves_the_version_once():
    call_command("load_reference", file=factories.MINI_FILE, stdout=io.StringIO())

    assert version() == 1
    assert Scope.objects.count() == 6


def test_the_warm_snapshot_costs_exactly_one_query(django_assert_num_queries):
    factories.scope("completions.write")
    current_snapshot()

    with django_assert_num_queries(1):  # the data version row
        snapshot = current_snapshot()

    assert "completions.write" in snapshot.scopes


def test_the_snapshot_shows_an_edit_on_the_next_call():
    scope = factories.scope("completions.write", description="Before.")
    assert current_snapshot().scopes["completions.write"].description == "Before."

    scope.description = "After."
    scope.save()

    snapshot = current_snapshot()
    assert snapshot.scopes["completions.write"].description == "After."
    assert snapshot.version == version()


@pytest.mark.parametrize("rows", [2, 20])
def test_a_rebuild_takes_the_same_queries_for_any_amount_of_data(
    rows, django_assert_num_queries
):
    factories.rows_of_every_kind(rows)

    # The version row, then the rebuild: key types; scopes with their twins
    # and their key types; endpoints, their key types, alternatives and the
    # alternatives' scopes; the same four for operations; roles, the key
    # types they may create and their statements; causes; scenarios and their
    # ordered causes; error codes.
    with django_assert_num_queries(1 + 18):
        snapshot = current_snapshot()

    assert len(snapshot.endpoints) == rows
    assert len(snapshot.roles) == rows


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_threads_asking_at_once_share_one_rebuild():
    factories.scope("completions.write")
    start = threading.Barrier(4)
    results = []

    def ask() -> None:
        start.wait()
        try:
            results.append(current_snapshot())
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 4
    assert len({id(snapshot) for snapshot in results}) == 1
