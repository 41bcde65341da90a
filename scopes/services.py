"""The reference data between the database, the file and the engine.

``snapshot_records`` reads the database into the same record dicts the file
holds; export writes them and ``current_snapshot`` builds the engine's
snapshot from them, so both see exactly the same data. ``apply_entries`` is
the other direction: it writes checked file entries into the database.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    models,
    transaction,
)
from django.db.models import Prefetch
from redis.exceptions import RedisError

from scopes import referencefile as rf
from scopes.models import (
    Cause,
    DataVersion,
    Endpoint,
    ErrorCode,
    KeyType,
    Operation,
    Role,
    RoleStatement,
    Scenario,
    ScenarioCause,
    Scope,
    ScopeAlternative,
)
from scopes.signals import one_version_bump
from scopes.snapshot import Snapshot, from_records

logger = logging.getLogger(__name__)

Record = dict[str, Any]
# The number, and when it moved as the database's text for that time.
VersionStamp = tuple[int, str | None]


# -- Database to records ----------------------------------------------------


def _slugs(name: str) -> Prefetch:
    return Prefetch(name, queryset=KeyType.objects.only("slug").order_by())


def _alternatives() -> Prefetch:
    scope_names = Prefetch("scopes", queryset=Scope.objects.only("name").order_by())
    return Prefetch(
        "alternatives",
        queryset=ScopeAlternative.objects.order_by("position", "id").prefetch_related(
            scope_names
        ),
    )


def _requirement_record(obj: Endpoint | Operation) -> Record:
    return {
        "summary": obj.summary,
        "area": obj.area,
        "key_types": sorted(kt.slug for kt in obj.key_types.all()),
        "alternatives": [
            sorted(scope.name for scope in alt.scopes.all())
            for alt in obj.alternatives.all()
        ],
        "admin_needs_workspace_id": obj.admin_needs_workspace_id,
        "enterprise_only": obj.enterprise_only,
        "provenance": obj.provenance,
        "source_url": obj.source_url,
        "verified_on": obj.verified_on.isoformat() if obj.verified_on else None,
        "notes": obj.notes,
    }


def snapshot_records() -> list[Record]:
    """The whole database as reference-file records, in the file's order.

    Runs a fixed number of queries (18) whatever the number of rows.
    """
    records: list[Record] = []

    for kt in KeyType.objects.order_by():
        records.append(
            {
                "kind": "key_type",
                "slug": kt.slug,
                "name": kt.name,
                "family": kt.family,
                "purpose": kt.purpose,
                "facts": kt.fact_list,
                "can_call_data_plane": kt.can_call_data_plane,
                "can_run_ui_tests": kt.can_run_ui_tests,
                "can_manage_api_keys": kt.can_manage_api_keys,
            }
        )

    scopes = Scope.objects.order_by().select_related("legacy_twin")
    for scope in scopes.prefetch_related(_slugs("key_types")):
        records.append(
            {
                "kind": "scope",
                "name": scope.name,
                "description": scope.description,
                "group": scope.group,
                "key_types": sorted(kt.slug for kt in scope.key_types.all()),
                "enabled_at": scope.enabled_at,
                "legacy_twin": scope.legacy_twin.name if scope.legacy_twin else None,
                "introduced_in": scope.introduced_in,
                "jwt_only": scope.jwt_only,
            }
        )

    endpoints = Endpoint.objects.order_by()
    for endpoint in endpoints.prefetch_related(_slugs("key_types"), _alternatives()):
        records.append(
            {
                "kind": "endpoint",
                "method": endpoint.method,
                "path": endpoint.path,
                "plane": endpoint.plane,
                **_requirement_record(endpoint),
            }
        )

    operations = Operation.objects.order_by()
    for operation in operations.prefetch_related(_slugs("key_types"), _alternatives()):
        records.append(
            {
                "kind": "operation",
                "slug": operation.slug,
                "ui_only": operation.ui_only,
                **_requirement_record(operation),
            }
        )

    statements = Prefetch(
        "statements", queryset=RoleStatement.objects.order_by("position", "id")
    )
    roles = Role.objects.order_by()
    for role in roles.prefetch_related(_slugs("can_create_key_types"), statements):
        records.append(
            {
                "kind": "role",
                "slug": role.slug,
                "name": role.name,
                "level": role.level,
                "position": role.position,
                "summary": role.summary,
                "can_create_key_types": sorted(
                    kt.slug for kt in role.can_create_key_types.all()
                ),
                "statements": [
                    {"text": s.text, "source_url": s.source_url, "shown": s.shown}
                    for s in role.statements.all()
                ],
            }
        )

    for cause in Cause.objects.order_by():
        records.append(
            {
                "kind": "cause",
                "code": cause.code,
                "title": cause.title,
                "explanation": cause.explanation,
                "fix": cause.fix,
                "check": cause.how_to_check,
            }
        )

    ordered_causes = Prefetch(
        "scenario_causes",
        queryset=ScenarioCause.objects.order_by("position", "id").select_related(
            "cause"
        ),
    )
    for scenario in Scenario.objects.order_by().prefetch_related(ordered_causes):
        records.append(
            {
                "kind": "scenario",
                "slug": scenario.slug,
                "title": scenario.title,
                "when": scenario.when,
                "position": scenario.position,
                "causes": [sc.cause.code for sc in scenario.scenario_causes.all()],
            }
        )

    for error in ErrorCode.objects.order_by():
        records.append(
            {
                "kind": "error_code",
                "code": error.code,
                "http_status": error.http_status,
                "title": error.title,
                "meaning": error.meaning,
            }
        )

    return sorted((rf.canonical(record) for record in records), key=rf.sort_key)


def export_text() -> str:
    """The database in the canonical text of the reference file."""
    return rf.dumps(snapshot_records())


# -- The cached snapshot ----------------------------------------------------

_lock = threading.Lock()
_cache: tuple[VersionStamp, Snapshot] | None = None
# Set by SnapshotPerRequestMiddleware: within one request the version is read
# once, however many times the view and its helpers ask for the snapshot.
_request_memo: ContextVar[dict[str, Snapshot] | None] = ContextVar(
    "scope_doctor_request_snapshot", default=None
)


def data_version() -> VersionStamp:
    """The version number and the time it last moved.

    Read from the shared cache when app servers share one (REDIS_URL): a
    Redis read costs a fraction of a database query, and every public request
    makes one. Otherwise, or when the shared cache has no answer, one query.
    The time is part of the stamp so that a number reused after a rolled-back
    transaction (as in tests) never matches a stale snapshot.
    """
    shared = _shared_stamps()
    if shared is None:
        return _stored_data_version()

    stamp = _shared_call(shared.get, _stamp_key())
    if stamp is not None:
        return tuple(stamp)
    stamp = _stored_data_version()
    # add(), not set(): a writer may have published a newer stamp meanwhile.
    _shared_call(shared.add, _stamp_key(), stamp, settings.DATA_VERSION_CACHE_SECONDS)
    return stamp


def publish_data_version() -> None:
    """Tell every app server about a committed change on their next request.

    Runs after the writing transaction commits. Two writers finishing at once
    could publish out of order; the stamp's short lifetime in the shared cache
    bounds how long that, or a failed publish, can hide a change.
    """
    shared = _shared_stamps()
    if shared is None:
        return

    try:
        stamp = _stored_data_version()
    except DatabaseError:
        # The change is committed; the stamp's lifetime lets readers catch up.
        logger.warning("Could not read the data version to publish it")
        return
    timeout = settings.DATA_VERSION_CACHE_SECONDS
    _shared_call(shared.set, _stamp_key(), stamp, timeout)


def _stored_data_version() -> VersionStamp:
    # Every public request without a shared cache runs this, so it skips the
    # ORM's query building (a third of a warm page's time when profiled).
    with connection.cursor() as cursor:
        cursor.execute(_VERSION_SQL.format(table=_version_table()))
        row = cursor.fetchone()
    _database_back()
    if row is None:
        return (0, None)
    return (int(row[0]), None if row[1] is None else str(row[1]))


def _shared_stamps():
    alias = settings.DATA_VERSION_CACHE
    return caches[alias] if alias else None


def _stamp_key() -> str:
    # One key per database, so sites (or a benchmark's runs) sharing a Redis
    # never read each other's stamps.
    params = connection.settings_dict
    where = f"{connection.vendor}|{params['HOST']}|{params['PORT']}|{params['NAME']}"
    return "data-version:" + hashlib.blake2b(where.encode(), digest_size=8).hexdigest()


# After a failed call the shared cache is left alone for a few seconds, so an
# unreachable Redis costs one timeout and one log line, not one per request.
SHARED_RETRY_SECONDS = 5.0
_shared_resting_until = 0.0


def _shared_call(method, *args):
    """Call the shared cache; when it is unreachable, answer None so the
    caller falls back to the database."""
    global _shared_resting_until

    if time.monotonic() < _shared_resting_until:
        return None
    try:
        answer = method(*args)
    except RedisError as error:
        if not _shared_resting_until:
            logger.warning("Shared cache unavailable for the data version: %s", error)
        _shared_resting_until = time.monotonic() + SHARED_RETRY_SECONDS
        return None

    if _shared_resting_until:
        _shared_resting_until = 0.0
        logger.warning("Shared cache reachable again for the data version")
    return answer


_VERSION_SQL = "SELECT number, changed_at FROM {table} WHERE id = 1"


def _version_table() -> str:
    return connection.ops.quote_name(DataVersion._meta.db_table)


def current_snapshot() -> Snapshot:
    """The snapshot of the reference data, rebuilt only when it has changed.

    One query when nothing changed; otherwise a fixed number more to rebuild,
    done by one thread while any others wait for its result.
    """
    memo = _request_memo.get()
    if memo is not None and "snapshot" in memo:
        return memo["snapshot"]

    try:
        snapshot = _snapshot_for(_version_for_request())
    except (OperationalError, InterfaceError):
        if _cache is None:
            raise
        snapshot = _last_snapshot_while_down(_cache[1])
    if memo is not None:
        memo["snapshot"] = snapshot
    return snapshot


def hold_reference_data() -> bool:
    """Build the snapshot now, before any request asks for it.

    Called as each app server process starts (troubleshooter/gunicorn_config.py),
    so a database outage finds every process able to answer from memory, not
    only those that happened to serve a page before it. If the database
    cannot be read, the first request tries again.
    """
    try:
        snapshot = current_snapshot()
    except DatabaseError as error:
        logger.warning(
            "Could not load the reference data at start-up (%s); "
            "the first request will try again",
            type(error).__name__,
        )
        return False
    finally:
        # This runs outside any request, so nothing would ever close the
        # connection it opened; requests open their own.
        connections.close_all()
    logger.info("This process holds the reference data, version %s", snapshot.version)
    return True


def current_stamp() -> str:
    """The stamp of the data this request is answered from, without building
    a snapshot: enough to look up an answer kept in the page cache."""
    try:
        version = _version_for_request()
    except (OperationalError, InterfaceError):
        if _cache is None:
            raise
        return _cache[1].stamp
    return _stamp_text(version)


def _version_for_request() -> VersionStamp:
    memo = _request_memo.get()
    if memo is not None and "version" in memo:
        return memo["version"]
    version = data_version()
    if memo is not None:
        memo["version"] = version
    return version


def _stamp_text(version: VersionStamp) -> str:
    return f"{version[0]}@{version[1] or ''}"


_down = threading.Event()


def _last_snapshot_while_down(snapshot: Snapshot) -> Snapshot:
    """Answer from the snapshot held in memory while the database is down.

    The reference data changes a few times a week, so the last copy is almost
    always today's; a process that has none lets the error become a 503 page.
    """
    if not _down.is_set():
        _down.set()
        logger.warning(
            "Database unreachable: answering from the snapshot at version %s",
            snapshot.version,
        )
    return snapshot


def _database_back() -> None:
    if _down.is_set():
        _down.clear()
        logger.warning("Database reachable again: snapshot checks resumed")


def _snapshot_for(stamp: VersionStamp) -> Snapshot:
    global _cache

    cached = _cache
    if cached is not None and cached[0] == stamp:
        return cached[1]

    with _lock:
        cached = _cache
        if cached is not None and cached[0] == stamp:
            return cached[1]
        snapshot = from_records(
            snapshot_records(), version=stamp[0], stamp=_stamp_text(stamp)
        )
        _cache = (stamp, snapshot)
        logger.info("Rebuilt the reference snapshot at version %s", stamp[0])
        return snapshot


class SnapshotPerRequestMiddleware:
    """Read the data version at most once per request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request_memo.set({})
        try:
            return self.get_response(request)
        finally:
            _request_memo.reset(token)


