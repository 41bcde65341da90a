"""Site-wide pages: the home page and the error handlers."""

from django.http import HttpResponseNotFound, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.views.decorators.http import require_safe

from scopes.services import current_snapshot
from troubleshooter.caching import cached_page
from troubleshooter.paths import METHODS


@require_safe
@cached_page
def home(request):
    snapshot = current_snapshot()
    context = {"scenarios": snapshot.scenarios.values(), "methods": METHODS}
    return render(request, "home.html", context)


def page_not_found(request, exception):
    # Rendered without a request context so a broken database or a failing
    # context processor cannot turn a 404 into a 500.
    return HttpResponseNotFound(loader.get_template("404.html").render())


def server_error(request):
    return HttpResponseServerError(loader.get_template("500.html").render())
