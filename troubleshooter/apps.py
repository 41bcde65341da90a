from django.apps import AppConfig


class TroubleshooterConfig(AppConfig):
    name = "troubleshooter"
    verbose_name = "Troubleshooter"

    def ready(self) -> None:
        from troubleshooter import checks  # noqa: F401 (registers them)
        from troubleshooter.security import keep_request_construction_lazy

        keep_request_construction_lazy()
