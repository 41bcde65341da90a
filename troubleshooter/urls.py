from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from troubleshooter import views

urlpatterns = [
    path("", views.home, name="home"),
    path("", include("troubleshooter.wizard_urls")),
    path("", include("troubleshooter.paste_urls")),
    path("", include("troubleshooter.reference_urls")),
    path("api/v1/", include("troubleshooter.api_urls")),
    path(settings.ADMIN_URL, admin.site.urls),
]

handler404 = "troubleshooter.views.page_not_found"
handler500 = "troubleshooter.views.server_error"
