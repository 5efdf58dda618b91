"""A real Celery worker, started as a separate process against Redis and PostgreSQL.

A pytest plugin (see ``pytest_plugins`` in tests/conftest.py) for the integration and
browser tests.

Celery's own guide warns that eager mode is not a test of task behaviour, so these
tests send tasks through the broker to a worker that shares nothing with the test
process but the database.
"""

from __future__ import annotations

import os
import signal
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


class CeleryProcesses:
    """Workers and a beat, each a separate process, sharing one queue and the test database.

    ``env`` adds environment variables (settings such as ``BULK_STALL_MINUTES``) to every
    process started. A worker can be killed with SIGKILL and another started, as a crashed
    machine and its restart would. Each process writes its log to a file in ``logs``,
    printed when the test ends (pytest shows it when the test fails).
    """

    def __init__(self, queue: str, logs: Path, env: dict[str, str]) -> None:
        self.queue = queue
        self.logs = logs
        self.env = env
        self.processes: list[tuple[subprocess.Popen, Path]] = []
        self.worker: subprocess.Popen | None = None

    def _start(self, name: str, *arguments: str) -> subprocess.Popen:
        log = self.logs / f"{len(self.processes)}-{name}.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "clientxcms", *arguments],
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.processes.append((process, log))
        return process

    def start_worker(self) -> subprocess.Popen:
        self.worker = self._start(
            "worker",
            "worker",
            "-Q",
            self.queue,
            "--pool=solo",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=INFO",
        )
        return self.worker

    def kill_worker(self) -> None:
        """SIGKILL the current worker: it can neither finish, acknowledge nor requeue."""
        assert self.worker is not None, "no worker to kill"
        self.worker.send_signal(signal.SIGKILL)
        self.worker.wait(timeout=15)
        self.worker = None

    def start_beat(self) -> subprocess.Popen:
        return self._start(
            "beat", "beat", "-s", str(self.logs / "beat-schedule"), "--loglevel=INFO"
        )

    def stop(self) -> None:
        for process, log in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            print(f"--- {log.name}\n{log.read_text()[-5000:]}")


@pytest.fixture
def celery_processes(transactional_db, monkeypatch, tmp_path) -> Iterator[CeleryProcesses]:
    """Start nothing yet; yields a CeleryProcesses on a queue of its own."""
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
        "CELERY_TEST_QUEUE": queue,
    }
    processes = CeleryProcesses(queue, tmp_path, env)
    try:
        yield processes
    finally:
        processes.stop()


@pytest.fixture
def celery_worker(celery_processes: CeleryProcesses) -> str:
    """Start a worker on a queue of its own; returns the queue name."""
    celery_processes.start_worker()
    return celery_processes.queue


def wait_until(predicate, *, timeout: float = 60, message: str = "") -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout} s: {message}")
