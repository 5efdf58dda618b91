"""Settings, read from environment variables (DESIGN.md §4).

Every variable has a safe default for the embedded mode (`make run`): SQLite in
``var/``, tasks run in-process, e-mail printed to the console. Production sets
``DATABASE_URL``, ``REDIS_URL``, ``SECRET_KEY`` and ``FIELD_ENCRYPTION_KEY``; the
README lists every variable.
"""

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    """Read a yes/no variable: 1, true, yes and on (any case) mean yes."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """Read a comma-separated variable into a list, ignoring blanks."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

# Fernet key(s) for server credentials, comma-separated: the first encrypts, every one
# decrypts, so keys can be rotated. Without one (DEBUG only) a key is derived from
# SECRET_KEY so that the embedded mode works out of the box.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEY")
if not FIELD_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "import_export",
    "django_countries",
    "csp",
    # Sign-in throttling and staff two-factor (customers.throttling, customers.two_factor).
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # The periodic tasks, their runs and the settings staff change (below every app that
    # registers a task or a setting).
    "automation",
    "customers",
    "products",
    "delivery",
    "services",
    "billing",
    "dashboard",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After LocaleMiddleware (the browser's choice) and the user: a signed-in customer reads
    # the client area in their language, a staff member the administration in theirs.
    "customers.language.PreferredLanguageMiddleware",
    # Gives request.user.is_verified(): whether this session passed the two-factor step.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: turns a lockout found while signing in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clientxcms.urls"
WSGI_APPLICATION = "clientxcms.wsgi.application"

TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # The administration's sidebar (templates/admin/base.html).
            "libraries": {"links": "clientxcms.links", "navigation": "clientxcms.navigation"},
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # The panel's queries are short and read indexes; PostgreSQL's JIT compiles a query the
    # planner misestimates as large (an empty sweep at a million services) and spent 60 to
    # 290 ms doing so, more than the query itself (docs/performance.md, "Sweeps").
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = "-c jit=off"
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        # A query a connection has run five times is prepared (parsed and analysed once):
        # about 1 ms of a service list page's three queries (docs/performance.md). Plans are
        # still made for each execution's parameters: a generic plan made on common values
        # (five "active" pages) would read most of the table for a rare status. Needs
        # parameters bound by the server; turn it off behind a pooler that cannot keep
        # prepared statements (PgBouncer before 1.21 in transaction mode).
        options["options"] += " -c plan_cache_mode=force_custom_plan"
        options["server_side_binding"] = True
        options["prepare_threshold"] = 5
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "customers.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "client:login"
STAFF_LOGIN_URL = "admin:login"
# Axes first: it refuses a locked-out account or address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Sign-in throttling (customers/throttling.py). Failures are counted per account and per
# address, each on its own: guessing one account from many addresses and trying many
# accounts from one address are both slowed. A lockout lasts the cool-off, whatever is
# tried meanwhile, so the wait the page announces is the wait there is.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "customers.throttling.lockout_response"
AXES_USERNAME_FORM_FIELD = "username"
# Behind a reverse proxy, the number of proxies that append to X-Forwarded-For (the
# docker compose stack has one); unset, the address is the socket's (REMOTE_ADDR).
AXES_IPWARE_PROXY_COUNT = (
    int(os.environ["TRUSTED_PROXY_COUNT"]) if os.environ.get("TRUSTED_PROXY_COUNT") else None
)
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if AXES_IPWARE_PROXY_COUNT else ("REMOTE_ADDR",)
)
AXES_IPWARE_PROXY_ORDER = "right-most"

# Staff two-factor (customers/two_factor.py): on, every staff member must enrol before
# reaching any other staff page; off, only those who enrolled are asked for a code.
STAFF_REQUIRE_2FA = env_bool("STAFF_REQUIRE_2FA")
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "ClientXCMS")

# The panel speaks the languages it has a complete catalogue for (locale/, a test holds
# French complete): a language without one would mix English text with its own dates.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
# One date format per locale: pages use the format names, the panel's overrides live here.
FORMAT_MODULE_PATH = ["clientxcms.formats"]

STATIC_URL = "static/"
STATIC_ROOT: Path | None = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "clientxcms.storage.StaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"

