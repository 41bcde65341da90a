from django.urls import path, re_path

from troubleshooter import api, paste_views

app_name = "api"
urlpatterns = [
    path("check", api.check, name="check"),
    path("scopes", api.scopes, name="scopes"),
    path("endpoints", api.endpoints, name="endpoints"),
    path("openapi.json", api.openapi, name="openapi"),
    path("parse", paste_views.parse_api, name="parse"),
    re_path(r"^.*$", api.not_found, name="not-found"),
]
