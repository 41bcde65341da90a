"""Every change page remembers the version it was opened at, so that a save
over someone else's newer one can be caught (scopes.admin.HistoryForm; the
refusal itself is tested in test_admin.py)."""

import pytest
from django.urls import reverse

from scopes.models import REFERENCE_MODELS
from tests import factories


@pytest.mark.parametrize("model", REFERENCE_MODELS, ids=lambda m: m.__name__)
def test_every_change_page_sends_the_version_it_was_opened_at(client, reference, model):
    client.force_login(factories.staff("edith", "Editors"))
    shown = model.objects.first()
    url = reverse(f"admin:scopes_{model._meta.model_name}_change", args=[shown.pk])

    before = client.get(url).content.decode()
    shown.save()
    after = client.get(url).content.decode()

    # The shipped data is loaded here without history rows: 0 stands for that.
    assert 'name="opened_at" value="0"' in before
    newest = model.history.filter(id=shown.pk).latest("history_id")
    assert f'name="opened_at" value="{newest.history_id}"' in after
