"""Mask anything that looks like a secret before it is shown, copied, logged or
put in a URL.

The same rules run in the browser (static/js/site.js) for what people type into
the support ticket; keep the two in step (tests/test_masking.py and the browser
test check both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MASK = "[masked]"

# Header or field names whose value is a credential, in headers, curl -H
# arguments, JSON bodies and SDK keyword arguments alike.
_CREDENTIAL_FIELDS = (
    r"x-portkey-api-key|x-portkey-virtual-key|x-api-key|api[-_]?key|"
    r"authorization|proxy-authorization|virtual[-_]?key|access[-_]?token|"
    r"secret|password|cookie"
)
_NAMED_VALUE = re.compile(
    rf"""(?ix)
    (?P<name>["']?(?:{_CREDENTIAL_FIELDS})["']?[ \t]*[:=][ \t]*)
    (?P<quote>["']?)
    (?:(?P<scheme>bearer|basic)[ \t]+)?
    (?P<value>[^\s"',;}}]+)
    """
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+(?!\[masked\])([A-Za-z0-9._~+/=-]{8,})")
# Long runs of key-like characters. "/" is left out so that a path is judged
# segment by segment instead of being masked whole. A full stop may follow
# (a key at the end of a sentence), but not one that goes on into a name.
_KEY_LIKE = re.compile(r"(?<![\w.-])([A-Za-z0-9_+=-]{24,})(?![\w-]|\.[\w-])")
_UUID = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Masked:
    text: str
    count: int

    @property
    def changed(self) -> bool:
        return self.count > 0


def _looks_like_key(candidate: str) -> bool:
    if _UUID.match(candidate):
        # Trace IDs and workspace IDs are UUIDs and are needed by support.
        return False
    has_upper = any(c.isupper() for c in candidate)
    has_lower = any(c.islower() for c in candidate)
    has_digit = any(c.isdigit() for c in candidate)
    # Random keys mix cases and digits; a long lower-case slug with a year in
    # it does not, unless it is long enough to be a token anyway.
    mixed = has_upper and has_lower and has_digit
    return mixed or (len(candidate) >= 32 and (has_upper or has_lower) and has_digit)


def mask_secrets(text: str) -> Masked:
    """Return ``text`` with every credential-looking value replaced by ``[masked]``."""
    count = 0

    def named(match: re.Match) -> str:
        nonlocal count
        if match.group("value") == MASK:
            return match.group(0)
        count += 1
        scheme = match.group("scheme")
        prefix = f"{scheme} " if scheme else ""
        return f"{match.group('name')}{match.group('quote')}{prefix}{MASK}"

    def bearer(match: re.Match) -> str:
        nonlocal count
        count += 1
        return f"{match.group(1)} {MASK}"

    def key_like(match: re.Match) -> str:
        nonlocal count
        if not _looks_like_key(match.group(1)):
            return match.group(0)
        count += 1
        return MASK

    text = _NAMED_VALUE.sub(named, text)
    text = _BEARER.sub(bearer, text)
    text = _KEY_LIKE.sub(key_like, text)
    return Masked(text=text, count=count)
