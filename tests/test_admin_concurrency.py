"""Two staff members saving one object at the same moment, through gunicorn
and PostgreSQL: one save is kept and the other is refused with its text shown
again, so neither is lost without a word (scopes.admin.HistoryForm).

SQLite takes one writer at a time and has no row locks to test, so these
tests always use PostgreSQL, and are skipped only when it is not reachable.
"""

import threading

import pytest

from tests import livesite

_unreachable = livesite.postgres_unreachable_reason()
pytestmark = pytest.mark.skipif(_unreachable is not None, reason=_unreachable or "")

SCOPE = "prompts.read"
ROUNDS = 5


@pytest.fixture(scope="module")
def site():
    with livesite.database_from_template("collide") as database:
        env = livesite.production_env(database)
        with livesite.gunicorn(env, workers=2) as base:
            yield base, database


def save_at_once(editors, change: str, forms: list[dict], words: list[str]):
    """Both editors send their form at the same moment; their answers."""
    start = threading.Barrier(len(editors))
    answers = [None] * len(editors)

    def save(i: int) -> None:
        start.wait()
        fields = {**forms[i], "description": words[i], "_save": "Save"}
        answers[i] = editors[i].post(change, fields)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(len(editors))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_of_two_saves_at_the_same_moment_one_is_kept_and_the_other_shown_again(site):
    base, database = site
    editors = [livesite.Client(base) for _ in range(2)]
    for editor in editors:
        editor.log_in("/admin/", livesite.STAFF_USER, livesite.template().password)
    [(scope_id,)] = livesite.query(
        database, "SELECT id FROM scopes_scope WHERE name = %s", SCOPE
    )
    change = f"/admin/scopes/scope/{scope_id}/change/"

    for round_ in range(ROUNDS):
        forms = [
            livesite.form_fields(editor.get(change).text, "description")
            for editor in editors
        ]
        words = [f"Round {round_}, written by editor {i}." for i in range(2)]

        answers = save_at_once(editors, change, forms, words)

        assert sorted(answer.status for answer in answers) == [200, 302]
        kept = next(i for i, answer in enumerate(answers) if answer.status == 302)
        refused = answers[1 - kept]
        assert "after you opened it" in refused.text
        shown = livesite.form_fields(refused.text, "description")
        assert shown["description"] == words[1 - kept]
        stored = livesite.query(
            database, "SELECT description FROM scopes_scope WHERE id = %s", scope_id
        )
        assert stored == [(words[kept],)]
