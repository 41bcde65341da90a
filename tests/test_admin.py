"""Staff editing in the admin: who gets in, what they may change, the history
that records it, the revert that undoes it, and the rules that refuse a bad
edit without losing what was typed."""

import datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from scopes.models import DataVersion, Endpoint, RoleStatement, Scope, ScopeAlternative
from tests import factories

pytestmark = pytest.mark.django_db

REFERENCE_MODELS = [
    "keytype",
    "scope",
    "endpoint",
    "operation",
    "scopealternative",
    "role",
    "rolestatement",
    "cause",
    "scenario",
    "scenariocause",
    "errorcode",
]


@pytest.fixture
def editor():
    return factories.staff("edith", "Editors")


@pytest.fixture
def viewer():
    return factories.staff("victor", "Viewers")


@pytest.fixture
def completions_write():
    return factories.scope("completions.write", description="Old words.")


@pytest.fixture
def models_endpoint(completions_write):
    return factories.endpoint("GET", "/v1/models", alternatives=[["completions.write"]])


def change_url(obj) -> str:
    return reverse(f"admin:scopes_{obj._meta.model_name}_change", args=[obj.pk])


def form_data(response) -> dict:
    """What the browser would post back: every field and inline as shown."""
    data = {}

    def add(form, name):
        value = form[name].value()
        key = form.add_prefix(name)
        if value is None or value is False:
            return
        if value is True:
            data[key] = "on"
        elif isinstance(value, list | tuple):
            data[key] = [str(item) for item in value]
        else:
            data[key] = str(value)

    form = response.context["adminform"].form
    for name in form.fields:
        add(form, name)
    for inline in response.context.get("inline_admin_formsets", []):
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[formset.management_form.add_prefix(name)] = str(value)
        for subform in formset.forms:
            for name in subform.fields:
                add(subform, name)
    data["_save"] = "Save"
    return data


