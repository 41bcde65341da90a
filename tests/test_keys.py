"""The key simulator and the least-privilege builder agree with the engine.

Pure tests over the shipped snapshot: no database. The engine (``diagnose``)
is the judge of every answer, and a few facts are checked from first
principles so that the simulator and the engine cannot be wrong together.
"""

import itertools
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scopes.snapshot import KEY_TYPE_SLUGS
from troubleshooter import keys
from troubleshooter.diagnosis import PREFERRED_KEY_TYPES, Question, diagnose
from troubleshooter.keys import (
    all_targets,
    checklist,
    find_target,
    plan_keys,
    simulate,
    smallest_scope_set,
    target_ref,
)

FAST = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def allowed(snapshot, target, key_type, scopes, workspace_id=True, plan=True) -> bool:
    question = Question(
        key_type=key_type,
        scopes=frozenset(scopes),
        workspace_id_passed=workspace_id,
        enterprise_plan=plan,
    )
    return diagnose(snapshot, target, question).verdict == "allowed"


def first_principles(snapshot, target, key_type, scopes, workspace_id, plan):
    """The rules as the reference file states them, without the engine."""
    if key_type not in target.key_types:
        return "denied"
    holdable = snapshot.scopes_for(key_type)
    if target.alternatives and not any(alt <= holdable for alt in target.alternatives):
        return "denied"
    if key_type == "admin" and target.admin_needs_workspace_id and not workspace_id:
        return "denied"
    if target.alternatives and not any(alt <= scopes for alt in target.alternatives):
        return "denied"
    if target.enterprise_only and plan is False:
        return "denied"
    if target.enterprise_only and plan is None:
        return "unknown"
    return "allowed"


@st.composite
def keys_to_simulate(draw, snapshot):
    key_type = draw(st.sampled_from(KEY_TYPE_SLUGS))
    holdable = sorted(snapshot.scopes_for(key_type))
    scopes = draw(st.sets(st.sampled_from(holdable), max_size=25))
    workspace_id = draw(st.booleans())
    plan = draw(st.sampled_from([True, False, None]))
    return key_type, frozenset(scopes), workspace_id, plan


# -- The simulator ----------------------------------------------------------


def test_the_simulator_lists_every_endpoint_and_task_once(snapshot):
    simulation = simulate(snapshot, "workspace_service", frozenset())

    refs = [r.ref for _, results in simulation.areas for r in results]
    assert sorted(refs) == sorted(target_ref(t) for t in all_targets(snapshot))
    assert simulation.total == len(snapshot.endpoints) + len(snapshot.operations)
    assert [area for area, _ in simulation.areas] == sorted(
        area for area, _ in simulation.areas
    )


def test_the_simulator_agrees_with_the_engine_and_the_rules_for_every_target(
    snapshot,
):
    @FAST
    @given(keys_to_simulate(snapshot))
    def check(case):
        key_type, scopes, workspace_id, plan = case
        simulation = simulate(
            snapshot,
            key_type,
            scopes,
            workspace_id_passed=workspace_id,
            enterprise_plan=plan,
        )

        for _, results in simulation.areas:
            for result in results:
                question = Question(
                    key_type=key_type,
                    scopes=scopes,
                    workspace_id_passed=workspace_id,
                    enterprise_plan=plan,
                )
                engine = diagnose(snapshot, result.target, question)
                assert result.verdict == engine.verdict, result.ref
                assert result.verdict == first_principles(
                    snapshot, result.target, key_type, scopes, workspace_id, plan
                ), result.ref

    check()


def test_adding_the_missing_scopes_the_simulator_names_allows_the_call(snapshot):
    @FAST
    @given(keys_to_simulate(snapshot))
    def check(case):
        key_type, scopes, _, _ = case
        simulation = simulate(snapshot, key_type, scopes, enterprise_plan=True)

        for _, results in simulation.areas:
            for result in results:
                if result.verdict != "denied" or not result.scopes_to_add:
                    continue
                fixed = scopes | set(result.scopes_to_add)
                assert allowed(snapshot, result.target, key_type, fixed), result.ref
                assert set(result.scopes_to_add) == set(result.missing[0])

    check()