# HTTPS and browser protections. Off in the embedded mode; the docker compose stack turns
# HSTS and the redirect on (README, "Production": which settings matter).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT")
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")
# Joining the browsers' preload list is a separate decision, slow to undo (hstspreload.org);
# leaving it off is no misconfiguration, so `check --deploy` is not told to warn about it.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
if env_bool("SECURE_PROXY_SSL_HEADER"):
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips the client's).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Scripts and styles from our own files only: no inline script, style attribute or eval
# (templates keep their JavaScript in static/js/, htmx is configured in base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# Redis: broker and result store for Celery, and the cache. Without it, tasks run
# in-process (the embedded mode) and the cache lives in memory.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    # Sessions are written to the database and read through the cache: every signed-in
    # page reads its session, and a cache hit spares it a query (a Redis read, 0.14 ms, for
    # a query, 0.46 ms, on the bench's million services, docs/performance.md). Only with a cache
    # that every process shares: with one per process, a session ended in one (signing
    # out) would live on in another's cache. Nothing deletes sessions behind Django's back
    # (a password change ends the others by their auth hash), so the cache never holds a
    # session the database has lost.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.db"
# A task is acknowledged when it ends, not when it starts, and put back in the queue when
# its worker process dies: the tasks are written to run again safely.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Seconds Redis waits for a task's acknowledgement before delivering it to another worker: it
# must exceed the longest task, or a task still running is started a second time. The longest
# is a bulk operation (10,000 services calling a panel at 100 ms each: about 17 minutes), so 6
# hours leaves room for far larger ones. A worker killed outright (SIGKILL, power loss) cannot
# hand its task back, so its message waits this long; bulk operations do not: the stall check
# below resumes them after BULK_STALL_MINUTES.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", str(6 * 3600)))
}
CELERY_TIMEZONE = TIME_ZONE

EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    # A mail server that hangs must not hold an e-mail "sending" for longer than the e-mail
    # log waits before taking it for a dead worker's (customers/mail.py, 15 minutes).
    EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "60"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "billing@localhost")

# Business settings (DESIGN.md §2): the defaults of the numbers administrators change in the
# panel (/admin/automation/settings/, automation.options), where each change is recorded.
DEFAULT_CURRENCY = os.environ.get("DEFAULT_CURRENCY", "EUR")
SERVICE_RENEWAL_GRACE_DAYS = int(os.environ.get("SERVICE_RENEWAL_GRACE_DAYS", "7"))
SERVICE_TERMINATION_DAYS = int(os.environ.get("SERVICE_TERMINATION_DAYS", "14"))
# Days before the expiration the customer is told that a service expires soon (once per period).
SERVICE_EXPIRY_NOTICE_DAYS = int(os.environ.get("SERVICE_EXPIRY_NOTICE_DAYS", "3"))
# Billing's timeline (billing/timeline.py). A renewal invoice is made this many days before
# the expiration, per billing cycle ("monthly=7,annually=30" overrides some); reminders of
# an unpaid invoice at these offsets in days from its due date (negative: before); an
# unpaid new order is cancelled after ORDER_UNPAID_CANCEL_DAYS. These are the defaults of
# the settings staff change in the panel (automation.options).
RENEWAL_INVOICE_DAYS = {
    "weekly": 3,
    "monthly": 7,
    "quarterly": 14,
    "semiannually": 21,
    "annually": 30,
    "biennially": 30,
    "triennially": 30,
    **{
        cycle.strip(): int(days)
        for cycle, _, days in (
            item.partition("=") for item in env_list("RENEWAL_INVOICE_DAYS") if "=" in item
        )
    },
}
INVOICE_REMINDER_DAYS = [int(day) for day in env_list("INVOICE_REMINDER_DAYS", "-7,-3,-1,1,3")]
ORDER_UNPAID_CANCEL_DAYS = int(os.environ.get("ORDER_UNPAID_CANCEL_DAYS", "14"))
# How often the lifecycle sweeps run (expiry, termination, cancellations).
SERVICE_SWEEP_MINUTES = int(os.environ.get("SERVICE_SWEEP_MINUTES", "5"))
# Celery beat runs one task, the automation's tick (automation/schedule.py), every
# AUTOMATION_TICK_SECONDS: it records the heartbeat the dashboard watches and queues each
# periodic task that is due, by the interval its app registered or, for the daily work,
# at the hour of the day staff set (AUTOMATION_DAILY_HOUR until they change it).
AUTOMATION_TICK_SECONDS = float(os.environ.get("AUTOMATION_TICK_SECONDS", "60"))
AUTOMATION_DAILY_HOUR = int(os.environ.get("AUTOMATION_DAILY_HOUR", "6"))
# Days the record of each run is kept (a setting staff change too).
AUTOMATION_RUN_DAYS = int(os.environ.get("AUTOMATION_RUN_DAYS", "30"))
CELERY_BEAT_SCHEDULE = {
    "automation-tick": {
        "task": "automation.tasks.tick",
        "schedule": AUTOMATION_TICK_SECONDS,
        # A tick no worker took before the next one is due is dropped, not piled up.
        "options": {"expires": AUTOMATION_TICK_SECONDS},
    },
}
# Operations in flight on a service (DESIGN.md, "The lifecycle layer"). A claim whose module
# call has not finished after OPERATION_STALE_MINUTES (longer than a module's slowest run of
# HTTP calls with their timeouts) belonged to a process that died: the periodic task takes it
# over. A retryable failure is tried again after OPERATION_RETRY_SECONDS, doubled at every
# attempt up to an hour, OPERATION_MAX_ATTEMPTS times in all; then the operation is given up
# with its error. A task checks a waiting panel (an install) every OPERATION_FOLLOW_SECONDS,
# for OPERATION_FOLLOW_LIMIT_MINUTES at most.
OPERATION_STALE_MINUTES = float(os.environ.get("OPERATION_STALE_MINUTES", "5"))
OPERATION_RETRY_SECONDS = float(os.environ.get("OPERATION_RETRY_SECONDS", "60"))
OPERATION_MAX_ATTEMPTS = int(os.environ.get("OPERATION_MAX_ATTEMPTS", "6"))
OPERATION_FOLLOW_SECONDS = float(os.environ.get("OPERATION_FOLLOW_SECONDS", "10"))
OPERATION_FOLLOW_LIMIT_MINUTES = float(os.environ.get("OPERATION_FOLLOW_LIMIT_MINUTES", "60"))
# How often the automation takes over the operations that are due (retries, lost processes,
# installs to check again).
OPERATION_RESUME_CHECK_SECONDS = float(os.environ.get("OPERATION_RESUME_CHECK_SECONDS", "60"))
# Module calls a bulk action makes at once to one server (the panel's latency, not its
# overhead, then sets the pace); a 429 pauses that server's calls for its Retry-After.
BULK_CALLS_PER_SERVER = int(os.environ.get("BULK_CALLS_PER_SERVER", "8"))
# Worker processes (tasks) a large bulk operation calling panels is spread over, so that its
# calls' Python work is not one process's: one per core, at most 4. They share the bound
# above (each makes BULK_CALLS_PER_SERVER // BULK_PARTS calls at once per server), so the
# worker needs at least this many processes free to run them at once.
BULK_PARTS = int(os.environ.get("BULK_PARTS", str(min(4, os.cpu_count() or 1))))
# A running bulk operation whose progress has not moved for this many minutes (its worker was
# lost) is queued again, at most BULK_MAX_RESUMES times; then it is marked finished with an
# error and staff can resume it from its page. Longer than the slowest single service.
BULK_STALL_MINUTES = float(os.environ.get("BULK_STALL_MINUTES", "5"))
BULK_MAX_RESUMES = int(os.environ.get("BULK_MAX_RESUMES", "3"))
# How often the automation looks for stalled bulk operations.
BULK_STALL_CHECK_SECONDS = float(os.environ.get("BULK_STALL_CHECK_SECONDS", "60"))

