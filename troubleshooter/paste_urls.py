from django.urls import path

from troubleshooter import paste_views

app_name = "paste"
urlpatterns = [
    path("paste/", paste_views.paste, name="paste"),
    path("paste/continue/", paste_views.correct, name="continue"),
]
