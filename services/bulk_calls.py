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
from collections import defaultdict, deque
from collections.abc import Callable

from django.db import connections

#: Threads at most, whatever the number of servers: each holds a database connection.
MAX_THREADS = 32


class ServerGate:
    """Hands out items at most ``per_server`` at once per server; a 429 pauses that server.

    Items wait in a queue per server, and a free thread takes the next item of a server
    with a free slot, so that a server at its bound (or paused) holds up no other: a
    thread never waits for one server while another has work and room.
    """

    def __init__(self, per_server: int) -> None:
        self.per_server = per_server
        self._queues: dict[int | None, deque[int]] = {}
        self._running: defaultdict[int | None, int] = defaultdict(int)
        self._paused_until: dict[int | None, float] = {}
        self._changed = threading.Condition()

    def add(self, item_id: int, server_id: int | None) -> None:
        with self._changed:
            self._queues.setdefault(server_id, deque()).append(item_id)
            self._changed.notify()

    def take(self) -> tuple[int, int | None] | None:
        """The next item of a server with a free slot, its slot taken; None when no item is
        left. Waits while every server with items is at its bound or paused."""
        with self._changed:
            while True:
                now = time.monotonic()
                wake: float | None = None
                for server_id, waiting in list(self._queues.items()):
                    if not waiting:
                        del self._queues[server_id]
                        continue
                    paused = self._paused_until.get(server_id, 0.0) - now
                    if paused > 0:
                        wake = paused if wake is None else min(wake, paused)
                    elif self._running[server_id] < self.per_server:
                        self._running[server_id] += 1
                        # Round robin: this server goes behind the others.
                        self._queues[server_id] = self._queues.pop(server_id)
                        return waiting.popleft(), server_id
                if not self._queues:
                    return None
                self._changed.wait(wake)

    def done(self, server_id: int | None, retry_after: float | None = None) -> None:
        """The call ended: its slot is free; a 429's ``retry_after`` pauses the server."""
        with self._changed:
            self._running[server_id] -= 1
            if retry_after:
                until = time.monotonic() + retry_after
                self._paused_until[server_id] = max(until, self._paused_until.get(server_id, 0.0))
            self._changed.notify_all()


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
    for item_id, server_id in items:
        gate.add(item_id, server_id)
    finished: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()

    def worker() -> None:
        try:
            while (taken := gate.take()) is not None:
                item_id, server_id = taken
                retry_after = None
                try:
                    retry_after = run(item_id)
                except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                    finished.put(exc)
                    return
                finally:
                    gate.done(server_id, retry_after)
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
