from django.urls import path, re_path

from troubleshooter import api

app_name = "api"
urlpatterns = [
    path("check", api.check, name="check"),
    path("scopes", api.scopes, name="scopes"),
    path("endpoints", api.endpoints, name="endpoints"),
    path("openapi.json", api.openapi, name="openapi"),
    re_path(r"^.*$", api.not_found, name="not-found"),
]
