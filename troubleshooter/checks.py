"""Deployment checks of our own, run by ``manage.py check --deploy``."""

from django.conf import settings
from django.core import checks

PER_PROCESS_CACHE = "django.core.cache.backends.locmem.LocMemCache"


@checks.register(checks.Tags.security, deploy=True)
def shared_cache_for_rate_limits(app_configs, **kwargs):
    """Rate limits hold across workers only in a cache they all share.

    gunicorn runs several worker processes; with the local-memory cache each
    keeps its own count, so a client gets the whole limit once per worker.
    """
    if settings.CACHES["default"]["BACKEND"] != PER_PROCESS_CACHE:
        return []
    return [
        checks.Warning(
            "The rate limits on the public forms are counted per process: "
            "each gunicorn worker would allow a client the whole limit.",
            hint="Set REDIS_URL to a Redis that every worker and server shares.",
            id="troubleshooter.W001",
        )
    ]
