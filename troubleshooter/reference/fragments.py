"""Render the big, request-independent parts of a page once per snapshot.

The full scope list and endpoint matrix depend only on the reference data, so
each process keeps the last rendering of each, tied to the snapshot object it
came from: a new snapshot (any change to the data) renders afresh, and no
stale copy can be served. Fragments must hold nothing from the request: no
CSRF token, no user, no query string.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from scopes.snapshot import Snapshot

_lock = threading.Lock()
_rendered: dict[str, tuple[Snapshot, str]] = {}


def rendered_once(
    snapshot: Snapshot, name: str, template: str, context: Callable[[], dict]
) -> SafeString:
    """The HTML of ``template`` for this snapshot, rendered at most once.

    ``context`` is called only when the fragment has to be rendered.
    """
    cached = _rendered.get(name)
    if cached is not None and cached[0] is snapshot:
        return mark_safe(cached[1])  # noqa: S308  (autoescaped when rendered)

    html = render_to_string(template, context())
    with _lock:
        _rendered[name] = (snapshot, html)
    return mark_safe(html)  # noqa: S308  (autoescaped when rendered)
