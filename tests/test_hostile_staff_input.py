"""Whatever staff type into the reference data is shown escaped everywhere.

Every text field of every reference model that its validators let through gets
a script tag, an attribute break-out and a javascript: URL; every URL field
gets a javascript: URL straight in the database (the admin's validator would
refuse it). Then every public page is walked: the reference, search, the key
simulator and builder, every wizard scenario to its fix page, short links, the
paste page and the API. No page may contain markup that runs the payload.
"""

from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.db import models

from scopes.models import REFERENCE_MODELS, Endpoint, Operation, RoleStatement
from scopes.services import current_snapshot
from scopes.signals import bump_data_version
from tests.fuzz import public_targets
from troubleshooter.keys import all_targets, target_ref

SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
JS_URL = "javascript:alert(1)"
URL_ATTRIBUTES = {
    "href",
    "src",
    "action",
    "formaction",
    "poster",
    "cite",
    "hx-get",
    "hx-post",
    "hx-put",
    "hx-patch",
    "hx-delete",
    "hx-push-url",
}
PUBLIC_PREFIXES = ("/diagnose/", "/fix/", "/f/", "/reference/", "/keys/", "/search/")
WALKS_PER_SCENARIO = 5
# Kept for staff to compare sources; pages show the role's summary instead.
STAFF_ONLY = {"scopes.RoleStatement.text"}
# Public URLs that only answer 200 with parameters; walked with them below.
NEED_PARAMETERS = {"/f/<code>/", "/api/v1/check", "/api/v1/<unknown>"}
# A pasted call the reader recognises, so its result names an endpoint, a
# scenario and an error code: all staff text.
PASTE = (
    "curl https://api.portkey.ai/v1/chat/completions -X POST\n"
    '{"error": {"message": "You do not have enough permissions", '
    '"errorCode": "AB03"}, "status": 403}'
)


def payload(marker: str) -> str:
    # The marker says which field a text came from; the whole fits in the
    # shortest poisoned field (80 characters).
    return f"{marker}{SCRIPT}{BREAKOUT}{JS_URL}"


def poisonable_fields(model) -> list[models.Field]:
    return [
        field
        for field in model._meta.concrete_fields
        if isinstance(field, (models.CharField, models.TextField))
        and not isinstance(field, models.URLField)
        and not field.choices
    ]


def accepts(field: models.Field, value: str) -> bool:
    try:
        field.run_validators(value)
    except ValidationError:
        return False
    return field.max_length is None or len(value) <= field.max_length


def poison_reference_data() -> dict[str, str]:
    """Write the payload into every text field staff can fill; return the
    marker of each field, e.g. {"F07": "scopes.Scope.description"}."""
    markers = {}
    for model in REFERENCE_MODELS:
        for field in poisonable_fields(model):
            marker = f"F{len(markers):02d}"
            if not accepts(field, payload(marker)):
                continue
            markers[marker] = f"{model._meta.label}.{field.name}"
            model.objects.update(**{field.name: payload(marker)})

    for model in (Endpoint, Operation, RoleStatement):
        model.objects.update(source_url=JS_URL)
    # Bulk updates send no signals; move the version so every cache refreshes.
    bump_data_version()
    return markers


