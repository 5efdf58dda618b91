"""The test settings keep parallel test workers apart."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from clientxcms.settings_test import _redis_of_this_worker


@pytest.mark.parametrize(
    ("url", "worker", "moved"),
    [
        ("redis://127.0.0.1:6379/0", "gw0", "redis://127.0.0.1:6379/0"),
        ("redis://127.0.0.1:6379/0", "gw1", "redis://127.0.0.1:6379/1"),
        ("redis://127.0.0.1:6379/10", "gw3", "redis://127.0.0.1:6379/13"),
        ("redis://127.0.0.1:6379/15", "gw2", "redis://127.0.0.1:6379/1"),
        # Not under xdist (its first process, or a plain run): where it was given.
        ("redis://127.0.0.1:6379/4", "", "redis://127.0.0.1:6379/4"),
        ("", "gw1", ""),
    ],
)
def test_each_xdist_worker_gets_a_redis_database_of_its_own(url, worker, moved):
    assert _redis_of_this_worker(url, worker) == moved


def test_this_process_uses_its_workers_database_for_cache_and_broker():
    """From the URL pytest was given, not from one a parent process had moved already."""
    moved = _redis_of_this_worker(
        os.environ["REDIS_URL_GIVEN"], os.environ.get("PYTEST_XDIST_WORKER", "")
    )
    used = {settings.REDIS_URL}
    if moved:
        used |= {settings.CACHES["default"]["LOCATION"], settings.CELERY_BROKER_URL}
    assert used == {moved}
