from django.urls import path

from troubleshooter.reference import views

app_name = "reference"
urlpatterns = [
    path("reference/", views.index, name="index"),
    path("reference/scopes/", views.scopes, name="scopes"),
    path("reference/scopes/<str:name>/", views.scope, name="scope"),
    path("reference/key-types/<slug:slug>/", views.key_type, name="key-type"),
    path("reference/endpoints/", views.endpoints, name="endpoints"),
    path(
        "reference/endpoints/<str:method>/<path:path>/",
        views.endpoint,
        name="endpoint",
    ),
    path("reference/tasks/<slug:slug>/", views.operation, name="operation"),
    path("reference/causes/", views.causes, name="causes"),
    path("reference/report/", views.report_mistake, name="report"),
    path("search/", views.search, name="search"),
    path("keys/simulator/", views.simulator, name="simulator"),
    path("keys/builder/", views.builder, name="builder"),
]