def test_an_admin_key_is_denied_every_data_plane_call_whatever_its_scopes(snapshot):
    every_scope = snapshot.scopes_for("admin")

    simulation = simulate(snapshot, "admin", every_scope)

    data_plane = [
        r
        for _, results in simulation.areas
        for r in results
        if getattr(r.target, "plane", "") == "data"
    ]
    assert data_plane
    assert all(r.verdict == "denied" for r in data_plane)
    assert {r.reason_code for r in data_plane} == {"admin_key_on_data_plane"}


def test_the_denied_filter_keeps_only_denied_calls_in_their_areas(snapshot):
    simulation = simulate(snapshot, "workspace_user", frozenset({"completions.write"}))

    denied = simulation.only(("denied",))

    assert denied.total == simulation.count("denied") > 0
    assert {r.verdict for _, results in denied.areas for r in results} == {"denied"}
    assert all(results for _, results in denied.areas)


def test_without_a_plan_answer_enterprise_calls_are_uncertain_not_denied(snapshot):
    key_scopes = snapshot.scopes_for("admin")

    simulation = simulate(snapshot, "admin", key_scopes, enterprise_plan=None)

    unsure = [r for _, results in simulation.areas for r in results]
    unsure = [r for r in unsure if r.verdict == "unknown"]
    assert unsure
    assert all(r.target.enterprise_only for r in unsure)
    assert {r.reason_code for r in unsure} == {"plan_restriction"}


# -- Naming targets ---------------------------------------------------------


def test_every_target_survives_a_round_trip_through_its_url_name(snapshot):
    for target in all_targets(snapshot):
        assert find_target(snapshot, target_ref(target)) == target


def test_an_unknown_target_name_finds_nothing(snapshot):
    assert find_target(snapshot, "GET /v1/nowhere") is None
    assert find_target(snapshot, "op:no-such-task") is None
    assert find_target(snapshot, "") is None


# -- The builder ------------------------------------------------------------


def plan_is_allowed(snapshot, plan) -> bool:
    return all(
        allowed(snapshot, target, key.key_type, key.scopes)
        for key in plan.keys
        for target in key.targets
    )


def smallest_by_brute_force(snapshot, targets, key_type) -> int | None:
    """The fewest scopes any key of this type needs for all targets, found by
    asking the engine about every subset of the scopes involved."""
    involved = sorted(
        {name for t in targets for alt in t.alternatives for name in alt}
        & snapshot.scopes_for(key_type)
    )
    for size in range(len(involved) + 1):
        for subset in itertools.combinations(involved, size):
            if all(allowed(snapshot, t, key_type, subset) for t in targets):
                return size
    return None


def test_for_every_single_call_the_builder_plans_one_key_the_engine_allows(
    snapshot,
):
    for target in all_targets(snapshot):
        plan = plan_keys(snapshot, [target])

        assert plan.single_key, target_ref(target)
        key = plan.keys[0]
        assert allowed(snapshot, target, key.key_type, key.scopes), target_ref(target)
        assert len(key.scopes) == smallest_by_brute_force(
            snapshot, [target], key.key_type
        ), target_ref(target)


def test_for_one_call_the_builder_picks_the_key_type_the_engine_would_suggest(
    snapshot,
):
    compared = 0
    for target in all_targets(snapshot):
        plan = plan_keys(snapshot, [target])

        for key_type in KEY_TYPE_SLUGS:
            engine = diagnose(snapshot, target, Question(key_type=key_type))
            if engine.key_type_ok:
                continue
            compared += 1
            assert plan.keys[0].key_type == engine.use_key_type, target_ref(target)
            assert plan.keys[0].scopes == engine.use_key_type_scopes, target_ref(target)
    assert compared > 100


def test_every_plan_for_random_selections_is_allowed_and_as_small_as_possible(
    snapshot,
):
    targets = all_targets(snapshot)

    @FAST
    @given(st.lists(st.sampled_from(targets), min_size=1, max_size=6, unique=True))
    def check(chosen):
        plan = plan_keys(snapshot, chosen)

        assert plan_is_allowed(snapshot, plan)
        planned = [target_ref(t) for key in plan.keys for t in key.targets]
        assert sorted(planned) == sorted(target_ref(t) for t in chosen)
        assert plan.exact
        for key in plan.keys:
            assert len(key.scopes) == smallest_by_brute_force(
                snapshot, key.targets, key.key_type
            )
        fewer_keys_possible = any(
            all(options_allowed(snapshot, t, kt) for t in chosen)
            for kt in PREFERRED_KEY_TYPES
        )
        assert plan.single_key == fewer_keys_possible

    check()


