"""Search the reference: scopes, endpoints, tasks, causes and key types.

Results come in two tiers. Exact matches (a scope name, a method and path or a
pasted URL, a task's slug or title, a cause code) are found in the snapshot
the same way on every database, so a name or a path always gives the same
first result; the scopes an exactly matched call needs follow it. Everything
else is ranked by text relevance: PostgreSQL's own full-text search when the
database is PostgreSQL (one query whatever the size of the data), otherwise a
small in-memory scorer over the snapshot that weighs the same fields alike.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from scopes.snapshot import Snapshot
from troubleshooter.paths import METHODS, match_endpoint, normalise_path

Kind = Literal["scope", "endpoint", "operation", "cause", "key_type"]
Match = Literal["exact", "needed", "text"]
Backend = Literal["postgresql", "memory"]

MAX_QUERY = 200
MAX_HITS = 30
MAX_TERMS = 12
# PostgreSQL's default weights for the labels A to D; the in-memory scorer
# uses the same so both rank a title above a note.
WEIGHTS = {"A": 1.0, "B": 0.4, "C": 0.2, "D": 0.1}
# Words that carry no meaning in a question about permissions. PostgreSQL
# drops English stop words itself; these are the domain's own filler.
STOP_WORDS = frozenset(
    """a an and are can do does for from get how i in is it me my need needs
    of on or the this to use what when where which who why with v1 scope not cannot
    scopes permission permissions call calling endpoint request""".split()
)
_SCOPE_TOKEN = re.compile(r"^(?:portkey\.)?([a-z_]+\.[a-z_]+)$")
_WORD = re.compile(r"[a-z0-9]+")
_TRIM = "\"'`,;:()[]<>?!"
# Characters that join words in names and paths (audit_logs.list,
# /v1/audit-logs): both backends split on them so the words are found.
SEPARATORS = "./{}_-"
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "es", "ed", "s", "e")


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result. ``key`` is the row's natural key; ``needed_by`` names
    the exactly matched call that needs this scope."""

    kind: Kind
    key: str
    item: Any
    match: Match
    score: float = 0.0
    needed_by: str = ""


@dataclass(frozen=True, slots=True)
class Results:
    query: str
    hits: tuple[Hit, ...]
    backend: Backend

    @property
    def exact(self) -> tuple[Hit, ...]:
        return tuple(hit for hit in self.hits if hit.match == "exact")


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    text: str
    method: str | None
    paths: tuple[str, ...]
    scope_names: tuple[str, ...]
    terms: tuple[str, ...]


# -- Reading the question ---------------------------------------------------


def parse_query(snapshot: Snapshot, raw: str) -> ParsedQuery:
    """Split a question into a method, pasted paths, known scope names and the
    words left for text search."""
    text = " ".join(raw.split())[:MAX_QUERY]
    tokens = [token.strip(_TRIM) for token in text.split(" ")]
    tokens = [token for token in tokens if token]

    paths = tuple(t for t in tokens if "/" in t and len(t) > 1)
    methods = [t.upper() for t in tokens if t.upper() in METHODS]
    method = methods[0] if methods and paths else None

    scope_names = []
    for token in tokens:
        found = _SCOPE_TOKEN.match(token.lower())
        if found and found.group(1) in snapshot.scopes:
            scope_names.append(found.group(1))

    words = []
    for token in tokens:
        if token.upper() in METHODS and paths:
            continue
        if token in paths:
            # A pasted URL's host and query say nothing about the call.
            token = normalise_path(token)
        words.extend(_WORD.findall(token.lower()))
    terms = tuple(
        dict.fromkeys(w for w in words if w not in STOP_WORDS and len(w) > 1)
    )[:MAX_TERMS]
    return ParsedQuery(text, method, paths, tuple(scope_names), terms)


