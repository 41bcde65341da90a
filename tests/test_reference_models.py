"""The reference models guard their own invariants, in validation and in the
database itself."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from scopes.models import (
    Endpoint,
    Operation,
    RoleStatement,
    Scope,
    ScopeAlternative,
    validate_path_template,
)
from scopes.referencefile import unholdable_scopes
from tests import factories

BAD_SCOPE_NAMES = ["Completions.write", "completions", "completions.write.all", "a.b1"]
BAD_PATHS = [
    "v1/models",
    "/v1/models/",
    "/v1/models?limit=10",
    "/v1//models",
    "/v1/{bad name}",
    "/v1/mo dels",
    "/v1/:id",
]
GOOD_PATHS = [
    "/v1/models",
    "/v1/integrations/{slug}/models",
    "/v1/api-keys/{type}/{sub-type}",
    "/v1/fine_tuning/jobs",
    "/v1/analytics/groups/metadata/{metadataKey}",
]


def refused_by_database(save) -> bool:
    try:
        with transaction.atomic():
            save()
    except IntegrityError:
        return True
    return False


# -- Scope names ----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", BAD_SCOPE_NAMES)
def test_a_scope_name_outside_resource_dot_action_is_refused_twice(name):
    scope = Scope(name=name, description="-", group="inference")

    with pytest.raises(ValidationError) as error:
        scope.full_clean()

    assert "name" in error.value.message_dict
    assert refused_by_database(scope.save)


@pytest.mark.django_db
def test_scope_names_are_unique():
    factories.scope("logs.write")

    assert refused_by_database(lambda: factories.scope("logs.write"))


@pytest.mark.django_db
def test_a_scope_cannot_be_its_own_legacy_twin():
    scope = factories.scope("providers.list")
    scope.legacy_twin = scope

    with pytest.raises(ValidationError) as error:
        scope.full_clean()

    assert "legacy_twin" in error.value.message_dict
    assert refused_by_database(scope.save)


# -- Endpoints --------------------------------------------------------------------


@pytest.mark.parametrize("path", BAD_PATHS)
def test_a_malformed_path_template_is_refused_by_its_validator(path):
    with pytest.raises(ValidationError):
        validate_path_template(path)


@pytest.mark.parametrize("path", GOOD_PATHS)
def test_well_formed_path_templates_pass(path):
    validate_path_template(path)


@pytest.mark.django_db
@pytest.mark.parametrize("path", BAD_PATHS)
def test_the_database_refuses_a_malformed_path_template(path):
    endpoint = Endpoint(
        method="GET", path=path, plane="data", summary="-", provenance="inferred"
    )

    assert refused_by_database(endpoint.save)


@pytest.mark.django_db
def test_one_method_and_path_can_be_listed_only_once():
    factories.endpoint("GET", "/v1/models")
    again = Endpoint(
        method="GET",
        path="/v1/models",
        plane="data",
        summary="Again",
        area="Inference",
        provenance="inferred",
    )

    with pytest.raises(ValidationError) as error:
        again.full_clean()

    assert "already listed" in str(error.value)
    assert refused_by_database(again.save)


@pytest.mark.django_db
def test_the_same_path_with_another_method_is_a_different_endpoint():
    factories.endpoint("GET", "/v1/files")

    factories.endpoint("POST", "/v1/files")

    assert Endpoint.objects.filter(path="/v1/files").count() == 2


@pytest.mark.django_db
def test_an_unknown_method_is_refused_twice():
    endpoint = Endpoint(
        method="FETCH",
        path="/v1/models",
        plane="data",
        summary="-",
        area="-",
        provenance="inferred",
    )

    with pytest.raises(ValidationError) as error:
        endpoint.full_clean()

    assert "method" in error.value.message_dict
    assert refused_by_database(endpoint.save)


@pytest.mark.django_db
def test_a_documented_requirement_must_name_its_source_page():
    endpoint = Endpoint(
        method="GET",
        path="/v1/models",
        plane="data",
        summary="List models",
        area="Inference",
        provenance="documented",
    )

    with pytest.raises(ValidationError) as error:
        endpoint.full_clean()

    assert "source_url" in error.value.message_dict


# -- Alternatives -----------------------------------------------------------------


@pytest.mark.django_db
def test_an_alternative_belongs_to_exactly_one_endpoint_or_operation():
    endpoint = factories.endpoint("GET", "/v1/models")
    operation = factories.operation("invite-users")

    orphan = ScopeAlternative()
    both = ScopeAlternative(endpoint=endpoint, operation=operation)

    for alternative in (orphan, both):
        with pytest.raises(ValidationError):
            alternative.full_clean()
        assert refused_by_database(alternative.save)
    assert ScopeAlternative.objects.count() == 0


@pytest.mark.django_db
def test_alternatives_keep_their_order():
    factories.scope("completions.write")
    factories.scope("virtual_keys.list", held_by=["admin", "workspace_user"])

    endpoint = factories.endpoint(
        "GET", "/v1/models", alternatives=[["virtual_keys.list"], ["completions.write"]]
    )

    names = [alt.scopes.get().name for alt in endpoint.alternatives.all()]
    assert names == ["virtual_keys.list", "completions.write"]


# -- The integrity rule -------------------------------------------------------------

HOLDERS = {
    "completions.write": {"workspace_user", "workspace_service"},
    "audit_logs.list": {"admin"},
    "logs.read": set(),
}


def test_a_scope_no_accepted_key_can_hold_is_named():
    stranded = unholdable_scopes(
        [["completions.write"], ["audit_logs.list"]],
        {"workspace_user"},
        HOLDERS,
        jwt_only=set(),
    )

    assert stranded == ["audit_logs.list"]


def test_a_requirement_every_accepted_key_can_meet_passes():
    stranded = unholdable_scopes(
        [["completions.write"]], {"workspace_user", "admin"}, HOLDERS, jwt_only=set()
    )

    assert stranded == []


def test_jwt_only_scopes_are_exempt_from_the_integrity_rule():
    stranded = unholdable_scopes(
        [["logs.read"], ["completions.write"]],
        {"workspace_user"},
        HOLDERS,
        jwt_only={"logs.read"},
    )

    assert stranded == []


def test_an_unknown_scope_counts_as_unholdable():
    assert unholdable_scopes([["made.up"]], {"admin"}, HOLDERS, set()) == ["made.up"]


# -- Roles ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_role_shows_at_most_one_statement():
    role = factories.role("workspace-member", [("Reads and writes.", True)])
    second = RoleStatement(role=role, text="Reads only.", shown=True)

    with pytest.raises(ValidationError) as error:
        second.full_clean()

    assert "shown" in error.value.message_dict
    assert refused_by_database(second.save)


@pytest.mark.django_db
def test_a_role_may_keep_several_statements_that_are_not_shown():
    role = factories.role("workspace-member", [("Reads and writes.", True)])

    RoleStatement.objects.create(role=role, text="Reads only.", shown=False)
    RoleStatement.objects.create(role=role, text="Another view.", shown=False)

    assert role.statements.count() == 3


@pytest.mark.django_db
def test_another_role_may_show_its_own_statement():
    factories.role("workspace-member", [("Reads and writes.", True)])

    factories.role("workspace-admin", [("Runs the workspace.", True)])

    assert RoleStatement.objects.filter(shown=True).count() == 2


@pytest.mark.django_db
def test_operations_share_the_requirement_fields_of_endpoints():
    factories.scope("organisation_users.create", held_by=["admin"])

    operation = factories.operation(
        "invite-organisation-users",
        accepts=["admin"],
        alternatives=[["organisation_users.create"]],
        ui_only=False,
        enterprise_only=True,
    )

    fetched = Operation.objects.get(slug="invite-organisation-users")
    assert fetched.enterprise_only is True
    assert [kt.slug for kt in fetched.key_types.all()] == ["admin"]
    assert operation.alternatives.get().scopes.get().name == "organisation_users.create"
