"""Running the same work in several threads at the same moment, as two workers would."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def run_at_once(work: Callable[[], Any], *, times: int = 2, timeout: float = 60) -> list[Any]:
    """Run ``work`` in ``times`` threads released together, each on a connection of its own
    (closed after); what each returned, or the exception it raised, in the order they ended."""
    start = threading.Barrier(times)
    results: list[Any] = []

    def worker() -> None:
        try:
            start.wait(timeout=10)
            results.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results
