"""A real Celery worker, started as a separate process against Redis and PostgreSQL.

A pytest plugin (see ``pytest_plugins`` in tests/conftest.py) for the integration and
browser tests.

Celery's own guide warns that eager mode is not a test of task behaviour, so these
tests send tasks through the broker to a worker that shares nothing with the test
process but the database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from clientxcms.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def celery_worker(transactional_db, monkeypatch) -> Iterator[str]:
    """Start a worker on a queue of its own; yields the queue name."""
    if connection.vendor != "postgresql":
        pytest.skip("the worker shares the test database: needs PostgreSQL (DATABASE_URL)")
    if not settings.REDIS_URL:
        pytest.skip("the worker needs a broker: set REDIS_URL")
    queue = f"test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setitem(celery_app.conf, "task_default_queue", queue)
    db = connection.settings_dict
    credentials = f"{db['USER']}:{db['PASSWORD'] or ''}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clientxcms.settings_test",
        "DATABASE_URL": f"postgres://{credentials}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "clientxcms",
            "worker",
            "-Q",
            queue,
            "--pool=solo",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield queue
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
        print(output[-5000:])  # shown by pytest when the test fails


def wait_until(predicate, *, timeout: float = 60, message: str = "") -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout} s: {message}")
