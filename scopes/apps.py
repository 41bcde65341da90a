from django.apps import AppConfig


class ScopesConfig(AppConfig):
    name = "scopes"
    verbose_name = "Scope reference"

    def ready(self) -> None:
        from scopes.signals import connect_signals

        connect_signals()