# -- Records to database ----------------------------------------------------


@dataclass
class LoadReport:
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    missing: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    @property
    def total(self) -> int:
        counters = (self.created, self.updated, self.unchanged)
        return sum(sum(counter.values()) for counter in counters)


# The order rows are written in: everything an entry refers to comes first.
_WRITE_ORDER = (
    "key_type",
    "cause",
    "error_code",
    "scope",
    "endpoint",
    "operation",
    "role",
    "scenario",
)

# Record fields written through relations; every other field is a single
# value on the row itself.
_RELATION_FIELDS = frozenset(
    {
        "kind",
        "key_types",
        "can_create_key_types",
        "alternatives",
        "statements",
        "causes",
    }
)


class _Writer:
    """Writes checked entries, saving only what differs from the database."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.key_types = {kt.slug: kt for kt in KeyType.objects.all()}
        self.scopes = {scope.name: scope for scope in Scope.objects.all()}
        self.causes = {cause.code: cause for cause in Cause.objects.all()}
        self.pending_twins: list[tuple[Scope, str]] = []

    def existing(self, kind: str) -> dict[tuple[Any, ...], models.Model]:
        if kind == "key_type":
            return {(slug,): kt for slug, kt in self.key_types.items()}
        if kind == "scope":
            return {(name,): scope for name, scope in self.scopes.items()}
        if kind == "cause":
            return {(code,): cause for code, cause in self.causes.items()}
        if kind == "endpoint":
            return {(e.method, e.path): e for e in Endpoint.objects.all()}
        model = rf.MODELS[kind]
        key = rf.NATURAL_KEYS[kind][0]
        return {(getattr(obj, key),): obj for obj in model.objects.all()}

    def write(
        self, kind: str, obj: models.Model | None, want: Record, have: Record
    ) -> None:
        """Create or update one row, touching only the parts that differ."""
        obj = obj if obj is not None else rf.MODELS[kind]()
        obj._change_reason = self.reason
        singles = [name for name in want if name not in _RELATION_FIELDS]

        if obj.pk is None or any(want[name] != have.get(name) for name in singles):
            for name in singles:
                self._set_single(kind, obj, name, want[name])
            obj.save()
        self._remember(kind, obj)

        for name in ("key_types", "can_create_key_types"):
            if name in want and want[name] != have.get(name):
                getattr(obj, name).set([self.key_types[slug] for slug in want[name]])
        if "alternatives" in want and want["alternatives"] != have.get("alternatives"):
            self._write_alternatives(obj, want["alternatives"])
        if kind == "role" and want["statements"] != have.get("statements"):
            self._write_statements(obj, want["statements"])
        if kind == "scenario" and want["causes"] != have.get("causes"):
            self._write_scenario_causes(obj, want["causes"])

    def _set_single(self, kind: str, obj: models.Model, name: str, value: Any) -> None:
        if name == "verified_on":
            obj.verified_on = datetime.date.fromisoformat(value) if value else None
        elif name == "facts":
            obj.facts = "\n".join(value)
        elif name == "legacy_twin":
            self._set_twin(obj, value)
        else:
            setattr(obj, rf.MODEL_FIELD_NAMES.get((kind, name), name), value)

    def _remember(self, kind: str, obj: models.Model) -> None:
        if kind == "key_type":
            self.key_types[obj.slug] = obj
        elif kind == "scope":
            self.scopes[obj.name] = obj
        elif kind == "cause":
            self.causes[obj.code] = obj

    def _set_twin(self, scope: Scope, twin_name: str | None) -> None:
        if twin_name is None:
            scope.legacy_twin = None
        elif twin_name in self.scopes:
            scope.legacy_twin = self.scopes[twin_name]
        else:
            # The twin comes later in the file; linked once it exists.
            scope.legacy_twin = None
            self.pending_twins.append((scope, twin_name))

    def link_pending_twins(self) -> None:
        for scope, twin_name in self.pending_twins:
            scope.legacy_twin = self.scopes[twin_name]
            scope._change_reason = self.reason
            scope.save()
        self.pending_twins.clear()

    def _write_alternatives(
        self, owner: Endpoint | Operation, wanted: Sequence[Sequence[str]]
    ) -> None:
        owner_field = "endpoint" if isinstance(owner, Endpoint) else "operation"
        existing = list(owner.alternatives.order_by("position", "id"))
        for extra in existing[len(wanted) :]:
            extra._change_reason = self.reason
            extra.delete()

        for position, names in enumerate(wanted):
            if position < len(existing):
                alternative = existing[position]
                alternative._change_reason = self.reason
                if alternative.position != position:
                    alternative.position = position
                    alternative.save()
                have = sorted(alternative.scopes.values_list("name", flat=True))
                if have == list(names):
                    continue
            else:
                alternative = ScopeAlternative(
                    position=position, **{owner_field: owner}
                )
                alternative._change_reason = self.reason
                alternative.save()
            alternative.scopes.set([self.scopes[name] for name in names])

    def _write_statements(self, role: Role, wanted: Sequence[Record]) -> None:
        existing = list(role.statements.order_by("position", "id"))
        for extra in existing[len(wanted) :]:
            extra._change_reason = self.reason
            extra.delete()

        pairs = list(zip(existing, enumerate(wanted), strict=False))
        # At most one statement may be shown at any moment, so the ones losing
        # the flag are written before the one gaining it.
        pairs.sort(key=lambda pair: pair[1][1]["shown"])
        for statement, (position, want) in pairs:
            current = (statement.position, statement.text, statement.source_url)
            if current == (position, want["text"], want["source_url"]) and (
                statement.shown == want["shown"]
            ):
                continue
            statement.position = position
            statement.text = want["text"]
            statement.source_url = want["source_url"]
            statement.shown = want["shown"]
            statement._change_reason = self.reason
            statement.save()

        for position, want in list(enumerate(wanted))[len(existing) :]:
            statement = RoleStatement(role=role, position=position, **want)
            statement._change_reason = self.reason
            statement.save()

    def _write_scenario_causes(self, scenario: Scenario, codes: Sequence[str]) -> None:
        for link in scenario.scenario_causes.all():
            link._change_reason = self.reason
            link.delete()
        for position, code in enumerate(codes):
            link = ScenarioCause(
                scenario=scenario, cause=self.causes[code], position=position
            )
            link._change_reason = self.reason
            link.save()


def apply_entries(
    entries: Iterable[rf.Entry], *, delete_missing: bool = False, reason: str = ""
) -> LoadReport:
    """Make the database hold exactly these (already checked) entries.

    Rows the entries lack are reported, and deleted only with
    ``delete_missing``. Runs in one transaction and moves the data version
    once, and only if something changed.
    """
    report = LoadReport()
    wanted: dict[str, dict[tuple[Any, ...], Record]] = {kind: {} for kind in rf.KINDS}
    for entry in entries:
        wanted[entry.kind][entry.key] = rf.canonical(entry.record)

    with transaction.atomic(), one_version_bump():
        have = {
            (record["kind"], rf.natural_key(record)): record
            for record in snapshot_records()
        }
        writer = _Writer(reason)

        for kind in _WRITE_ORDER:
            existing = writer.existing(kind)
            for key, want in wanted[kind].items():
                current = have.get((kind, key))
                if current == want:
                    report.unchanged[kind] += 1
                    continue
                writer.write(kind, existing.get(key), want, current or {})
                counter = report.created if current is None else report.updated
                counter[kind] += 1
            if kind == "scope":
                writer.link_pending_twins()

        for kind in reversed(_WRITE_ORDER):
            for key, obj in sorted(writer.existing(kind).items()):
                if key in wanted[kind]:
                    continue
                label = f"{kind} {' '.join(key)!r}"
                report.missing.append(label)
                if delete_missing:
                    obj._change_reason = reason
                    obj.delete()
                    report.deleted.append(label)

    if report.changed:
        logger.info(
            "Reference data loaded: %s created, %s updated, %s deleted",
            sum(report.created.values()),
            sum(report.updated.values()),
            len(report.deleted),
        )
    return report
