"""The bound on calls a bulk action makes at once to one server, and the 429 pause."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from services.bulk_calls import ServerGate, run_bounded


class Counting:
    """``run`` for ``run_bounded``: counts the items running at once per server."""

    def __init__(self, servers: dict[int, int], seconds: float = 0.02) -> None:
        self.servers = servers  # item id -> server id
        self.seconds = seconds
        self.lock = threading.Lock()
        self.running: defaultdict[int, int] = defaultdict(int)
        self.peak: defaultdict[int, int] = defaultdict(int)
        self.order: list[int] = []

    def __call__(self, item_id: int) -> None:
        server_id = self.servers[item_id]
        with self.lock:
            self.running[server_id] += 1
            self.peak[server_id] = max(self.peak[server_id], self.running[server_id])
            self.order.append(item_id)
        time.sleep(self.seconds)
        with self.lock:
            self.running[server_id] -= 1


def test_a_server_never_takes_more_calls_at_once_than_its_bound():
    servers = {n: 1 + n % 2 for n in range(10)}
    run = Counting(servers)

    run_bounded(list(servers.items()), run, per_server=2)

    assert dict(run.peak) == {1: 2, 2: 2}
    assert sorted(run.order) == list(servers)


def test_a_server_at_its_bound_holds_up_no_other():
    """Items come server by server: the threads do not all queue for the first server."""
    servers = {n: 1 if n < 8 else 2 for n in range(10)}
    run = Counting(servers, seconds=0.05)

    run_bounded(list(servers.items()), run, per_server=2)

    # Server 2's items start among the first calls, not after server 1's eight.
    assert {8, 9} & set(run.order[:4])


def test_a_429_pauses_that_servers_next_calls_only():
    gate = ServerGate(per_server=4)
    for item_id, server_id in [(1, 1), (2, 1), (3, 2)]:
        gate.add(item_id, server_id)
    assert gate.take() == (1, 1)
    gate.done(1, retry_after=0.3)
    started = time.monotonic()

    other = gate.take()
    other_at = time.monotonic() - started
    paused = gate.take()
    paused_at = time.monotonic() - started

    assert other == (3, 2)
    assert other_at < 0.1
    assert paused == (2, 1)
    assert paused_at >= 0.29
    assert gate.take() is None