# Extra delivery modules by key, as dotted paths; built-in ones and the
# ``clientxcms.delivery_modules`` entry points are found without this.
DELIVERY_MODULES: dict[str, str] = {}
# Seconds the modules' HTTP client (delivery/http.py) waits to connect to a panel, and then
# for each read of its answer; past them the call fails and may be retried.
DELIVERY_CONNECT_TIMEOUT = float(os.environ.get("DELIVERY_CONNECT_TIMEOUT", "5"))
DELIVERY_READ_TIMEOUT = float(os.environ.get("DELIVERY_READ_TIMEOUT", "30"))
# Days the module call log (every call to a panel, /admin/delivery/calls/) is kept.
DELIVERY_CALL_LOG_DAYS = int(os.environ.get("DELIVERY_CALL_LOG_DAYS", "30"))

# Extra payment gateways by key, as dotted paths; built-in ones (billing/gateways/) and the
# ``clientxcms.payment_gateways`` entry points are found without this.
PAYMENT_GATEWAYS: dict[str, str] = {}
# Where the stripe library sends its API calls: Stripe's, or a fake of it in the tests.
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "https://api.stripe.com")

# The European Commission's VIES service, which tells whether an EU VAT number is registered
# (customers.vies): its REST API, or a fake of it in the tests. ``VIES_CHECK`` is the default
# of the switch staff turn on and off in the panel (customers.vies_check, off by default).
VIES_URL = os.environ.get("VIES_URL", "https://ec.europa.eu/taxation_customs/vies/rest-api")
VIES_CHECK = env_bool("VIES_CHECK")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "clientxcms.redaction.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    # Axes logs every sign-in and clean-up at INFO; its lockouts are WARNINGs.
    # httpx logs every request's URL at INFO: the module call log keeps them, redacted.
    "loggers": {
        "axes": {"level": os.environ.get("AXES_LOG_LEVEL", "WARNING")},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