# -- The permission ladder ----------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    response = client.get(reverse("admin:scopes_scope_changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_people_who_are_not_staff_are_sent_to_login_even_in_a_group(client):
    user = factories.staff("nora", "Editors")
    user.is_staff = False
    user.save()
    client.force_login(user)

    response = client.get(reverse("admin:scopes_scope_changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_permissions_are_refused_a_changelist(client):
    client.force_login(factories.staff("sam"))

    response = client.get(reverse("admin:scopes_scope_changelist"))

    assert response.status_code == 403


def test_viewers_can_read_a_scope_but_not_change_it(client, viewer, completions_write):
    client.force_login(viewer)
    page = client.get(change_url(completions_write))

    response = client.post(
        change_url(completions_write), form_data(page) | {"description": "Changed."}
    )

    assert page.status_code == 200
    assert response.status_code == 403
    completions_write.refresh_from_db()
    assert completions_write.description == "Old words."


def test_viewers_cannot_revert_through_the_history_form(
    client, viewer, completions_write
):
    completions_write.description = "Newer words."
    completions_write.save()
    old = completions_write.history.earliest()
    url = reverse(
        "admin:scopes_scope_simple_history", args=[completions_write.pk, old.pk]
    )
    client.force_login(viewer)
    page = client.get(url)

    response = client.post(url, form_data(page))

    assert page.status_code == 200
    assert response.status_code == 403
    completions_write.refresh_from_db()
    assert completions_write.description == "Newer words."


def test_editors_can_change_a_scope(client, editor, completions_write):
    client.force_login(editor)
    page = client.get(change_url(completions_write))

    response = client.post(
        change_url(completions_write), form_data(page) | {"description": "Changed."}
    )

    assert response.status_code == 302
    completions_write.refresh_from_db()
    assert completions_write.description == "Changed."


def test_the_migration_gives_editors_every_change_and_viewers_only_view():
    editors = set(
        Group.objects.get(name="Editors").permissions.values_list("codename", flat=True)
    )
    viewers = set(
        Group.objects.get(name="Viewers").permissions.values_list("codename", flat=True)
    )

    for model in REFERENCE_MODELS:
        for action in ("add", "change", "delete", "view"):
            assert f"{action}_{model}" in editors
        assert f"view_{model}" in viewers
    assert all(codename.startswith("view_") for codename in viewers)
    history_permissions = Permission.objects.filter(codename__contains="historical")
    assert not editors & set(history_permissions.values_list("codename", flat=True))


def test_admin_posts_without_a_csrf_token_are_refused(editor, completions_write):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(editor)
    page = browser.get(change_url(completions_write))
    data = form_data(page) | {"description": "Forged."}

    forged = browser.post(change_url(completions_write), data)
    genuine = browser.post(
        change_url(completions_write),
        data
        | {
            "description": "Typed by Edith.",
            "csrfmiddlewaretoken": str(page.context["csrf_token"]),
        },
    )

    assert forged.status_code == 403
    assert genuine.status_code == 302
    completions_write.refresh_from_db()
    assert completions_write.description == "Typed by Edith."


# -- History and revert -------------------------------------------------------


def test_an_editors_change_shows_in_history_and_a_revert_restores_it(
    client, editor, completions_write
):
    client.force_login(editor)
    page = client.get(change_url(completions_write))
    client.post(
        change_url(completions_write), form_data(page) | {"description": "New words."}
    )
    history_url = reverse("admin:scopes_scope_history", args=[completions_write.pk])

    history = client.get(history_url)

    assert history.status_code == 200
    html = history.content.decode()
    assert "edith" in html
    assert "New words." in html

    old = completions_write.history.filter(description="Old words.").latest()
    revert_url = reverse(
        "admin:scopes_scope_simple_history", args=[completions_write.pk, old.pk]
    )
    revert_page = client.get(revert_url)
    assert "Old words." in revert_page.content.decode()

    response = client.post(revert_url, form_data(revert_page))

    assert response.status_code == 302
    completions_write.refresh_from_db()
    assert completions_write.description == "Old words."
    latest = completions_write.history.latest()
    assert latest.history_user == editor
    assert latest.description == "Old words."


def test_a_revert_restores_the_key_types_a_scope_had(client, editor, completions_write):
    before = completions_write.history.latest()
    completions_write.key_types.add(factories.key_types()["admin"])
    url = reverse(
        "admin:scopes_scope_simple_history", args=[completions_write.pk, before.pk]
    )
    client.force_login(editor)
    page = client.get(url)

    response = client.post(url, form_data(page))

    assert response.status_code == 302
    assert set(completions_write.key_types.values_list("slug", flat=True)) == {
        "workspace_service",
        "workspace_user",
    }


def test_a_revert_that_would_strand_a_scope_is_refused(client, editor):
    factories.scope("audit_logs.list", held_by=["admin"])
    audit = factories.endpoint(
        "GET",
        "/v1/audit-logs",
        accepts=["admin"],
        alternatives=[["audit_logs.list"]],
        summary="Old summary",
    )
    audit.summary = "New summary"
    audit.save()
    old = audit.history.filter(summary="Old summary").latest()
    url = reverse("admin:scopes_endpoint_simple_history", args=[audit.pk, old.pk])
    client.force_login(editor)
    page = client.get(url)
    user_key = factories.key_types()["workspace_user"]

    refused = client.post(url, form_data(page) | {"key_types": [str(user_key.pk)]})
    reverted = client.post(url, form_data(page))

    assert refused.status_code == 200
    assert "none of them can hold audit_logs.list" in refused.content.decode()
    assert reverted.status_code == 302
    audit.refresh_from_db()
    assert audit.summary == "Old summary"
    assert list(audit.key_types.values_list("slug", flat=True)) == ["admin"]


def _audit_endpoint_changed_since():
    """An endpoint whose scope requirement was rewritten after its first
    version: one alternative re-pointed, another added."""
    for name in ("audit_logs.list", "audit_logs.read", "audit_logs.export"):
        factories.scope(name, held_by=["admin"])
    audit = factories.endpoint(
        "GET",
        "/v1/audit-logs",
        accepts=["admin"],
        alternatives=[["audit_logs.list"]],
        summary="Old summary",
    )
    first = audit.alternatives.get()
    old = audit.history.filter(summary="Old summary").latest()

    audit.summary = "New summary"
    audit.save()
    first.scopes.set(Scope.objects.filter(name="audit_logs.read"))
    added = ScopeAlternative.objects.create(endpoint=audit, position=1)
    added.scopes.set(Scope.objects.filter(name="audit_logs.export"))
    return audit, first, old


def test_a_revert_brings_back_the_scopes_the_endpoint_needed(client, editor):
    audit, first, old = _audit_endpoint_changed_since()
    url = reverse("admin:scopes_endpoint_simple_history", args=[audit.pk, old.pk])
    client.force_login(editor)

    page = client.get(url)
    response = client.post(url, form_data(page))

    html = page.content.decode()
    assert "Scopes needed in this version" in html
    assert "<li><code>audit_logs.list</code></li>" in html
    assert "audit_logs.export" not in html.split("Scopes needed in this version")[1]
    assert response.status_code == 302
    audit.refresh_from_db()
    assert audit.summary == "Old summary"
    restored = list(audit.alternatives.all())
    assert [alternative.pk for alternative in restored] == [first.pk]
    assert [s.name for s in restored[0].scopes.all()] == ["audit_logs.list"]


def test_a_revert_needing_a_deleted_scope_is_refused_and_changes_nothing(
    client, editor
):
    audit, first, old = _audit_endpoint_changed_since()
    Scope.objects.get(name="audit_logs.list").delete()  # unused by then
    url = reverse("admin:scopes_endpoint_simple_history", args=[audit.pk, old.pk])
    client.force_login(editor)
    page = client.get(url)

    refused = client.post(url, form_data(page))

    assert refused.status_code == 200
    assert "needs scopes that have since been deleted" in refused.content.decode()
    audit.refresh_from_db()
    assert audit.summary == "New summary"
    assert audit.alternatives.count() == 2


# -- Rules that refuse an edit ------------------------------------------------


def test_an_endpoint_edit_that_strands_a_scope_is_refused_and_keeps_the_input(
    client, editor, models_endpoint
):
    client.force_login(editor)
    page = client.get(change_url(models_endpoint))
    admin_key = factories.key_types()["admin"]
    data = form_data(page) | {
        "key_types": [str(admin_key.pk)],
        "summary": "Typed before the refusal",
    }

    response = client.post(change_url(models_endpoint), data)

    assert response.status_code == 200
    html = response.content.decode()
    assert "none of them can hold completions.write" in html
    assert "Typed before the refusal" in html
    models_endpoint.refresh_from_db()
    assert models_endpoint.summary == "GET /v1/models"
    assert set(models_endpoint.key_types.values_list("slug", flat=True)) == {
        "workspace_service",
        "workspace_user",
    }


def test_an_endpoint_and_its_alternatives_can_change_together(
    client, editor, models_endpoint
):
    audit = factories.scope("audit_logs.list", held_by=["admin"])
    client.force_login(editor)
    page = client.get(change_url(models_endpoint))
    prefix = page.context["inline_admin_formsets"][0].formset.prefix
    data = form_data(page) | {
        "key_types": [str(factories.key_types()["admin"].pk)],
        f"{prefix}-0-scopes": [str(audit.pk)],
    }

    response = client.post(change_url(models_endpoint), data)

    assert response.status_code == 302
    alternative = models_endpoint.alternatives.get()
    assert list(alternative.scopes.values_list("name", flat=True)) == [
        "audit_logs.list"
    ]
    assert alternative.history.latest().history_user == editor


def test_a_scope_edit_that_strands_an_endpoint_is_refused(
    client, editor, models_endpoint, completions_write
):
    client.force_login(editor)
    page = client.get(change_url(completions_write))
    data = form_data(page) | {"key_types": [str(factories.key_types()["admin"].pk)]}

    response = client.post(change_url(completions_write), data)

    assert response.status_code == 200
    assert "GET /v1/models" in response.content.decode()
    assert completions_write.key_types.count() == 2


def test_a_scope_needed_by_an_endpoint_cannot_be_deleted(
    client, editor, models_endpoint, completions_write
):
    client.force_login(editor)
    url = reverse("admin:scopes_scope_delete", args=[completions_write.pk])

    response = client.post(url, {"post": "yes"})

    assert response.status_code == 200
    assert "is needed by GET /v1/models" in response.content.decode()
    assert Scope.objects.filter(pk=completions_write.pk).exists()


def test_the_shown_statement_of_a_role_can_move_in_one_save(client, editor):
    role = factories.role("workspace-member", [("Reads.", True), ("Writes.", False)])
    client.force_login(editor)
    page = client.get(change_url(role))
    prefix = page.context["inline_admin_formsets"][0].formset.prefix
    data = form_data(page)
    del data[f"{prefix}-0-shown"]
    data[f"{prefix}-1-shown"] = "on"

    response = client.post(change_url(role), data)

    assert response.status_code == 302
    shown = RoleStatement.objects.get(role=role, shown=True)
    assert shown.text == "Writes."


def test_two_shown_statements_are_refused_with_a_message(client, editor):
    role = factories.role("workspace-member", [("Reads.", True), ("Writes.", False)])
    client.force_login(editor)
    page = client.get(change_url(role))
    prefix = page.context["inline_admin_formsets"][0].formset.prefix

    response = client.post(
        change_url(role), form_data(page) | {f"{prefix}-1-shown": "on"}
    )

    assert response.status_code == 200
    assert "Only one statement of a role can be shown" in response.content.decode()
    assert RoleStatement.objects.get(role=role, shown=True).text == "Reads."


# -- Two people editing one object -----------------------------------------------


@pytest.fixture
def two_editors(editor):
    alice, bob = Client(), Client()
    alice.force_login(editor)
    bob.force_login(factories.staff("bob", "Editors"))
    return alice, bob


def test_a_save_over_a_newer_one_is_refused_and_keeps_what_was_typed(
    two_editors, completions_write
):
    alice, bob = two_editors
    url = change_url(completions_write)
    alices_form = form_data(alice.get(url))
    bobs_form = form_data(bob.get(url))
    bob.post(url, {**bobs_form, "description": "Bob's words."})

    refused = alice.post(url, {**alices_form, "description": "Alice's words."})

    assert refused.status_code == 200
    page = refused.content.decode()
    assert "was saved again by bob at" in page
    assert "your changes were not saved" in page
    form = refused.context["adminform"].form
    assert form["description"].value() == "Alice's words."
    completions_write.refresh_from_db()
    assert completions_write.description == "Bob's words."


def test_saving_again_after_the_warning_replaces_the_newer_version(
    two_editors, completions_write
):
    alice, bob = two_editors
    url = change_url(completions_write)
    alices_form = form_data(alice.get(url))
    bob.post(url, {**form_data(bob.get(url)), "description": "Bob's words."})
    refused = alice.post(url, {**alices_form, "description": "Alice's words."})

    again = alice.post(url, form_data(refused))

    assert again.status_code == 302
    completions_write.refresh_from_db()
    assert completions_write.description == "Alice's words."
    # Bob's save is not lost either: it is a version in the history.
    descriptions = completions_write.history.values_list("description", flat=True)
    assert {"Bob's words.", "Alice's words."} <= set(descriptions)


def test_one_person_saving_twice_in_a_row_is_never_warned(editor, completions_write):
    client = Client()
    client.force_login(editor)
    url = change_url(completions_write)

    for words in ("First words.", "Second words."):
        answer = client.post(url, {**form_data(client.get(url)), "description": words})
        assert answer.status_code == 302

    completions_write.refresh_from_db()
    assert completions_write.description == "Second words."


# -- The mark-verified action ---------------------------------------------------


def test_mark_verified_today_dates_each_endpoint_and_records_who(
    client, editor, models_endpoint
):
    other = factories.endpoint("POST", "/v1/chat/completions")
    before = DataVersion.objects.get().number
    client.force_login(editor)
    changelist = client.get(reverse("admin:scopes_endpoint_changelist"))

    response = client.post(
        reverse("admin:scopes_endpoint_changelist"),
        {
            "action": "mark_verified_today",
            "_selected_action": [models_endpoint.pk, other.pk],
        },
    )

    assert "Mark verified today" in changelist.content.decode()
    assert response.status_code == 302
    today = datetime.date.today()
    assert set(Endpoint.objects.values_list("verified_on", flat=True)) == {today}
    latest = models_endpoint.history.latest()
    assert latest.history_user == editor
    assert latest.history_change_reason == "Marked verified today"
    assert DataVersion.objects.get().number == before + 1


def test_viewers_do_not_get_the_mark_verified_action(client, viewer, models_endpoint):
    client.force_login(viewer)

    response = client.post(
        reverse("admin:scopes_endpoint_changelist"),
        {"action": "mark_verified_today", "_selected_action": [models_endpoint.pk]},
    )

    assert response.status_code == 200
    assert "Mark verified today" not in response.content.decode()
    models_endpoint.refresh_from_db()
    assert models_endpoint.verified_on is None


# -- Changelists stay cheap -----------------------------------------------------

SIGNED_IN = ["session", "user", "user's own permissions", "group permissions"]
COUNTS = ["count of the listed rows", "count of all rows"]
CHANGELIST_QUERIES = {
    "keytype": [*SIGNED_IN, *COUNTS, "the rows"],
    "scope": [
        *SIGNED_IN,
        "key types for the filter",
        *COUNTS,
        "the rows with their legacy twins",
        "their key types",
    ],
    "endpoint": [
        *SIGNED_IN,
        "key types for the filter",
        *COUNTS,
        "the rows",
        "their key types",
        "their alternatives",
        "the alternatives' scopes",
        "distinct areas for the filter",
    ],
    "operation": [
        *SIGNED_IN,
        "key types for the filter",
        *COUNTS,
        "the rows",
        "their key types",
        "their alternatives",
        "the alternatives' scopes",
        "distinct areas for the filter",
    ],
    "scopealternative": [
        *SIGNED_IN,
        *COUNTS,
        "the rows with their endpoint or operation",
        "their scopes",
    ],
    "role": [
        *SIGNED_IN,
        "key types for the filter",
        *COUNTS,
        "the rows",
        "the key types each may create",
    ],
    "rolestatement": [*SIGNED_IN, "roles for the filter", *COUNTS, "rows with roles"],
    "cause": [*SIGNED_IN, "scenarios for the filter", *COUNTS, "the rows"],
    "scenario": [*SIGNED_IN, *COUNTS, "the rows", "their causes in order"],
    "scenariocause": [
        *SIGNED_IN,
        "scenarios for the filter",
        *COUNTS,
        "rows with scenario and cause",
    ],
    "errorcode": [*SIGNED_IN, *COUNTS, "the rows", "distinct statuses for the filter"],
    "dataversion": [*SIGNED_IN, *COUNTS, "the rows"],
}


@pytest.mark.parametrize("rows", [10, 100])
def test_every_changelist_runs_the_same_queries_for_10_or_100_rows(
    client, editor, rows, django_assert_num_queries
):
    factories.rows_of_every_kind(rows)
    client.force_login(editor)

    for model, queries in CHANGELIST_QUERIES.items():
        url = reverse(f"admin:scopes_{model}_changelist")
        with django_assert_num_queries(len(queries)):
            response = client.get(url)

        assert response.status_code == 200, model
        changelist = response.context["cl"]
        assert len(changelist.result_list) == min(
            changelist.result_count, changelist.list_per_page
        )
        fixed_size = {"keytype": 3, "dataversion": 1}
        assert changelist.result_count >= fixed_size.get(model, rows)
