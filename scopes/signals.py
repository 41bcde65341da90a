"""Bump ``DataVersion`` whenever the reference data changes.

Every process caches a snapshot of the reference data and rebuilds it when the
version number in the database moves, so each save, delete and many-to-many
change of a reference model must move it. A bulk load wraps itself in
``one_version_bump()`` so the number moves once, not once per row.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

_batch = threading.local()


def bump_data_version() -> None:
    """Move the version by one in a single atomic UPDATE."""
    from scopes.models import DataVersion

    now = timezone.now()
    updated = DataVersion.objects.filter(pk=1).update(
        number=F("number") + 1, changed_at=now
    )
    if not updated:
        DataVersion.objects.get_or_create(
            pk=1, defaults={"number": 1, "changed_at": now}
        )
    transaction.on_commit(publish_data_version)


def publish_data_version() -> None:
    from scopes.services import publish_data_version as publish

    publish()


@contextmanager
def one_version_bump() -> Iterator[None]:
    """Hold back bumps inside the block; bump once at the end if anything changed.

    Nothing is bumped when the block raises: its transaction rolls back too.
    """
    depth = getattr(_batch, "depth", 0)
    _batch.depth = depth + 1
    if depth == 0:
        _batch.dirty = False
    try:
        yield
    finally:
        _batch.depth = depth
    if depth == 0 and _batch.dirty:
        _batch.dirty = False
        bump_data_version()


def reference_data_changed(sender: Any, **kwargs: Any) -> None:
    action = kwargs.get("action")
    if kwargs.get("raw") or (action is not None and not action.startswith("post_")):
        return
    if getattr(_batch, "depth", 0):
        _batch.dirty = True
        return
    bump_data_version()


def connect_signals() -> None:
    from scopes.models import REFERENCE_MODELS

    for model in REFERENCE_MODELS:
        uid = f"scopes-data-version-{model._meta.label_lower}"
        post_save.connect(reference_data_changed, sender=model, dispatch_uid=uid)
        post_delete.connect(reference_data_changed, sender=model, dispatch_uid=uid)
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through
            if through._meta.auto_created:
                m2m_changed.connect(
                    reference_data_changed,
                    sender=through,
                    dispatch_uid=f"scopes-data-version-{through._meta.label_lower}",
                )
