"""The page store holds to its budget of bytes, whatever visitors ask for."""

from troubleshooter.caching import page_store
from troubleshooter.pagestore import PageStore


def test_the_least_recently_used_answers_go_first_when_the_budget_is_reached():
    store = PageStore(max_bytes=8_000)
    for number in range(10):
        store.set(f"k{number}", f"answer {number}", size=700)
    store.get("k3")  # read recently: kept

    store.set("k10", "answer 10", size=700)

    assert store.size <= 8_000
    assert store.get("k3") == "answer 3"
    assert store.get("k0") is None
    assert store.get("k10") == "answer 10"


def test_an_answer_too_large_for_the_budget_is_not_kept():
    store = PageStore(max_bytes=8_000)

    kept = store.set("big", "x", size=2_000)

    assert kept is False
    assert store.get("big") is None
    assert store.size == 0


def test_junk_parameters_cannot_grow_a_workers_memory(client, reference, settings):
    # Found by reading the settings: the store counted entries, not bytes, so
    # 5,000 variants of a 177 KB page could hold most of a gigabyte.
    settings.PAGE_CACHE_MAX_BYTES = 2_000_000
    first = client.get("/reference/endpoints/", {"junk": 0})

    for number in range(1, 40):
        last = client.get("/reference/endpoints/", {"junk": number})
        assert last.status_code == 200

    store = page_store()
    assert len(first.content) > 100_000
    assert store.size <= 2_000_000
    assert 1 <= len(store) < 40
    again = client.get("/reference/endpoints/", {"junk": 39})
    assert again.content == last.content