class PageReader(HTMLParser):
    """Collects what a page would run or follow: links, GET forms, and any
    markup a payload could have smuggled in."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[dict] = []
        self.dangers: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.dangers.append(f"<{tag} {name}=...>")
            if name in URL_ATTRIBUTES and (value or "").strip().lower().startswith(
                ("javascript:", "vbscript:", "data:text")
            ):
                self.dangers.append(f'<{tag} {name}="{value}">')
        if tag == "script" and not attributes.get("src"):
            self.dangers.append("an inline <script>")
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])
        if tag == "form" and attributes.get("method", "get").lower() == "get":
            self.forms.append({"action": attributes.get("action", ""), "fields": []})
        elif tag == "form":
            self.forms.append({"action": None, "fields": []})
        if tag in ("input", "option") and self.forms:
            self.forms[-1]["fields"].append((tag, attributes))
        if tag == "select" and self.forms:
            self.forms[-1]["fields"].append(("select", attributes))


def read_page(html: str) -> PageReader:
    reader = PageReader()
    reader.feed(html)
    return reader


def form_submissions(form: dict, walk: int) -> dict[str, list[str]]:
    """The values a person could send with a GET form: hidden fields as they
    are, the walk-th choice of every radio group and select, and every
    checkbox on even walks."""
    values: dict[str, list[str]] = {}
    choices: dict[str, list[str]] = {}
    select = None
    for tag, attributes in form["fields"]:
        name, kind = attributes.get("name"), attributes.get("type", "text")
        if tag == "select":
            select = name
        elif tag == "option" and select:
            choices.setdefault(select, []).append(attributes.get("value", ""))
        elif kind == "hidden" and name:
            values.setdefault(name, []).append(attributes.get("value", ""))
        elif kind == "radio" and name:
            choices.setdefault(name, []).append(attributes.get("value", ""))
        elif kind == "checkbox" and name and walk % 2 == 0:
            values.setdefault(name, []).append(attributes.get("value", ""))
    for name, options in choices.items():
        values[name] = [options[walk % len(options)]]
    return values


class Walker:
    """Fetches public pages once each and records every danger found."""

    def __init__(self, client) -> None:
        self.client = client
        self.seen: set[str] = set()
        self.pages: dict[str, str] = {}
        self.dangers: list[str] = []

    def get(self, url: str, status: int = 200) -> PageReader | None:
        if url in self.seen:
            return read_page(self.pages[url]) if url in self.pages else None
        self.seen.add(url)
        response = self.client.get(url)
        for _ in range(5):
            if response.status_code not in (301, 302):
                break
            # Followed by hand: the page cache keeps a redirect's Location
            # header, not the test client's extra attributes.
            url = urljoin(url, response["Location"])
            self.seen.add(url)
            response = self.client.get(url)
        assert response.status_code == status, (url, response.status_code)
        return self.judge(url, response)

    def judge(self, url: str, response) -> PageReader | None:
        content_type = response["Content-Type"]
        body = response.content.decode()
        if content_type.startswith("application/json"):
            # JSON is data, not markup: nosniff stops browsers reading it as HTML.
            assert response["X-Content-Type-Options"] == "nosniff"
            return None
        assert content_type.startswith("text/html"), (url, content_type)
        self.pages[url] = body
        reader = read_page(body)
        for danger in dict.fromkeys(reader.dangers):
            self.dangers.append(f"{url}: {danger}")
        for raw in (SCRIPT, BREAKOUT.removeprefix('"')):
            if raw in body:
                self.dangers.append(f"{url}: unescaped {raw!r}")
        return reader

    def walk_wizard(self, start: str, walk: int, depth: int = 12) -> None:
        url = start
        for _ in range(depth):
            reader = self.get(url)
            if reader is None:
                return
            # The wizard's own form, not the site search in the header.
            forms = [
                f
                for f in reader.forms
                if (f["action"] or "").startswith(("/diagnose/", "/fix/"))
            ]
            if not forms:
                return
            form = forms[0]
            query = urlencode(form_submissions(form, walk), doseq=True)
            url = urljoin(url, form["action"]) + "?" + query
            if urlsplit(url).path == "/fix/":
                self.get(url)
                return


@pytest.fixture
def poisoned(reference):
    markers = poison_reference_data()
    return current_snapshot(), markers


def test_the_payload_reaches_every_text_field_its_validators_allow(poisoned):
    snapshot, markers = poisoned

    poisoned_fields = set(markers.values())
    assert {
        "scopes.KeyType.purpose",
        "scopes.Scope.description",
        "scopes.Endpoint.summary",
        "scopes.Operation.notes",
        "scopes.Cause.fix",
        "scopes.Scenario.title",
        "scopes.RoleStatement.text",
        "scopes.ErrorCode.meaning",
    } <= poisoned_fields
    # Names used in URLs are guarded by their validators instead.
    assert "scopes.Scope.name" not in poisoned_fields
    assert "scopes.Endpoint.path" not in poisoned_fields
    scope = next(iter(snapshot.scopes.values()))
    assert SCRIPT in scope.description
    assert all(e.source_url == JS_URL for e in snapshot.endpoints)


def test_no_public_page_shows_staff_input_as_markup(client, poisoned):
    snapshot, markers = poisoned
    walker = Walker(client)

    for target in public_targets(snapshot, "none"):
        if "GET" in target.methods and target.label not in NEED_PARAMETERS:
            walker.get(target.path)
    walker.get("/api/v1/check?method=POST&path=/v1/chat/completions&key_type=admin")
    for word in ("script", "alert", "img", "javascript", "completions"):
        walker.get(f"/search/?q={word}")
    for key_type in snapshot.key_types:
        scopes = ",".join(sorted(snapshot.scopes_for(key_type)))
        walker.get(f"/keys/simulator/?key_type={key_type}&scopes={scopes}")
        walker.get(f"/keys/simulator/?key_type={key_type}&show=denied")
        walker.get(f"/reference/endpoints/?key_type={key_type}")
    refs = [target_ref(t) for t in all_targets(snapshot)]
    for start in range(0, len(refs), 40):
        walker.get(
            "/keys/builder/?"
            + urlencode({"want": refs[start : start + 40]}, doseq=True)
        )
    for scenario in snapshot.scenarios:
        for walk in range(WALKS_PER_SCENARIO):
            walker.walk_wizard(f"/diagnose/{scenario}/", walk)
    walker.get("/start/?method=GET&path=/v1/chat/completion", status=404)
    short = client.post("/f/", {"scenario": "logs", "target": "unknown"})
    walker.get(short["Location"])
    walker.judge("/paste/", client.post("/paste/", {"text": PASTE}))

    assert not walker.dangers, "\n".join(walker.dangers[:20])
    shown = "\n".join(walker.pages.values())
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    unseen = {
        m: field
        for m, field in markers.items()
        if m not in shown and field not in STAFF_ONLY
    }
    assert not unseen, f"fields never shown on a walked page: {unseen}"
    assert len([u for u in walker.pages if u.startswith("/fix/")]) >= len(
        snapshot.scenarios
    )
    assert any(urlsplit(u).path.startswith(PUBLIC_PREFIXES) for u in walker.pages)


def test_a_javascript_source_is_shown_as_text_never_as_a_link(client, poisoned):
    snapshot, _ = poisoned
    endpoint = next(e for e in snapshot.endpoints if e.provenance == "documented")

    html = client.get(
        f"/reference/endpoints/{endpoint.method}{endpoint.path}/"
    ).content.decode()

    assert 'href="javascript:' not in html.lower()
    assert "Documented" in html
