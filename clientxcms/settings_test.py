"""Settings for the test suite: the production settings with fixed keys and fast hashing.

``DATABASE_URL`` and ``REDIS_URL`` are honoured as in production, so CI runs the same
suite against PostgreSQL and Redis. Celery never runs tasks in-process here: tests call
task functions directly, and the integration tests start a real worker.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key")
# A fixed Fernet key (32 url-safe base64 bytes), used only by the tests.
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktMDAwMDA=")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")


def _redis_of_this_worker(url: str, worker: str) -> str:
    """``url`` moved to a database of its own for pytest-xdist's worker ``gwN`` (N after
    the one given): every test empties the cache, which on Redis empties the database,
    and a worker must not empty the queue or the cache of another."""
    if not url or not worker.startswith("gw"):
        return url
    base, _, db = url.rpartition("/")
    return f"{base}/{(int(db or 0) + int(worker[2:])) % 16}"


# Always from the URL given to pytest's first process, which every process it starts
# inherits (xdist's workers, and the Celery workers and beat the tests start), so that a
# process moved already is not moved again, and a worker is not left on its parent's.
os.environ.setdefault("REDIS_URL_GIVEN", os.environ.get("REDIS_URL", ""))
os.environ["REDIS_URL"] = _redis_of_this_worker(
    os.environ["REDIS_URL_GIVEN"], os.environ.get("PYTEST_XDIST_WORKER", "")
)

from .settings import *  # noqa: E402,F403
from .settings import BASE_DIR, REDIS_URL, TEMPLATES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SESSION_COOKIE_SECURE = False
# Production's sessions (read through Redis) even without Redis: the tests pin each page's
# queries as production runs them, and a test's one process shares its in-memory cache.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CSRF_COOKIE_SECURE = False

CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
# The queue of a worker or beat started by the integration tests (tests/celery_worker.py):
# what they queue themselves (a resumed bulk operation) stays on the test's own queue.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TEST_QUEUE", "celery")

# The data-driven fake module of tests/fakes/modules.py, for tests only, and its tabs'
# templates.
DELIVERY_MODULES = {"test": "tests.fakes.modules.FakeModule"}
FAKE_MODULE_TEMPLATES = BASE_DIR / "tests" / "fakes" / "templates"
TEMPLATES = [{**TEMPLATES[0], "DIRS": [*TEMPLATES[0]["DIRS"], FAKE_MODULE_TEMPLATES]}]

# client.login() authenticates without a request, which axes refuses: see tests/fakes/auth.py.
AUTHENTICATION_BACKENDS = [
    "tests.fakes.auth.RequestOptionalAxesBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Static files come straight from static/ through the finders; nothing is collected.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
