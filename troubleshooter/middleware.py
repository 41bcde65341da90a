"""Response headers that Django's own settings do not cover, and clear
refusals in place of bare ones."""

import json

from django.conf import settings
from django.template import loader


class SecurityHeadersMiddleware:
    """Adds Cross-Origin-Resource-Policy, which Django has no setting for."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault(
            "Cross-Origin-Resource-Policy", settings.CROSS_ORIGIN_RESOURCE_POLICY
        )
        return response


REFUSALS = {
    400: (
        "bad_request",
        "We could not read that request",
        "Something in the address or the form was malformed. Go back and try "
        "again, or start from the home page.",
    ),
    403: (
        "forbidden",
        "That request was refused",
        "You may not do this here. Go back and try again from the page itself.",
    ),
    404: (
        "not_found",
        "We could not find that page",
        "The address may be mistyped, or the page may have moved.",
    ),
    405: (
        "method_not_allowed",
        "This address does not take that kind of request",
        "Follow a link or send the form on the page instead.",
    ),
    413: (
        "too_large",
        "That was too large for us",
        "Send something smaller; nothing was kept.",
    ),
}
OTHER_REFUSAL = (
    "refused",
    "That request was refused",
    "Go back and try again, or start from the home page.",
)
_SHORT_SENTENCE = 300


class PlainRefusalsMiddleware:
    """Gives every bare refusal a clear answer.

    Django's method decorators answer 405 with an empty body, and a few views
    refuse with one plain sentence. People get a page with a heading and a way
    on; API clients get the documented JSON error instead of HTML. The
    response is changed in place, so headers set further in (CSP, CORS,
    Allow, Retry-After) stay.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not _is_bare_refusal(request, response):
            return response

        code, title, advice = REFUSALS.get(response.status_code, OTHER_REFUSAL)
        said = _plain_sentence(response)
        if response.status_code == 405 and response.get("Allow"):
            advice = f"It answers {response['Allow']} only. {advice}"

        if request.path_info.startswith("/api/"):
            error = {"code": code, "message": said or f"{title}. {advice}"}
            response.content = json.dumps({"error": error})
            response["Content-Type"] = "application/json"
        else:
            context = {"title": title, "message": said or advice}
            response.content = loader.get_template("refusal.html").render(context)
            response["Content-Type"] = "text/html; charset=utf-8"
        return response


def _is_bare_refusal(request, response) -> bool:
    if not 400 <= response.status_code < 500 or response.streaming:
        return False
    if request.method == "HEAD":
        return False
    content_type = response.get("Content-Type", "")
    if request.path_info.startswith("/api/"):
        return not content_type.startswith("application/json")
    if not content_type.startswith(("text/html", "text/plain")):
        return False
    if getattr(request, "htmx", False):
        # An htmx fragment is meant to be swapped into the page as it is.
        return b"<" not in response.content
    return b"<h1" not in response.content


def _plain_sentence(response) -> str:
    """The view's own words, when it refused with one short sentence."""
    text = response.content.decode("utf-8", "replace").strip()
    if not text or "<" in text or len(text) > _SHORT_SENTENCE:
        return ""
    return text
