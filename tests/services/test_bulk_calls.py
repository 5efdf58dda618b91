"""The bound on calls a bulk action makes at once to one server, and the 429 pause."""

from __future__ import annotations

import threading
import time

from services.bulk_calls import ServerGate


def test_a_server_never_takes_more_calls_at_once_than_its_bound():
    gate = ServerGate(per_server=2)
    lock = threading.Lock()
    running = {1: 0, 2: 0}
    peak = {1: 0, 2: 0}

    def call(server_id: int) -> None:
        with gate.slot(server_id):
            with lock:
                running[server_id] += 1
                peak[server_id] = max(peak[server_id], running[server_id])
            time.sleep(0.05)
            with lock:
                running[server_id] -= 1

    threads = [threading.Thread(target=call, args=(1 + n % 2,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert peak == {1: 2, 2: 2}


def test_a_429_pauses_that_servers_next_calls_only():
    gate = ServerGate(per_server=4)
    gate.pause(1, 0.3)
    started = time.monotonic()

    with gate.slot(2):
        other = time.monotonic() - started
    with gate.slot(1):
        paused = time.monotonic() - started

    assert other < 0.1
    assert paused >= 0.29
