"""Where production keeps its sessions: read through the cache only when every process
shares it (clientxcms/settings.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def production_session_engine(redis_url: str) -> str:
    """``SESSION_ENGINE`` as ``clientxcms.settings`` reads it with ``REDIS_URL`` set so."""
    env = {**os.environ, "REDIS_URL": redis_url, "DEBUG": "true"}
    result = subprocess.run(
        [sys.executable, "-c", "import clientxcms.settings as s; print(s.SESSION_ENGINE)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("redis_url", "engine"),
    [
        # Redis, which every web process shares: a signed-in page reads no session row.
        ("redis://127.0.0.1:6379/0", "django.contrib.sessions.backends.cached_db"),
        # A cache per process: a session ended in one would live on in the others' caches.
        ("", "django.contrib.sessions.backends.db"),
    ],
)
def test_sessions_are_read_through_the_cache_only_when_it_is_shared(redis_url, engine):
    assert production_session_engine(redis_url) == engine
