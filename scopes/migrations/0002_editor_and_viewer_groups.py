"""The Editors and Viewers groups, and the single DataVersion row.

Permissions are normally created after migrate (post_migrate), which is too
late on a fresh database, so they are created here explicitly first.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

EDITORS = "Editors"
VIEWERS = "Viewers"


def reference_models(apps):
    """Every scopes model staff edit: not the history tables, not DataVersion."""
    return [
        model
        for model in apps.get_app_config("scopes").get_models()
        if not model._meta.model_name.startswith("historical")
        and model._meta.model_name != "dataversion"
    ]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    DataVersion = apps.get_model("scopes", "DataVersion")

    app_config = apps.get_app_config("scopes")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    editable = reference_models(apps)
    content_types = [ContentType.objects.get_for_model(model) for model in editable]
    version_type = ContentType.objects.get_for_model(DataVersion)
    view_version = Permission.objects.get(
        content_type=version_type, codename="view_dataversion"
    )

    editors, _ = Group.objects.get_or_create(name=EDITORS)
    editors.permissions.add(
        view_version, *Permission.objects.filter(content_type__in=content_types)
    )
    viewers, _ = Group.objects.get_or_create(name=VIEWERS)
    viewers.permissions.add(
        view_version,
        *Permission.objects.filter(
            content_type__in=content_types, codename__startswith="view_"
        ),
    )

    DataVersion.objects.get_or_create(pk=1, defaults={"number": 0})


def remove_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=[EDITORS, VIEWERS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("scopes", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