def stem(word: str) -> str:
    """A light suffix strip, so "integrations" also finds "integration" and
    "rotate" finds "rotation" by prefix."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


# -- The exact tier ---------------------------------------------------------


def exact_hits(snapshot: Snapshot, parsed: ParsedQuery) -> list[Hit]:
    """Rows the question names outright, most literal first, then the scopes
    each exactly matched call needs."""
    hits: list[Hit] = []
    whole = parsed.text.lower().strip(_TRIM)

    def found(kind: Kind, key: str, item: Any) -> None:
        hits.append(Hit(kind, key, item, "exact", 1.0))

    if whole in snapshot.operations:
        found("operation", whole, snapshot.operations[whole])
    if whole in snapshot.causes:
        found("cause", whole, snapshot.causes[whole])
    if whole in snapshot.key_types:
        found("key_type", whole, snapshot.key_types[whole])
    for name in parsed.scope_names:
        found("scope", name, snapshot.scopes[name])
    for path in parsed.paths:
        for endpoint in _endpoints_for(snapshot, parsed.method, path):
            found("endpoint", endpoint.label, endpoint)
    for slug, operation in snapshot.operations.items():
        if whole and operation.summary.lower() == whole:
            found("operation", slug, operation)
    for endpoint in snapshot.endpoints:
        if whole and endpoint.summary.lower() == whole:
            found("endpoint", endpoint.label, endpoint)
    for code, cause in snapshot.causes.items():
        if whole and cause.title.lower() == whole:
            found("cause", code, cause)

    unique = list({(hit.kind, hit.key): hit for hit in reversed(hits)}.values())
    unique.reverse()
    return [*unique, *_needed_scopes(snapshot, unique)]


def _endpoints_for(snapshot: Snapshot, method: str | None, path: str) -> list:
    methods = [method] if method else list(METHODS)
    found = []
    for candidate in methods:
        endpoint = match_endpoint(snapshot, candidate, path).endpoint
        if endpoint is not None and endpoint not in found:
            found.append(endpoint)
    return found


def _needed_scopes(snapshot: Snapshot, exact: list[Hit]) -> list[Hit]:
    seen = {(hit.kind, hit.key) for hit in exact}
    needed = []
    for hit in exact:
        if hit.kind not in ("endpoint", "operation"):
            continue
        for alternative in hit.item.alternatives:
            for name in sorted(alternative):
                if ("scope", name) in seen or name not in snapshot.scopes:
                    continue
                seen.add(("scope", name))
                needed.append(
                    Hit(
                        "scope",
                        name,
                        snapshot.scopes[name],
                        "needed",
                        0.5,
                        needed_by=hit.item.label,
                    )
                )
    return needed


# -- The text tier: what each kind of row is searched on -------------------


def documents(snapshot: Snapshot) -> list[tuple[Kind, str, Any, tuple]]:
    """Every searchable row as (kind, key, item, ((label, text), ...)), with
    the same fields and labels the PostgreSQL vectors use."""
    docs: list[tuple[Kind, str, Any, tuple]] = []
    for name, scope in snapshot.scopes.items():
        fields = (
            ("A", name),
            ("B", scope.description),
            ("C", scope.group),
            ("C", scope.enabled_at),
        )
        docs.append(("scope", name, scope, fields))
    for endpoint in snapshot.endpoints:
        fields = (
            ("A", endpoint.path),
            ("A", endpoint.summary),
            ("B", endpoint.area),
            ("D", endpoint.notes),
        )
        docs.append(("endpoint", endpoint.label, endpoint, fields))
    for slug, operation in snapshot.operations.items():
        fields = (
            ("A", slug),
            ("A", operation.summary),
            ("B", operation.area),
            ("D", operation.notes),
        )
        docs.append(("operation", slug, operation, fields))
    for code, cause in snapshot.causes.items():
        fields = (
            ("A", code),
            ("A", cause.title),
            ("C", cause.explanation),
            ("D", cause.fix),
        )
        docs.append(("cause", code, cause, fields))
    for slug, key_type in snapshot.key_types.items():
        fields = (("A", slug), ("A", key_type.name), ("B", key_type.purpose))
        docs.append(("key_type", slug, key_type, fields))
    return docs


_index_lock = threading.Lock()
_index: tuple[Snapshot, list] | None = None


def _memory_index(snapshot: Snapshot) -> list:
    """The documents with their words split once per snapshot."""
    global _index

    cached = _index
    if cached is not None and cached[0] is snapshot:
        return cached[1]
    with _index_lock:
        index = []
        for kind, key, item, fields in documents(snapshot):
            split = tuple(
                (WEIGHTS[label], tuple(_WORD.findall(text.lower())))
                for label, text in fields
            )
            title_words = sum(len(words) for weight, words in split if weight == 1.0)
            index.append((kind, key, item, split, title_words))
        _index = (snapshot, index)
        return index


def memory_scores(snapshot: Snapshot, terms: Iterable[str]) -> dict:
    """Score every row by how many terms it matches, then by the weight of the
    best field holding each term (a word starting with the term's stem; a
    whole-word match counts a little more than a prefix)."""
    stems = [(term, stem(term)) for term in terms]
    if not stems:
        return {}

    scores = {}
    for kind, key, _, fields, title_words in _memory_index(snapshot):
        matched, weighted = 0, 0.0
        for term, root in stems:
            best = 0.0
            for weight, words in fields:
                if weight <= best:
                    continue
                if term in words:
                    best = weight
                elif any(word.startswith(root) for word in words):
                    best = max(best, weight * 0.8)
            matched += best > 0
            weighted += best
        if matched:
            # As on PostgreSQL: rows matching more of the words first, then
            # by the weight of the fields they matched in; among equals the
            # shortest title is the most focused answer.
            scores[(kind, key)] = matched + weighted / len(stems) - title_words / 1000
    return scores


# The searchable text of each table as (kind, key expression, weighted
# columns), the same fields and labels as ``documents``.
_TABLES = (
    (
        "scope",
        "name",
        (("A", "name"), ("B", "description"), ("C", '"group"'), ("C", "enabled_at")),
    ),
    (
        "endpoint",
        "method || ' ' || path",
        (("A", "path"), ("A", "summary"), ("B", "area"), ("D", "notes")),
    ),
    (
        "operation",
        "slug",
        (("A", "slug"), ("A", "summary"), ("B", "area"), ("D", "notes")),
    ),
    (
        "cause",
        "code",
        (("A", "code"), ("A", "title"), ("C", "explanation"), ("D", "fix")),
    ),
    ("key_type", "slug", (("A", "slug"), ("A", "name"), ("B", "purpose"))),
)


def _postgres_sql() -> str:
    """The full-text query. Only constants of this module and the models'
    table names are formatted into it; every value from the request is a
    bound parameter."""
    from scopes.models import Cause, Endpoint, KeyType, Operation, Scope

    models = {
        "scope": Scope,
        "endpoint": Endpoint,
        "operation": Operation,
        "cause": Cause,
        "key_type": KeyType,
    }
    selects = []
    for kind, key, columns in _TABLES:
        vector = " || ".join(
            f"setweight(to_tsvector('english', translate({column}, %(separators)s, "
            f"%(spaces)s)), '{label}')"
            for label, column in columns
        )
        table = models[kind]._meta.db_table
        selects.append(
            f"SELECT '{kind}'::text AS kind, ({key})::text AS key, {vector} AS doc "  # noqa: S608
            f'FROM "{table}"'
        )
    union = "\n    UNION ALL ".join(selects)
    # MATERIALIZED: each row's vector is built once, not once per use below.
    return f"""
