"""Running a bulk operation's items several at a time, a bounded number per server.

A bulk suspend of thousands of game servers spends its time waiting for panels. Run one
after the other, 10,000 services at 100 ms a call take 17 minutes; run ``per_server`` at a
time on each server, the panels' latency, not their overhead, sets the pace, and no panel
sees more calls at once than it was set to take. A panel that answers 429 pauses its
server's next calls for the ``Retry-After`` it gave.

Each item still goes through ``bulk.run_item`` (its own claim, the lifecycle's own), on a
thread with its own database connection, closed when the thread runs out of work.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connections

#: Threads at most, whatever the number of servers: each holds a database connection.
MAX_THREADS = 32


class ServerGate:
    """At most ``per_server`` calls at once per server; a 429 pauses that server's calls."""

    def __init__(self, per_server: int) -> None:
        self._slots: defaultdict[int | None, threading.BoundedSemaphore] = defaultdict(
            lambda: threading.BoundedSemaphore(per_server)
        )
        self._paused_until: dict[int | None, float] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, server_id: int | None) -> Iterator[None]:
        with self._lock:
            semaphore = self._slots[server_id]
        with semaphore:
            wait = self._paused_until.get(server_id, 0.0) - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            yield

    def pause(self, server_id: int | None, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + seconds
            self._paused_until[server_id] = max(until, self._paused_until.get(server_id, 0.0))


def run_bounded(
    items: list[tuple[int, int | None]],
    run: Callable[[int], float | None],
    *,
    per_server: int,
    on_done: Callable[[], None] = lambda: None,
) -> None:
    """Run ``run(item_id)`` for each (item id, server id), ``per_server`` at once per server.

    ``run`` returns the seconds a panel asked to wait (a 429's ``Retry-After``) or None;
    ``on_done`` is called in this thread after each item (the operation's heartbeat).
    Each thread keeps its database connection for all its items and closes it when the
    work runs out; the first error of any item is raised here once every thread stopped.
    """
    gate = ServerGate(per_server)
    work: queue.SimpleQueue[tuple[int, int | None]] = queue.SimpleQueue()
    for item in items:
        work.put(item)
    finished: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()

    def worker() -> None:
        try:
            while True:
                try:
                    item_id, server_id = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    with gate.slot(server_id):
                        retry_after = run(item_id)
                    if retry_after:
                        gate.pause(server_id, retry_after)
                except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                    finished.put(exc)
                    return
                finished.put(None)
        finally:
            connections.close_all()

    servers = {server_id for _, server_id in items}
    count = max(1, min(MAX_THREADS, per_server * len(servers), len(items)))
    threads = [threading.Thread(target=worker, name=f"bulk-{n}", daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    error: BaseException | None = None
    for _ in items:
        outcome = finished.get()
        if outcome is not None:
            error = error or outcome
            break
        on_done()
    for thread in threads:
        thread.join()
    if error is not None:
        raise error
