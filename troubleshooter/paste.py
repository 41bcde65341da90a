"""Read what a person pasted (an error body, a curl command, raw HTTP, response
headers, SDK error output) into facts the wizard can use.

Pure: text in, frozen dataclasses out; no request, no database, no logging.
The input is capped at ``MAX_PASTE_BYTES`` and every scan below is linear in
it (bounded quantifiers, no nested repetition, capped loops), so a hostile
paste costs bounded time. Nothing from the paste leaves this module unless it
went through ``mask_secrets`` or comes from a fixed vocabulary (methods, header
names, error codes, endpoint templates).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from urllib.parse import unquote, urlsplit

from scopes.snapshot import EndpointInfo, ErrorCodeInfo, Snapshot
from troubleshooter.masking import MASK, Masked, mask_secrets
from troubleshooter.paths import METHODS, match_endpoint, normalise_path
from troubleshooter.state import Answers
from troubleshooter.wizard import MODELS_ENDPOINT, scenario_targets

MAX_PASTE_BYTES = 1_000_000

# What a reading can end in. Only READ and NOTHING_FOUND come with facts.
READ = "read"
NOTHING_FOUND = "nothing_found"
EMPTY = "empty"
TOO_LARGE = "too_large"
NOT_TEXT = "not_text"

LOOKED_FOR = (
    "a Portkey error body with an errorCode such as AB03",
    "a curl command or an HTTP request line (method and URL)",
    "response headers such as x-portkey-trace-id",
    "Python or JavaScript SDK error output with a status code",
    "an HTML error page or a model provider's error",
)

# Scenario slugs tried in order for a matched endpoint: the first whose list
# offers the endpoint wins, so POST /v1/logs opens the logs questions.
SCENARIO_ORDER = ("logs", "mcp", "completions", "admin_api")
FALLBACK_SCENARIO = "something_else"

# SDK method chains (Python snake_case and JavaScript camelCase) and the
# endpoint each one calls, for SDK output that names the call but not the URL.
SDK_CALLS: dict[str, tuple[str, str]] = {
    "chat.completions.create": ("POST", "/v1/chat/completions"),
    "prompts.completions.create": ("POST", "/v1/prompts/{prompt_id}/completions"),
    "prompts.render": ("POST", "/v1/prompts/{prompt_id}/render"),
    "completions.create": ("POST", "/v1/completions"),
    "embeddings.create": ("POST", "/v1/embeddings"),
    "images.generate": ("POST", "/v1/images/generations"),
    "images.edit": ("POST", "/v1/images/edits"),
    "audio.speech.create": ("POST", "/v1/audio/speech"),
    "audio.transcriptions.create": ("POST", "/v1/audio/transcriptions"),
    "audio.translations.create": ("POST", "/v1/audio/translations"),
    "moderations.create": ("POST", "/v1/moderations"),
    "models.list": ("GET", "/v1/models"),
    "files.create": ("POST", "/v1/files"),
    "files.list": ("GET", "/v1/files"),
    "files.retrieve": ("GET", "/v1/files/{file_id}"),
    "files.delete": ("DELETE", "/v1/files/{file_id}"),
    "files.content": ("GET", "/v1/files/{file_id}/content"),
    "batches.create": ("POST", "/v1/batches"),
    "batches.list": ("GET", "/v1/batches"),
    "batches.retrieve": ("GET", "/v1/batches/{batch_id}"),
    "batches.cancel": ("POST", "/v1/batches/{batch_id}/cancel"),
    "fine_tuning.jobs.create": ("POST", "/v1/fine_tuning/jobs"),
    "fine_tuning.jobs.list": ("GET", "/v1/fine_tuning/jobs"),
    "fine_tuning.jobs.retrieve": ("GET", "/v1/fine_tuning/jobs/{job_id}"),
    "fine_tuning.jobs.cancel": ("POST", "/v1/fine_tuning/jobs/{job_id}/cancel"),
    "fineTuning.jobs.create": ("POST", "/v1/fine_tuning/jobs"),
    "fineTuning.jobs.list": ("GET", "/v1/fine_tuning/jobs"),
    "fineTuning.jobs.retrieve": ("GET", "/v1/fine_tuning/jobs/{job_id}"),
    "fineTuning.jobs.cancel": ("POST", "/v1/fine_tuning/jobs/{job_id}/cancel"),
    "responses.create": ("POST", "/v1/responses"),
    "responses.retrieve": ("GET", "/v1/responses/{response_id}"),
    "responses.delete": ("DELETE", "/v1/responses/{response_id}"),
    "messages.create": ("POST", "/v1/messages"),
    "feedback.create": ("POST", "/v1/feedback"),
}

# Something in front of the gateway answered when an HTML page comes back;
# these words in the page or its headers name who.
HTML_SOURCES = (
    ("cloudflare", "Cloudflare"),
    ("cf-ray", "Cloudflare"),
    ("cloudfront", "Amazon CloudFront"),
    ("awselb", "an AWS load balancer"),
    ("akamai", "Akamai"),
    ("zscaler", "Zscaler"),
    ("fastly", "Fastly"),
    ("nginx", "nginx"),
    ("envoy", "Envoy"),
)

_MAX_LINES = 20_000
_MAX_LINE = 8_192
_MAX_COMMAND = 262_144
_MAX_WORDS = 4_000
_MAX_CURLS = 5
_MAX_OBJECTS = 20
_OBJECT_WINDOW = 32_768
_REQUEST_BODY = 65_536
_BODY_SHOWN = 8_000
_MASK_MARGIN = 2_048
_MESSAGE_SHOWN = 500
_JUNK_SAMPLE = 65_536

# -- Patterns. Every quantifier is bounded or follows a literal, so none can
# backtrack more than a constant per position.
_CURL = re.compile(r"(?<![\w./-])curl(?:\.exe)?(?=[ \t])", re.IGNORECASE)
_CONTINUATION = re.compile(r"[\\^`][ \t]{0,64}\n")
_PLAIN = re.compile(r"[^'\"\\\s^`;|&]+")
_DOUBLE_QUOTED = re.compile(r'[^"\\]+')
_ERROR_CODE = re.compile(
    r"(?i:[\"']?error_?code[\"']?)[ \t]{0,8}[:=][ \t]{0,8}[\"']?(AB\d{2})\b"
)
_CODE_FIELD = re.compile(
    r"(?i:[\"']?code[\"']?)[ \t]{0,8}[:=][ \t]{0,8}[\"'](AB\d{2})[\"']"
)
_BARE_CODE = re.compile(r"(?<![\w-])AB\d{2}(?![\w-])")
_MESSAGE = re.compile(
    r"(?i:[\"']?message[\"']?)[ \t]{0,8}[:=][ \t]{0,8}"
    r"(?:\"((?:[^\"\\\n]|\\.){0,600})\"|'((?:[^'\\\n]|\\.){0,600})')"
)
_TRACE_ID = re.compile(
    r"(?i:x-portkey-trace-id)[\"']?"
    r"(?:[ \t]{0,8}[:=,][ \t]{0,8}|[ \t]{0,8}\n[ \t]{0,8})[\"']?"
    r"([A-Za-z0-9][A-Za-z0-9._:-]{0,127})"
)
_STATUS_PATTERNS = (
    re.compile(r"Error code:[ \t]{0,4}(\d{3})\b"),
    re.compile(r"(?m)^[ \t]{0,40}[A-Za-z_.]{0,80}Error:[ \t]{1,4}(\d{3})\b"),
    re.compile(r"\b(\d{3}) (?:Client|Server) Error\b"),
    re.compile(r"(?:Client|Server) error '(\d{3})\b"),
    re.compile(
        r"(?i:[\"']?(?:status|status_?code|http_?status)[\"']?)"
        r"[ \t]{0,4}[:=][ \t]{0,4}(\d{3})\b"
    ),
    re.compile(r"(?i:status code)[ \t]{0,4}:?[ \t]{0,4}(\d{3})\b"),
    re.compile(
        r"\b(4\d\d|5\d\d) (?:Forbidden|Unauthorized|Not Found|Bad Request|"
        r"Too Many Requests|Conflict|Payment Required|Internal Server Error)\b"
    ),
)
_REQUEST_LINE = re.compile(
    r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)[ \t]{1,8}(\S{1,4096})"
    r"(?:[ \t]{1,8}HTTP/[\d.]{1,3})?$"
)
_STATUS_LINE = re.compile(r"^HTTP/[\d.]{1,3}[ \t]{1,8}(\d{3})\b")
_HEADER_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]{0,63})[ \t]{0,8}:[ \t]{0,8}(.*)$")
_DEVTOOLS_LABEL = re.compile(
    r"^(Request URL|Request Method|Status Code):?[ \t]{0,8}(.*)$"
)
_SDK_URL = re.compile(r"for url:?[ \t]{0,4}'?([^\s']{1,2048})")
_PYTHON_SDK = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"\n]{1,500}\", line \d{1,7}"
    r"|Error code: \d{3} - |\b(?:requests\.exceptions|httpx)\.\w{1,40}Error\b"
)
_JS_SDK = re.compile(r"(?m)^[ \t]{1,20}at [^\n]{0,500}:\d{1,7}:\d{1,7}|node_modules/")
_SDK_CALL = re.compile(
    r"(?<![\w])("
    + "|".join(re.escape(name) for name in sorted(SDK_CALLS, key=len, reverse=True))
    + r")[ \t]{0,4}\("
)
_OBJECT_START = re.compile(
    r"\{[ \t\n]{0,16}[\"']?[A-Za-z_][\w-]{0,63}[\"']?[ \t]{0,8}:"
)
_OBJECT_TOKEN = re.compile(
    r"\"(?:[^\"\\\n]|\\.){0,4096}\"|'(?:[^'\\\n]|\\.){0,4096}'|[{}]"
)
_PROVIDER_ERROR = re.compile(r"(?i:[\"']?error[\"']?)[ \t]{0,8}:[ \t\n]{0,16}\{")
_GATEWAY_FAILURE = re.compile(
    r"(?i:[\"']?status[\"']?)[ \t]{0,8}:[ \t]{0,8}[\"']failure[\"']"
)
_PROVIDER_NAME = re.compile(
    r"(?i:[\"']?provider[\"']?)[ \t]{0,8}:[ \t]{0,8}[\"']([A-Za-z0-9][\w .-]{0,39})[\"']"
)
_PROVIDER_PREFIX = re.compile(r"^([A-Za-z0-9][\w.-]{0,30}) error:")
_HTML = re.compile(r"<!doctype html|<html[\s>]|<body[\s>]|<head[\s>]|<title[\s>]", re.I)
_TITLE = re.compile(r"<title[^>]{0,200}>([^<]{0,300})</title>", re.IGNORECASE)
_HTML_SOURCE = re.compile(
    "|".join(re.escape(word) for word, _ in HTML_SOURCES), re.IGNORECASE
)
_WORKSPACE_ID = re.compile(
    r"(?<![\w-])[\"']?workspace_id[\"']?[ \t]{0,8}[:=][ \t]{0,8}[\"']?"
    r"([A-Za-z0-9][A-Za-z0-9_.-]{0,127})"
)
_HEADER_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")
_JWT = re.compile(r"^eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]{0,}$")

# curl options that carry the request body, and the other options that take a
# value (skipped so the value is not mistaken for the URL).
_CURL_DATA = frozenset(
    "-d --data --data-raw --data-binary --data-ascii --data-urlencode --json "
    "-F --form --form-string".split()
)
_CURL_WITH_VALUE = frozenset(
    "-o --output -A --user-agent -e --referer -b --cookie -c --cookie-jar -m "
    "--max-time --connect-timeout -w --write-out -x --proxy -U --proxy-user -T "
    "--upload-file --cacert --capath --cert -E --key --retry --resolve "
    "--connect-to -r --range -K --config --limit-rate --max-filesize --interface "
    "--aws-sigv4".split()
)


@dataclass(frozen=True, slots=True)
class Reading:
    """The facts found in a paste, every value already masked.

    ``workspace_id_sent`` is ``None`` when the request's query and body were
    not both visible, so its absence proves nothing.
    """

    outcome: str
    found: tuple[str, ...] = ()
    error_code: str | None = None
    http_status: int | None = None
    message: str | None = None
    method: str | None = None
    path: str | None = None
    method_from: str | None = None
    workspace_id_sent: bool | None = None
    workspace_id: str | None = None
    key_header: str | None = None
    headers_sent: tuple[str, ...] = ()
    trace_id: str | None = None
    body_kind: str | None = None
    provider: str | None = None
    html_source: str | None = None
    html_title: str | None = None
    server: str | None = None
    masked_body: str | None = None
    request_seen: bool = False
    masked_count: int = 0
    notes: tuple[str, ...] = ()
    size: int = 0


@dataclass(slots=True)
class _Draft:
    """The mutable notebook the readers write into; frozen into a Reading."""

    found: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    headers: set[str] = field(default_factory=set)
    error_code: str | None = None
    http_status: int | None = None
    message: str | None = None
    method: str | None = None
    path: str | None = None
    method_from: str | None = None
    query: str | None = None
    request_body: str | None = None
    body_visible: bool = False
    workspace_id_sent: bool | None = None
    workspace_id: str | None = None
    key_header: str | None = None
    trace_id: str | None = None
    body_kind: str | None = None
    provider: str | None = None
    html_source: str | None = None
    html_title: str | None = None
    server: str | None = None
    masked_body: str | None = None
    request_seen: bool = False
    masked_count: int = 0

    def saw(self, label: str) -> None:
        if label not in self.found:
            self.found.append(label)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def masked(self, text: str) -> str:
        result = mask_lines(text)
        self.masked_count += result.count
        return result.text


def mask_lines(text: str) -> Masked:
    """``mask_secrets`` one line at a time. On a whole text, a credential name
    with an empty value takes the next line's first word as its value, and the
    real secret on that line stays unmasked."""
    results = [mask_secrets(line) for line in text.split("\n")]
    return Masked(
        text="\n".join(result.text for result in results),
        count=sum(result.count for result in results),
    )


def read_paste(text: str) -> Reading:
    """Read a paste. Never raises; refuses empty, over-size and binary input
    with an outcome the caller turns into a clear message."""
    size = len(text.encode("utf-8", "replace"))
    if not text.strip():
        return Reading(outcome=EMPTY, size=size)
    if size > MAX_PASTE_BYTES:
        return Reading(outcome=TOO_LARGE, size=size)
    if looks_binary(text):
        return Reading(outcome=NOT_TEXT, size=size)

    # Lone surrogates (possible from JSON) cannot be encoded later on.
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    draft = _Draft()

    _read_curl(text, draft)
    _read_lines(text, draft)
    _read_sdk(text, draft)
    _read_bodies(text, draft)
    _read_trace_id(text, draft)
    _read_status(text, draft)
    _settle_workspace_id(draft)
    return _freeze(draft, size)


def looks_binary(text: str) -> bool:
    """True for NUL bytes or a sample that is more than a tenth control
    characters or decoding replacements: not something a person copied."""
    sample = text[:_JUNK_SAMPLE]
    if "\x00" in sample:
        return True
    junk = len(_CONTROL.findall(sample))
    return junk * 10 > len(sample)


def _freeze(draft: _Draft, size: int) -> Reading:
    anything = (
        draft.error_code
        or draft.http_status
        or draft.path
        or draft.trace_id
        or draft.body_kind
        or draft.key_header
    )
    if draft.masked_count:
        many = draft.masked_count != 1
        draft.note(
            f"{draft.masked_count} value{'s' if many else ''} that looked like a "
            f"key or token {'were' if many else 'was'} masked before anything "
            "was shown."
        )
    values = {
        name.name: getattr(draft, name.name)
        for name in fields(Reading)
        if hasattr(draft, name.name)
    }
    values.update(
        outcome=READ if anything else NOTHING_FOUND,
        found=tuple(draft.found),
        notes=tuple(draft.notes),
        headers_sent=tuple(sorted(draft.headers)),
        size=size,
    )
    return Reading(**values)


# -- curl commands ----------------------------------------------------------


def _read_curl(text: str, draft: _Draft) -> None:
    for count, match in enumerate(_CURL.finditer(text)):
        if count >= _MAX_CURLS:
            return
        words = shell_words(text, match.end())
        if _apply_curl(words, draft):
            draft.saw("a curl command")
            return


def shell_words(text: str, start: int = 0) -> list[str]:
    """Split one shell command into words as a POSIX shell would, stopping at
    the first unquoted line end or pipe. Line continuations of sh, cmd.exe
    (``^``) and PowerShell (`` ` ``) join lines; an unclosed quote runs to the
    end. Linear: plain runs and quoted strings are consumed by the regex
    engine, one step per word boundary or escape here."""
    end = min(len(text), start + _MAX_COMMAND)
    source = _CONTINUATION.sub(" ", text[start:end])
    words: list[str] = []
    current: list[str] = []
    started = False
    i, n = 0, len(source)

    def flush() -> None:
        nonlocal started
        if started:
            words.append("".join(current))
        current.clear()
        started = False

    while i < n and len(words) < _MAX_WORDS:
        char = source[i]
        if char in " \t":
            flush()
            i += 1
        elif char == "\n" or char in ";|&":
            break
        elif char == "'":
            close = source.find("'", i + 1)
            close = n if close == -1 else close
            current.append(source[i + 1 : close])
            started = True
            i = close + 1
        elif char == '"':
            i = _double_quoted(source, i + 1, current)
            started = True
        elif char == "\\":
            if i + 1 < n:
                current.append(source[i + 1])
                started = True
            i += 2
        else:
            run = _PLAIN.match(source, i)
            if run is None:
                # A lone ^ or ` that is not a continuation is an ordinary char.
                current.append(char)
                i += 1
            else:
                current.append(run.group())
                i = run.end()
            started = True
    flush()
    return words


def _double_quoted(source: str, i: int, current: list[str]) -> int:
    n = len(source)
    while i < n:
        run = _DOUBLE_QUOTED.match(source, i)
        if run is not None:
            current.append(run.group())
            i = run.end()
            continue
        char = source[i]
        if char == '"':
            return i + 1
        # A backslash: it escapes only these characters inside double quotes.
        if i + 1 < n and source[i + 1] in '"\\$`':
            current.append(source[i + 1])
        else:
            current.append(char)
            if i + 1 < n:
                current.append(source[i + 1])
        i += 2
    return n


@dataclass(slots=True)
class _Curl:
    """What one curl command asks for, gathered option by option."""

    method: str | None = None
    url: str | None = None
    data: list[str] = field(default_factory=list)
    as_query: bool = False
    head: bool = False


def _apply_curl(words: list[str], draft: _Draft) -> bool:
    curl = _Curl()
    i = 0
    while i < len(words):
        value = words[i + 1] if i + 1 < len(words) else ""
        i += _curl_option(words[i], value, curl, draft)

    if curl.url is None:
        return False
    path, query = _url_parts(curl.url)
    if path is None:
        return False

    data = curl.data
    if curl.method:
        method = curl.method.strip().upper()[:10]
    elif curl.head:
        method = "HEAD"
    else:
        method = "POST" if data and not curl.as_query else "GET"
    if curl.as_query and data:
        # -G sends the data in the query string instead of the body.
        query = "&".join(filter(None, [query or "", *data]))
        data = []

    _set_request(draft, method, path, query, "the curl command")
    draft.request_body = "\n".join(data)[:_REQUEST_BODY]
    draft.body_visible = not any(part.startswith("@") for part in data)
    return True


def _curl_option(word: str, value: str, curl: _Curl, draft: _Draft) -> int:
    """Apply one word of a curl command; return how many words it used."""
    if word in ("-X", "--request"):
        curl.method = value
    elif word in ("-H", "--header"):
        _curl_header(value, draft)
    elif word in _CURL_DATA:
        curl.data.append(value)
    elif word in ("-u", "--user"):
        draft.key_header = draft.key_header or "basic auth (curl -u)"
    elif word == "--oauth2-bearer":
        draft.key_header = draft.key_header or "Authorization: Bearer"
        draft.headers.add("authorization")
    elif word == "--url":
        curl.url = value
    elif word not in _CURL_WITH_VALUE:
        _curl_flag(word, curl, draft)
        return 1
    return 2


def _curl_flag(word: str, curl: _Curl, draft: _Draft) -> None:
    """A word that takes no value: a flag, a glued option (-XPOST, -H'...')
    or the URL."""
    if word.startswith("-X") and len(word) > 2:
        curl.method = word[2:]
    elif word.startswith("-H") and len(word) > 2:
        _curl_header(word[2:], draft)
    elif word.startswith("-d") and len(word) > 2:
        curl.data.append(word[2:])
    elif word in ("-G", "--get"):
        curl.as_query = True
    elif word in ("-I", "--head"):
        curl.head = True
    elif not word.startswith("-") and curl.url is None and _looks_like_url(word):
        curl.url = word


def _looks_like_url(word: str) -> bool:
    return "://" in word or word.startswith(("/", "$")) or "/v1" in word


def _curl_header(header: str, draft: _Draft) -> None:
    name, _, value = header.partition(":")
    _note_request_header(name.strip().lower(), value.strip(), draft)


BOTH_KEY_HEADERS = (
    "An Authorization header was sent as well; next to x-portkey-api-key it "
    "usually carries the model provider's key."
)


def _note_request_header(name: str, value: str, draft: _Draft) -> None:
    if not _HEADER_NAME.match(name):
        return
    if name.startswith("x-portkey-") or name == "authorization":
        draft.headers.add(name)
    if name == "x-portkey-api-key":
        if draft.key_header not in (None, "x-portkey-api-key"):
            draft.note(BOTH_KEY_HEADERS)
        draft.key_header = "x-portkey-api-key"
    elif name == "authorization":
        scheme = value.split(" ", 1)[0].lower()
        label = {
            "bearer": "Authorization: Bearer",
            "basic": "Authorization: Basic",
        }.get(scheme, "Authorization")
        if draft.key_header == "x-portkey-api-key":
            draft.note(BOTH_KEY_HEADERS)
        else:
            draft.key_header = label
        token = value.split(" ", 1)[-1].strip()
        if _JWT.match(token):
            draft.note(
                "The Authorization header carries a JWT, so the scopes come "
                "from the token's claims rather than from an API key."
            )
    elif name == "x-portkey-virtual-key":
        draft.note(
            "A virtual key was sent too; its provider credentials are separate "
            "from the Portkey key's scopes."
        )


def _url_parts(url: str) -> tuple[str | None, str | None]:
    """The path and query of a URL as typed: absolute, host-first, a bare path,
    or a shell variable for the base URL such as ``$PORTKEY_BASE_URL/chat``."""
    text = url.strip().strip("'\"")[:4096]
    if "://" in text:
        try:
            parts = urlsplit(text)
        except ValueError:
            return None, None
        path, query = parts.path, parts.query
    else:
        if text.startswith("$"):
            text = text[text.find("/") :] if "/" in text else ""
        elif not text.startswith("/"):
            text = text[text.find("/") :] if "/" in text else ""
        path, _, query = text.partition("?")
        query = query.split("#", 1)[0]
    if not path.strip("/"):
        return None, None
    return path, query


def _set_request(
    draft: _Draft, method: str, path: str, query: str | None, source: str
) -> bool:
    """Record the call; the first source to name one wins, as the most
    explicit sources (curl, the request line) are read first."""
    if draft.path is not None:
        return False
    draft.method = method if method in (*METHODS, "HEAD", "OPTIONS") else None
    # Segment by segment: a whole path is long enough to look like a key.
    draft.path = "/".join(
        draft.masked(part) for part in normalise_path(path).split("/")
    )
    draft.method_from = source
    draft.query = (query or "")[:_REQUEST_BODY]
    draft.request_seen = True
    return True


# -- Raw HTTP, header dumps and browser developer tools ------------------------


def _read_lines(text: str, draft: _Draft) -> None:
    request_method: str | None = None
    request_target: str | None = None
    phase = "start"
    body: list[str] = []
    body_size = 0
    pending_label: str | None = None
    devtools: dict[str, str] = {}
    saw_response_header = False

    for raw in text.split("\n", _MAX_LINES)[:_MAX_LINES]:
        line = raw[:_MAX_LINE].strip()
        if line.startswith(("> ", "< ")):
            phase = "request_headers" if line[0] == ">" else phase
            line = line[2:].strip()
        elif line.startswith("* "):
            continue

        if pending_label and line:
            devtools.setdefault(pending_label, line)
            pending_label = None
            continue
        labelled = _DEVTOOLS_LABEL.match(line)
        if labelled:
            if labelled.group(2):
                devtools.setdefault(labelled.group(1), labelled.group(2).strip())
            else:
                pending_label = labelled.group(1)
            continue

        request = _REQUEST_LINE.match(line)
        if request and request_target is None:
            request_method, request_target = request.group(1), request.group(2)
            phase = "request_headers"
            continue
        status = _STATUS_LINE.match(line)
        if status:
            draft.http_status = draft.http_status or _status(status.group(1))
            phase = "response_headers"
            draft.saw("an HTTP status line")
            continue

        if phase == "request_body":
            if body_size < _REQUEST_BODY:
                body.append(line)
                body_size += len(line) + 1
            continue
        if not line:
            if phase == "request_headers":
                phase = "request_body"
            continue

        header = _HEADER_LINE.match(line)
        if header:
            saw_response_header |= _read_header_line(
                header.group(1).lower(), header.group(2), phase, draft
            )

    if saw_response_header:
        draft.saw("response headers")
    if request_target is not None and request_method is not None:
        path, query = _url_parts(request_target)
        if path is not None:
            _set_request(draft, request_method, path, query, "the HTTP request line")
            draft.saw("an HTTP request line")
            if draft.method_from == "the HTTP request line":
                draft.request_body = "\n".join(body)
                draft.body_visible = bool(body) or request_method in (
                    "GET",
                    "DELETE",
                    "HEAD",
                )
    _read_devtools(devtools, draft)


def _read_header_line(name: str, value: str, phase: str, draft: _Draft) -> bool:
    """Note one ``Name: value`` line; True when it is a response header."""
    if name in ("x-portkey-api-key", "authorization", "x-portkey-virtual-key"):
        _note_request_header(name, value.strip(), draft)
        return False
    if name == "server":
        draft.server = draft.server or draft.masked(value.strip()[:80])
        return True
    if name in ("x-portkey-trace-id", "cf-ray", "content-type"):
        if name == "content-type" and phase == "request_headers":
            return False
        return True
    return name.startswith("x-portkey-") and phase != "request_headers"


def _read_devtools(devtools: dict[str, str], draft: _Draft) -> None:
    """Chrome and Firefox copy a request's summary as labelled lines."""
    if not devtools:
        return
    draft.saw("a request summary from the browser's developer tools")
    status = devtools.get("Status Code", "")
    if status[:3].isdigit():
        draft.http_status = draft.http_status or _status(status[:3])
    url = devtools.get("Request URL")
    method = devtools.get("Request Method", "").upper()
    if url:
        path, query = _url_parts(url)
        source = "the browser's request summary"
        if path is not None and _set_request(draft, method, path, query, source):
            draft.body_visible = draft.method in ("GET", "DELETE", "HEAD")


# -- SDK error output ----------------------------------------------------------


def _read_sdk(text: str, draft: _Draft) -> None:
    python = _PYTHON_SDK.search(text)
    javascript = _JS_SDK.search(text)
    if python:
        draft.saw("Python SDK error output")
    if javascript:
        draft.saw("JavaScript SDK error output")
    if not (python or javascript):
        return
    draft.request_seen = True

    url = _SDK_URL.search(text)
    if url:
        path, query = _url_parts(url.group(1))
        if path is not None:
            _set_request(draft, "", path, query, "the URL in the SDK error")
    call = _SDK_CALL.search(text)
    if call:
        method, path = SDK_CALLS[call.group(1)]
        _set_request(draft, method, path, None, f"the SDK call {call.group(1)}()")


# -- Error bodies ------------------------------------------------------------


def _read_bodies(text: str, draft: _Draft) -> None:
    objects = list(_objects(text))
    gateway = provider = failure = None
    for start, end in objects:
        chunk = text[start:end]
        if gateway is None and (_ERROR_CODE.search(chunk) or _CODE_FIELD.search(chunk)):
            gateway = (start, end)
        elif provider is None and _PROVIDER_ERROR.search(chunk):
            provider = (start, end)
        elif failure is None and _GATEWAY_FAILURE.search(chunk):
            failure = (start, end)

    code = _ERROR_CODE.search(text) or _CODE_FIELD.search(text)
    bare = None if code else _BARE_CODE.search(text)
    if code or bare:
        draft.error_code = (code or bare).group(1 if code else 0)
        draft.body_kind = "gateway"
        draft.saw(f"a gateway error body ({draft.error_code})")
        span = gateway or _line_around(text, (code or bare).start())
        _keep_body(text, span, draft)
        return
    html = _HTML.search(text)
    if html:
        _read_html(text, html.start(), draft)
        return
    if provider:
        draft.body_kind = "provider"
        draft.saw("an OpenAI-style error from a model provider")
        _keep_body(text, provider, draft)
        name = _PROVIDER_NAME.search(text[provider[0] : provider[1]])
        prefix = _PROVIDER_PREFIX.match(draft.message or "")
        if name or prefix:
            draft.provider = draft.masked((name or prefix).group(1).strip())
        return
    if failure:
        draft.body_kind = "gateway_failure"
        draft.saw("the gateway's own failure body")
        _keep_body(text, failure, draft)


def _objects(text: str) -> Iterator[tuple[int, int]]:
    """Yield the spans of the first few ``{...}`` objects, quote-aware, each
    within a bounded window. Works alike for JSON, Python reprs and Node's
    inspect output, which is what SDKs print."""
    position = 0
    for _ in range(_MAX_OBJECTS):
        start = _OBJECT_START.search(text, position)
        if start is None:
            return
        end = _object_end(text, start.start())
        if end is None:
            position = start.start() + 1
            continue
        yield start.start(), end
        position = end


def _object_end(text: str, start: int) -> int | None:
    depth = 0
    window = min(len(text), start + _OBJECT_WINDOW)
    for token in _OBJECT_TOKEN.finditer(text, start, window):
        mark = token.group()
        if mark == "{":
            depth += 1
        elif mark == "}":
            depth -= 1
            if depth == 0:
                return token.end()
    return None


def _line_around(text: str, index: int) -> tuple[int, int]:
    start = text.rfind("\n", max(0, index - _MESSAGE_SHOWN), index) + 1
    end = text.find("\n", index, index + _MESSAGE_SHOWN)
    return start, end if end != -1 else min(len(text), index + _MESSAGE_SHOWN)


def _keep_body(text: str, span: tuple[int, int], draft: _Draft) -> None:
    start, end = span
    # Mask a little beyond what is shown so a secret cut by the limit is
    # still recognised whole, then cut.
    shown = draft.masked(text[start : min(end, start + _BODY_SHOWN + _MASK_MARGIN)])
    if end - start > _BODY_SHOWN:
        shown = shown[:_BODY_SHOWN] + "\n[... cut]"
    draft.masked_body = shown.strip()
    message = _MESSAGE.search(draft.masked_body)
    if message:
        draft.message = _unescape(message.group(1) or message.group(2) or "")


def _unescape(raw: str) -> str | None:
    try:
        value = json.loads(f'"{raw}"')
    except ValueError:
        value = raw
    value = " ".join(value.split())[:_MESSAGE_SHOWN]
    return value or None


def _read_html(text: str, start: int, draft: _Draft) -> None:
    draft.body_kind = "html"
    draft.saw("an HTML page")
    title = _TITLE.search(text)
    if title:
        draft.html_title = draft.masked(" ".join(title.group(1).split())[:200]) or None
    source = _HTML_SOURCE.search(text)
    if source:
        word = source.group().lower()
        draft.html_source = next(name for key, name in HTML_SOURCES if key == word)
    _keep_body(text, (start, len(text)), draft)
    draft.message = None


# -- Trace ID, status and workspace_id -----------------------------------------


def _read_trace_id(text: str, draft: _Draft) -> None:
    found = _TRACE_ID.search(text)
    if not found:
        return
    value = mask_secrets(found.group(1))
    if value.changed:
        draft.masked_count += value.count
        draft.note(
            "A trace ID was found but it looked like a key, so it was left out; "
            "copy it by hand if you are sure it is the trace ID."
        )
        return
    draft.trace_id = value.text
    draft.saw("the x-portkey-trace-id header")


def _read_status(text: str, draft: _Draft) -> None:
    if draft.http_status is not None:
        return
    for pattern in _STATUS_PATTERNS:
        found = pattern.search(text)
        if found and _status(found.group(1)):
            draft.http_status = _status(found.group(1))
            return


def _status(digits: str) -> int | None:
    value = int(digits)
    return value if 100 <= value <= 599 else None


def _settle_workspace_id(draft: _Draft) -> None:
    if draft.method_from is None:
        return
    found = None
    for part in (draft.query, draft.request_body):
        if part:
            found = found or _WORKSPACE_ID.search(part)
    if draft.query and not found:
        for pair in draft.query.split("&"):
            name, _, value = pair.partition("=")
            if unquote(name).strip() == "workspace_id" and value:
                _keep_workspace_id(unquote(value)[:128], draft)
                return
    if found:
        _keep_workspace_id(found.group(1), draft)
    elif draft.body_visible:
        draft.workspace_id_sent = False


def _keep_workspace_id(value: str, draft: _Draft) -> None:
    draft.workspace_id_sent = True
    workspace = draft.masked(value)
    # Support needs the ID itself; a masked stand-in would only confuse them.
    draft.workspace_id = None if MASK in workspace else workspace


# -- From facts to wizard answers ------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotAb03:
    """Why this error did not come from the gateway's permission check."""

    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Understanding:
    """A reading matched against the reference data: the error explained, the
    endpoint found, and the wizard answers it implies."""

    reading: Reading
    error: ErrorCodeInfo | None
    endpoint: EndpointInfo | None
    suggestions: tuple[str, ...]
    method_guessed: bool
    not_ab03: NotAb03 | None
    scenario: str
    answers: Answers
    headline: str

    @property
    def recognised(self) -> bool:
        return self.reading.outcome == READ


def understand(reading: Reading, snapshot: Snapshot) -> Understanding:
    """Explain a reading with the current reference data and turn it into the
    wizard's answers: scenario, endpoint, where it ran, workspace_id."""
    error = snapshot.error_codes.get(reading.error_code or "")
    found = _find_endpoint(reading, snapshot)
    endpoint = found.endpoint
    not_ab03 = _not_ab03(reading, error)
    scenario = scenario_for(snapshot, endpoint)
    if endpoint is None and found.candidates:
        # GET or POST /v1/admin/workspaces: the method is open, the scenario is not.
        shared = {scenario_for(snapshot, each) for each in found.candidates}
        scenario = shared.pop() if len(shared) == 1 else scenario

    sent = reading.workspace_id_sent
    answers = Answers(
        scenario=scenario,
        context="code" if reading.request_seen else None,
        method=endpoint.method if endpoint else None,
        path=endpoint.path if endpoint else None,
        # The wizard only asks this for endpoints where it changes the answer.
        workspace_id_sent=(
            ("yes" if sent else "no")
            if endpoint and endpoint.admin_needs_workspace_id and sent is not None
            else None
        ),
    )
    return Understanding(
        reading=reading,
        error=error,
        endpoint=endpoint,
        suggestions=found.suggestions,
        method_guessed=found.method_guessed,
        not_ab03=not_ab03,
        scenario=scenario,
        answers=answers,
        headline=_headline(reading, error, endpoint, not_ab03),
    )


def scenario_for(snapshot: Snapshot, endpoint: EndpointInfo | None) -> str:
    """The wizard scenario whose questions fit this endpoint best."""
    if endpoint is None:
        return FALLBACK_SCENARIO
    if (endpoint.method, endpoint.path) == MODELS_ENDPOINT and (
        "models" in snapshot.scenarios
    ):
        return "models"
    for slug in SCENARIO_ORDER:
        if slug in snapshot.scenarios and endpoint in scenario_targets(snapshot, slug):
            return slug
    return FALLBACK_SCENARIO


@dataclass(frozen=True, slots=True)
class _Found:
    endpoint: EndpointInfo | None = None
    suggestions: tuple[str, ...] = ()
    method_guessed: bool = False
    # Endpoints the path fits with any method, when the method is unknown.
    candidates: tuple[EndpointInfo, ...] = ()


def _find_endpoint(reading: Reading, snapshot: Snapshot) -> _Found:
    if not reading.path:
        return _Found()
    if reading.method:
        match = match_endpoint(snapshot, reading.method, reading.path)
        return _Found(match.endpoint, match.suggestions)

    # The path without its method: unambiguous only when one method exists.
    fitting = tuple(
        match.endpoint
        for method in METHODS
        if (match := match_endpoint(snapshot, method, reading.path)).endpoint
    )
    if len(fitting) == 1:
        return _Found(fitting[0], method_guessed=True)
    labels = tuple(endpoint.label for endpoint in fitting)
    return _Found(suggestions=labels, candidates=fitting)


def _not_ab03(reading: Reading, error: ErrorCodeInfo | None) -> NotAb03 | None:
    code = reading.error_code
    if code == "AB03":
        return None
    if code:
        what = f"{code} ({error.title})" if error else code
        return NotAb03(
            "other_code",
            f"This is not an AB03: the gateway answered {what}, which has a "
            "different cause and a different fix.",
        )
    if reading.body_kind == "html":
        who = reading.html_source or "a proxy, CDN or firewall"
        return NotAb03(
            "html_page",
            f"This {reading.http_status or 'error'} is not an AB03: the answer is "
            f"an HTML page from {who}, so something in front of the gateway "
            "refused the request before Portkey's permission check ran.",
        )
    if reading.body_kind == "provider":
        who = (
            f"the provider ({reading.provider})"
            if reading.provider
            else ("the model provider")
        )
        return NotAb03(
            "provider_error",
            f"This {reading.http_status or 'error'} is not an AB03: the body has "
            f"the OpenAI-style error shape, so {who} refused the request and the "
            "gateway passed its answer on. Check the provider's credentials "
            "(the integration or virtual key), not the Portkey key's scopes.",
        )
    if reading.body_kind == "gateway_failure":
        return NotAb03(
            "gateway_failure",
            "This is not an AB03: the body is the gateway's own failure message "
            "about the request or its config, not a permission check.",
        )
    if reading.http_status and reading.http_status != 403:
        return NotAb03(
            "other_status",
            f"This is not an AB03: the status is {reading.http_status}, and "
            "AB03 always comes with 403.",
        )
    return None


def _headline(
    reading: Reading,
    error: ErrorCodeInfo | None,
    endpoint: EndpointInfo | None,
    not_ab03: NotAb03 | None,
) -> str:
    if reading.outcome != READ:
        return "We could not find anything we know how to read in the paste."
    if not_ab03 is not None:
        return not_ab03.message
    call = endpoint.label if endpoint else None
    if reading.error_code == "AB03":
        where = f"{call} was refused" if call else "The call was refused"
        return f"{where} with 403 AB03: not enough permissions."
    if reading.error_code and error is None:
        return f"The gateway answered {reading.error_code}, a code we do not know."
    if reading.http_status == 403:
        where = f"{call} answered" if call else "The call answered"
        return (
            f"{where} 403, but the paste has no error body, so we cannot tell "
            "whether it is an AB03."
        )
    if call:
        return f"You called {call}; the paste does not say how it failed."
    return "We found part of a request or response, but not the failing call."