WITH docs AS MATERIALIZED (
    {union}
), wanted AS (SELECT to_tsquery('english', %(query)s) AS query)
SELECT kind, key,
    (SELECT count(*) FROM unnest(%(terms)s::text[]) AS term
     WHERE doc @@ to_tsquery('english', term || ':*'))
    + ts_rank(doc, wanted.query) AS score
FROM docs, wanted
WHERE doc @@ wanted.query
ORDER BY score DESC, kind, key
LIMIT %(limit)s
"""  # noqa: S608


def postgres_scores(terms: Iterable[str], limit: int = MAX_HITS) -> dict:
    """Rank rows with PostgreSQL full-text search, in one query.

    Each term becomes a prefix lexeme (so a half-typed word still matches) and
    any term may match. Rows matching more of the terms come first, then
    ts_rank orders rows matching as many, favouring heavier fields. Terms are
    plain [a-z0-9] words, so the query is always valid tsquery syntax.
    """
    from django.db import connection

    words = [term for term in terms if _WORD.fullmatch(term)]
    if not words:
        return {}

    params = {
        "separators": SEPARATORS,
        "spaces": " " * len(SEPARATORS),
        "query": " | ".join(f"{word}:*" for word in words),
        "terms": words,
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(_postgres_sql(), params)
        rows = cursor.fetchall()
    return {(kind, key): float(score) for kind, key, score in rows}


# -- Putting the tiers together ---------------------------------------------

_KIND_ORDER = {"endpoint": 0, "operation": 1, "scope": 2, "cause": 3, "key_type": 4}


def lookup(snapshot: Snapshot, kind: str, key: str) -> Any:
    if kind == "scope":
        return snapshot.scopes.get(key)
    if kind == "endpoint":
        method, _, path = key.partition(" ")
        return snapshot.endpoint(method, path)
    if kind == "operation":
        return snapshot.operations.get(key)
    if kind == "cause":
        return snapshot.causes.get(key)
    if kind == "key_type":
        return snapshot.key_types.get(key)
    return None


def search(
    snapshot: Snapshot, raw: str, backend: Backend | None = None, limit: int = MAX_HITS
) -> Results:
    """Search the reference. ``backend`` defaults to the database's own:
    PostgreSQL full-text search there, the in-memory scorer elsewhere."""
    if backend is None:
        from django.db import connection

        backend = "postgresql" if connection.vendor == "postgresql" else "memory"

    parsed = parse_query(snapshot, raw)
    hits = exact_hits(snapshot, parsed)
    seen = {(hit.kind, hit.key) for hit in hits}

    if backend == "postgresql":
        scores = postgres_scores(parsed.terms, limit=limit)
    else:
        scores = memory_scores(snapshot, parsed.terms)
    ranked = sorted(
        scores.items(), key=lambda kv: (-kv[1], _KIND_ORDER[kv[0][0]], kv[0][1])
    )
    for (kind, key), score in ranked:
        if (kind, key) in seen:
            continue
        item = lookup(snapshot, kind, key)
        if item is not None:
            hits.append(Hit(kind, key, item, "text", score))
            seen.add((kind, key))
        if len(hits) >= limit:
            break
    return Results(parsed.text, tuple(hits[:limit]), backend)
