"""Settings for Scope Doctor, read from the environment through strict helpers.

Run with nothing set and DEBUG on for development; production must set
SECRET_KEY and ALLOWED_HOSTS explicitly (see README).
"""

from datetime import timedelta
from pathlib import Path

from django.utils.csp import CSP

from troubleshooter.env import (
    LOG_LEVELS,
    env_bool,
    env_cache,
    env_choice,
    env_database,
    env_int,
    env_list,
    env_required,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)

if DEBUG:
    # A development-only key: never valid with DEBUG off, so it cannot leak
    # into production by omission.
    SECRET_KEY = env_str("SECRET_KEY") or "dev-only-insecure-key-do-not-deploy"
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
else:
    SECRET_KEY = env_required(
        "SECRET_KEY", "with DEBUG off a real secret is required (50+ random chars)."
    )
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "ALLOWED_HOSTS must be set when DEBUG is off, "
            "as a comma-separated list such as 'scopedoctor.example.com'."
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "simple_history",
    "axes",
    "scopes",
    "troubleshooter",
]

MIDDLEWARE = [
    "django.middleware.gzip.GZipMiddleware",
    # Outside the others, so it also sees refusals raised by their checks.
    "troubleshooter.middleware.PlainRefusalsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Response headers for every answer, cached or not.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "troubleshooter.middleware.SecurityHeadersMiddleware",
    "scopes.services.SnapshotPerRequestMiddleware",
    # Repeated public GETs are answered here; nothing below can change them.
    "troubleshooter.caching.CachedPageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "troubleshooter.outage.DatabaseOutageMiddleware",
    # Last, as django-axes requires: it answers a locked-out sign-in.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "troubleshooter.urls"
# Moving the admin off the well-known path keeps drive-by login attempts away.
ADMIN_URL = env_str("ADMIN_URL", "admin/")

# Staff sign-in attempts are counted by django-axes in the database, so the
# count holds across workers whatever the cache. Five failures from one
# address lock it out for 15 minutes with a 429 page that says when to retry;
# the address is the one the rate limits use (RATE_LIMIT_CLIENT_HEADER behind
# a load balancer). The axes backend must come first to refuse early.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "troubleshooter.ratelimit.login_client_address"
AXES_LOCKOUT_CALLABLE = "troubleshooter.security.lockout_response"
WSGI_APPLICATION = "troubleshooter.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", BASE_DIR / "db.sqlite3")}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # An unreachable database must fail fast, so pages answer from the
    # in-memory snapshot instead of holding a worker (troubleshooter/outage.py).
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int(
        "DATABASE_CONNECT_TIMEOUT", 3
    )
# One Redis shared by every app server when REDIS_URL is set; local memory
# (per process) otherwise.
CACHES = {
    "default": env_cache("REDIS_URL"),
}
# Rendered pages and API answers, keyed by data version, kept in each process
# (every process can render them, and memory is the fastest place to look),
# within this many bytes per process: troubleshooter/pagestore.py.
PAGE_CACHE_MAX_BYTES = env_int("PAGE_CACHE_MAX_BYTES", 32 * 1024 * 1024)
# The data-version stamp lives in the shared Redis when there is one, so a
# warm public page needs no database query. Local memory is per process and
# could not tell one worker about another's edit, so without Redis every
# request reads the stamp from the database. The lifetime bounds how long a
# lost or out-of-order publish can hide a change.
DATA_VERSION_CACHE = (
    "default" if CACHES["default"]["BACKEND"].endswith(".RedisCache") else None
)
DATA_VERSION_CACHE_SECONDS = env_int("DATA_VERSION_CACHE_SECONDS", 10)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Public POSTs one client may make: (requests, window in seconds), counted in
# the default cache (troubleshooter/ratelimit.py). Pastes count the form and
# POST /api/v1/parse together.
RATE_LIMITS = {
    "feedback": (env_int("RATE_LIMIT_FEEDBACK", 30), 3600),
    "report": (env_int("RATE_LIMIT_REPORTS", 5), 3600),
    "paste": (env_int("RATE_LIMIT_PASTES", 120), 600),
    "short_link": (env_int("RATE_LIMIT_SHORT_LINKS", 60), 3600),
}
# Behind a load balancer: the header it overwrites with the visitor's address.
RATE_LIMIT_CLIENT_HEADER = env_str("RATE_LIMIT_CLIENT_HEADER")
# What a refused write tells the browser while the database is unreachable.
OUTAGE_RETRY_AFTER = env_int("OUTAGE_RETRY_AFTER", 30)

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed files in production; the plain backend in
        # development and tests so they run without collectstatic.
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or env_bool("STATIC_PLAIN", default=False)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        ),
    },
}
WHITENOISE_MAX_AGE = 3600

# Security headers. The CSP is strict: everything from our own origin, no
# inline code, so htmx is configured (base.html) to need neither.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CROSS_ORIGIN_RESOURCE_POLICY = "same-origin"

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
if env_bool("BEHIND_TLS_PROXY", default=False):
    # Only trust this header when a proxy we control sets it.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
# No script reads the CSRF cookie: forms carry the token in the page.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
# Staff sessions end with the browser, and after 8 hours at the latest.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 8)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

LOG_LEVEL = env_choice("LOG_LEVEL", LOG_LEVELS, "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "readable": {
            "format": "{asctime} {levelname:<7} {name}: {message}",
            "style": "{",
        },
    },
    "filters": {
        # Django logs the path of every refused request, and people paste keys
        # into paths and headers; whatever is written has them masked.
        "redact_secrets": {"()": "troubleshooter.security.RedactSecrets"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "readable",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}
