from django.urls import path

from troubleshooter import wizard_views

app_name = "wizard"
urlpatterns = [
    path("start/", wizard_views.start, name="start"),
    path("diagnose/<slug:scenario>/", wizard_views.step, name="step"),
    path("fix/", wizard_views.fix, name="fix"),
    path("fix/actions/", wizard_views.fix_actions, name="fix-actions"),
    path("f/", wizard_views.make_short_link, name="make-short-link"),
    path("f/<slug:code>/", wizard_views.short_link, name="short-link"),
    path("feedback/", wizard_views.feedback, name="feedback"),
]