def options_allowed(snapshot, target, key_type) -> bool:
    return allowed(snapshot, target, key_type, snapshot.scopes_for(key_type))


def test_data_plane_calls_and_managing_org_users_need_two_keys(snapshot):
    chat = find_target(snapshot, "POST /v1/chat/completions")
    invite = find_target(snapshot, "op:invite-organisation-users")

    plan = plan_keys(snapshot, [chat, invite])

    assert [(k.key_type, k.scopes) for k in plan.keys] == [
        ("workspace_service", ("completions.write",)),
        ("admin", ("organisation_users.create",)),
    ]
    assert plan_is_allowed(snapshot, plan)


def test_the_playground_and_chat_completions_fit_one_user_key(snapshot):
    chat = find_target(snapshot, "POST /v1/chat/completions")
    playground = find_target(snapshot, "op:playground-test")

    plan = plan_keys(snapshot, [chat, playground])

    assert [(k.key_type, k.scopes) for k in plan.keys] == [
        ("workspace_user", ("completions.write",))
    ]


def test_one_scope_that_serves_two_calls_is_preferred_over_two(snapshot):
    # GET /v1/models takes completions.write or virtual_keys.list; with chat
    # completions chosen too, completions.write alone covers both.
    models = find_target(snapshot, "GET /v1/models")
    chat = find_target(snapshot, "POST /v1/chat/completions")

    plan = plan_keys(snapshot, [models, chat])

    assert plan.keys[0].scopes == ("completions.write",)
    assert plan.keys[0].also_works == ("workspace_user",)


def test_calls_no_key_can_make_are_reported_not_planned(snapshot):
    # Built from the shipped call by taking away every key type.
    from dataclasses import replace

    chat = find_target(snapshot, "POST /v1/chat/completions")
    nobody = replace(chat, key_types=frozenset())

    plan = plan_keys(snapshot, [chat, nobody])

    assert plan.impossible == (nobody,)
    assert [k.key_type for k in plan.keys] == ["workspace_service"]
    assert "Not possible with an API key: POST /v1/chat/completions" in checklist(
        snapshot, plan
    )


def test_a_large_selection_goes_greedy_but_keeps_no_scope_it_could_drop(
    snapshot, monkeypatch
):
    monkeypatch.setattr(keys, "EXACT_LIMIT", 1)
    targets = all_targets(snapshot)

    plan = plan_keys(snapshot, targets)

    assert not plan.exact
    assert plan_is_allowed(snapshot, plan)
    for key in plan.keys:
        for name in key.scopes:
            fewer = set(key.scopes) - {name}
            assert not all(
                allowed(snapshot, t, key.key_type, fewer) for t in key.targets
            ), name


def test_a_tie_keeps_the_documented_alternative():
    primary, other = frozenset({"logs.read"}), frozenset({"logs.write"})

    scopes, exact = smallest_scope_set([[primary, other]])

    assert scopes == primary
    assert exact


def test_the_exports_name_every_scope_where_to_turn_it_on_and_the_api_body(snapshot):
    chat = find_target(snapshot, "POST /v1/chat/completions")
    invite = find_target(snapshot, "op:invite-organisation-users")
    plan = plan_keys(snapshot, [chat, invite])

    text = checklist(snapshot, plan)

    assert "Key 1 of 2: Workspace Service API key" in text
    assert "Key 2 of 2: Admin API key" in text
    for key in plan.keys:
        for name in key.scopes:
            where = snapshot.scopes[name].enabled_at
            assert f"[ ] Turn on {name} ({where})." in text
        assert json.loads(key.scopes_json) == {"scopes": list(key.scopes)}
    assert plan.keys[1].create_path == "/v1/api-keys/organisation/service"


def test_an_admin_key_for_workspace_resources_is_told_to_send_workspace_id(
    snapshot,
):
    workspace_call = next(t for t in snapshot.endpoints if t.admin_needs_workspace_id)
    key = keys.PlannedKey("admin", ("prompts.read",), (workspace_call,))
    plan = keys.KeyPlan(keys=(key,), impossible=(), exact=True)

    text = checklist(snapshot, plan)

    assert key.needs_workspace_id == (workspace_call,)
    assert "[ ] Send workspace_id with calls on workspace resources" in text
    service = keys.PlannedKey("workspace_service", (), (workspace_call,))
    assert service.needs_workspace_id == ()
