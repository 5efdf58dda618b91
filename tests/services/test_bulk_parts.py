"""A bulk operation spread over several runners (parts): each item once, the operation done
once every item is, and the bound on calls per server held by all of them together."""

from __future__ import annotations

import threading
import time
import types
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connections
from django.db.models import Count

from delivery.models import Server
from products.choices import BillingCycle
from services import bulk, tasks
from services.choices import BulkItemState, BulkStatus, ServiceAction, ServiceStatus
from services.models import BulkOperation, Service, ServiceEvent
from tests.celery_worker import CeleryProcesses, wait_until
from tests.factories import FakeServerFactory, ProductFactory, ServiceFactory
from tests.fakes import pterodactyl
from tests.fakes.modules import FakeModule
from tests.fakes.pterodactyl import server as fake_server

S = ServiceStatus


def active_services(customer, count: int, servers=None) -> list[int]:
    """``count`` active services of the test module in one INSERT, taking turns on
    ``servers`` (a new one by default): set-up, not under test."""
    servers = servers or [FakeServerFactory()]
    product = ProductFactory(module="test", module_config={"memory_mb": 512})
    made = Service.objects.bulk_create(
        ServiceFactory.build(
            customer=customer,
            product=product,
            server=servers[n % len(servers)],
            module="test",
            status=S.ACTIVE,
            external_id=f"res-{n}",
        )
        for n in range(count)
    )
    return [service.pk for service in made]


def running_operation(ids: list[int], user) -> BulkOperation:
    """A suspend of ``ids``, prepared and running, as its first task leaves it for its parts."""
    operation = BulkOperation.objects.create(
        action="suspend", params={"notify": False}, service_ids=ids, created_by=user
    )
    bulk.prepare(operation)
    BulkOperation.objects.filter(pk=operation.pk).update(status=BulkStatus.RUNNING)
    operation.refresh_from_db()
    return operation


def suspend_events(ids: list[int]) -> dict[int, int]:
    """Successful suspend events per service."""
    return dict(
        ServiceEvent.objects.filter(service__in=ids, action=ServiceAction.SUSPEND, error="")
        .values_list("service")
        .annotate(n=Count("pk"))
        .values_list("service", "n")
    )


class Calls:
    """Counts the test module's suspend calls: per service, and at once per server."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.per_service: defaultdict[int, int] = defaultdict(int)
        self.running: defaultdict[int, int] = defaultdict(int)
        self.peak: defaultdict[int, int] = defaultdict(int)
        self.wait_for = 0
        self.hold: dict[int, threading.Event] = {}
        self.entered: dict[int, threading.Event] = {}

    def suspend(self, module: FakeModule, service: Any) -> Any:
        with self.lock:
            self.per_service[service.pk] += 1
            self.running[service.server_id] += 1
            self.peak[service.server_id] = max(
                self.peak[service.server_id], self.running[service.server_id]
            )
            self.lock.notify_all()
            # Hold the first calls until the bound is reached (or a while has passed), so
            # that more at once than allowed would show.
            self.lock.wait_for(lambda: self.peak[service.server_id] >= self.wait_for, timeout=5)
        if service.pk in self.hold:
            self.entered[service.pk].set()
            self.hold[service.pk].wait(timeout=30)
        time.sleep(0.002)
        with self.lock:
            self.running[service.server_id] -= 1
        return FakeModule._run(module, "suspend", service.server)


@pytest.fixture
def calls(monkeypatch) -> Calls:
    counter = Calls()
    monkeypatch.setattr(
        FakeModule, "suspend", lambda module, service: counter.suspend(module, service)
    )
    return counter


@contextmanager
def in_thread(target, *args) -> Iterator[threading.Thread]:
    """Run ``target(*args)`` in a thread with its own connection, as another process would."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target(*args)
        except BaseException as exc:  # noqa: BLE001 - raised in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        thread.join(timeout=60)
        if errors:
            raise errors[0]


# The split of the bound ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "per_server", "expected"),
    [(2, 8, (2, 4)), (3, 8, (3, 2)), (4, 2, (2, 1)), (1, 8, (1, 8)), (2, 1, (1, 1))],
)
def test_the_parts_share_the_bound_on_calls_per_server(settings, parts, per_server, expected):
    settings.BULK_PARTS = parts
    settings.BULK_CALLS_PER_SERVER = per_server

    assert (bulk.parts(), bulk.calls_per_part()) == expected
    assert bulk.parts() * bulk.calls_per_part() <= per_server


def test_an_operation_is_not_spread_where_no_other_process_sees_its_rows(
    settings, customer, admin_user
):
    """SQLite, or a test's transaction: one runner, whatever the size."""
    settings.BULK_PARTS = 2
    operation = running_operation(
        active_services(customer, 2 * bulk.MIN_ITEMS_PER_PART), admin_user
    )

    assert bulk.planned_parts(operation) == 1


def test_a_part_queued_for_an_operation_that_ended_does_nothing(customer, admin_user):
    ids = active_services(customer, 3)
    operation = running_operation(ids, admin_user)
    BulkOperation.objects.filter(pk=operation.pk).update(status=BulkStatus.DONE)

    tasks.run_bulk_operation(operation.pk, part=1)

    assert set(operation.items.values_list("state", flat=True)) == {BulkItemState.PENDING}
    assert not Service.objects.filter(status=S.SUSPENDED).exists()


def test_the_items_are_walked_with_their_servers_taking_turns(customer, admin_user):
    """A selection made one server at a time is not walked one server at a time: each batch
    then calls every server, and the calls at once add up over them."""
    first, second = FakeServerFactory(), FakeServerFactory()
    ids = active_services(customer, 3, [first]) + active_services(customer, 2, [second])
    operation = running_operation(ids, admin_user)
    item = dict(operation.items.values_list("service_ref", "pk"))
    Service.objects.filter(pk=ids[4]).delete()  # its item stays, with no server

    walk = bulk.servers_taking_turns(operation.items.all())

    assert walk == [item[ids[0]], item[ids[3]], item[ids[4]], item[ids[1]], item[ids[2]]]


def test_a_part_leaves_an_item_another_runner_holds(customer, admin_user, calls):
    """Running (claimed by another runner) is not pending: only the one runner left, which
    knows the others are gone, carries it on."""
    first, second = active_services(customer, 2)
    operation = running_operation([first, second], admin_user)
    held = operation.items.get(service_ref=first)
    held.state = BulkItemState.RUNNING
    held.save()

    assert bulk.run_item(operation, held.pk, take_over=False) is None
    assert bulk.run_item(operation, operation.items.get(service_ref=second).pk, take_over=False)

    assert dict(calls.per_service) == {second: 1}
    held.refresh_from_db()
    assert held.state == BulkItemState.RUNNING
    bulk.run_item(operation, held.pk)
    assert dict(calls.per_service) == {first: 1, second: 1}


# Parts running at once (PostgreSQL: each runner a connection of its own) ----------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_parts_apply_each_item_once_and_together_keep_the_bound(
    settings, customer, admin_user, calls
):
    settings.BULK_PARTS = 2
    settings.BULK_CALLS_PER_SERVER = 4
    servers = [FakeServerFactory(), FakeServerFactory()]
    ids = active_services(customer, 120, servers)
    operation = running_operation(ids, admin_user)
    calls.wait_for = 4  # each part makes 2 at once per server: 4 only when both do

    with in_thread(bulk.run_part, operation.pk, 1):
        bulk.run_part(operation.pk, 0)

    operation.refresh_from_db()
    assert operation.status == BulkStatus.DONE
    assert set(operation.items.values_list("state", flat=True)) == {BulkItemState.DONE}
    assert dict(calls.per_service) == dict.fromkeys(ids, 1)
    assert suspend_events(ids) == dict.fromkeys(ids, 1)
    assert Service.objects.filter(pk__in=ids, status=S.SUSPENDED).count() == len(ids)
    # Both parts called at once, and never more than the bound together.
    assert dict(calls.peak) == {server.pk: 4 for server in servers}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_panel_calls_are_gathered_over_batches_before_they_are_made(
    monkeypatch, customer, admin_user, calls
):
    """Threads and connections serve several batches' calls, and a batch's last calls do
    not wait alone for the slowest server."""
    monkeypatch.setattr(bulk, "ITEMS_PER_BATCH", 4)
    monkeypatch.setattr(bulk, "CALLS_GATHERED", 6)
    made: list[int] = []
    run_bounded = bulk.bulk_calls.run_bounded

    def counted(items, run, **kwargs):
        made.append(len(items))
        run_bounded(items, run, **kwargs)

    monkeypatch.setattr(bulk.bulk_calls, "run_bounded", counted)
    ids = active_services(customer, 10)
    operation = running_operation(ids, admin_user)

    bulk.process(operation.pk)

    assert made == [8, 2]  # two batches of 4, then the last 2
    assert dict(calls.per_service) == dict.fromkeys(ids, 1)
    operation.refresh_from_db()
    assert operation.status == BulkStatus.DONE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_part_that_runs_out_of_items_leaves_the_end_to_the_one_still_running(
    settings, customer, admin_user, calls
):
    settings.BULK_PARTS = 2
    settings.BULK_CALLS_PER_SERVER = 4
    ids = active_services(customer, 20)
    operation = running_operation(ids, admin_user)
    # Part 1 starts its walk half-way: the first service it calls is held there.
    slow = sorted(operation.items.values_list("pk", "service_ref"))[len(ids) // 2][1]
    calls.hold[slow] = threading.Event()
    calls.entered[slow] = threading.Event()

    with in_thread(bulk.run_part, operation.pk, 1):
        assert calls.entered[slow].wait(timeout=30), "part 1 did not start"
        bulk.run_part(operation.pk, 0)
        # Part 1's other call at once may still be finishing: wait for all but the held one.
        done = operation.items.filter(state=BulkItemState.DONE)
        deadline = time.monotonic() + 30
        while done.count() < len(ids) - 1 and time.monotonic() < deadline:
            time.sleep(0.05)

        operation.refresh_from_db()
        assert operation.status == BulkStatus.RUNNING
        assert operation.items.get(service_ref=slow).state == BulkItemState.RUNNING
        assert operation.items.filter(state=BulkItemState.DONE).count() == len(ids) - 1
        calls.hold[slow].set()

    operation.refresh_from_db()
    assert operation.status == BulkStatus.DONE
    assert dict(calls.per_service) == dict.fromkeys(ids, 1)
    assert suspend_events(ids) == dict.fromkeys(ids, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_last_runner_carries_on_an_item_a_lost_runner_left_running(
    settings, customer, admin_user, calls
):
    """No other runner holds the operation's lock: the item's runner is gone."""
    settings.BULK_PARTS = 2
    ids = active_services(customer, 3)
    operation = running_operation(ids, admin_user)
    operation.items.filter(service_ref=ids[0]).update(state=BulkItemState.RUNNING)

    bulk.run_part(operation.pk, 1)

    operation.refresh_from_db()
    assert operation.status == BulkStatus.DONE
    assert suspend_events(ids) == dict.fromkeys(ids, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_large_operation_queues_its_other_parts_and_ends_alone_if_they_never_come(
    settings, customer, admin_user, calls
):
    settings.BULK_PARTS = 2
    ids = active_services(customer, 2 * bulk.MIN_ITEMS_PER_PART)
    operation = BulkOperation.objects.create(
        action="suspend", params={"notify": False}, service_ids=ids, created_by=admin_user
    )
    queued: list[int] = []

    bulk.process(operation.pk, spread=queued.append)

    assert queued == [2]
    operation.refresh_from_db()
    assert operation.status == BulkStatus.DONE
    assert suspend_events(ids) == dict.fromkeys(ids, 1)


# Through a real worker: the Pterodactyl module against the fake panel --------------------------

PER_SERVER = 4
PANEL_SERVICES = 2 * bulk.MIN_ITEMS_PER_PART


class PanelCalls:
    """Calls the fake panel is answering at once, counted in its latency's sleep."""

    def __init__(self, wait_for: int) -> None:
        self.lock = threading.Condition()
        self.running = 0
        self.peak = 0
        self.wait_for = wait_for

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.lock.notify_all()
            self.lock.wait_for(lambda: self.peak >= self.wait_for, timeout=5)
        time.sleep(seconds)
        with self.lock:
            self.running -= 1


def panel_services(customer, fake, count: int) -> list[int]:
    """``count`` running servers on the fake and an active service linked to each."""
    server = Server.objects.create(
        name="game panel",
        module="pterodactyl",
        hostname="127.0.0.1",
        port=int(fake.base_url.rsplit(":", 1)[1]),
        credentials={
            "scheme": "http",
            "application_key": fake.application_key,
            "client_key": fake.client_key,
        },
    )
    rows = []
    with fake.lock:
        owner = fake.add_user("bob@example.com", "bob", "Bob", "Owner")
        fake.add_node(
            fake.ids["location"], "parts", ip="198.51.100.7", ports=range(20_000, 20_000 + count)
        )
        for n in range(count):
            service_uuid = uuid.uuid4()
            made = fake.add_server(f"world {n}", owner["id"], external_id=str(service_uuid))
            made["_power"] = "running"
            rows.append(
                ServiceFactory.build(
                    uuid=service_uuid,
                    customer=customer,
                    product=None,
                    server=server,
                    module="pterodactyl",
                    status=S.ACTIVE,
                    billing_cycle=BillingCycle.MONTHLY,
                    external_id=str(made["id"]),
                    module_data={"server_id": made["id"], "identifier": made["identifier"]},
                )
            )
    return [service.pk for service in Service.objects.bulk_create(rows)]


@pytest.mark.redis
@pytest.mark.postgres
def test_two_worker_processes_suspend_a_panels_services_once_each_within_the_bound(
    celery_processes: CeleryProcesses, customer, admin_user, monkeypatch
):
    celery_processes.env.update(BULK_PARTS="2", BULK_CALLS_PER_SERVER=str(PER_SERVER))
    counted = PanelCalls(wait_for=PER_SERVER)  # 2 per part: the bound only when both call
    monkeypatch.setattr(fake_server, "time", types.SimpleNamespace(sleep=counted.sleep))
    with pterodactyl.serve() as fake:
        ids = panel_services(customer, fake, PANEL_SERVICES)
        fake.inject("*", latency=0.01)
        operation = BulkOperation.objects.create(
            action="suspend", params={"notify": False}, service_ids=ids, created_by=admin_user
        )
        celery_processes.start_worker()
        celery_processes.start_worker()

        tasks.run_bulk_operation.delay(operation.pk)

        def finished() -> bool:
            operation.refresh_from_db()
            return operation.status == BulkStatus.DONE

        wait_until(finished, timeout=90, message="the two workers did not finish the operation")
        suspends = fake.received("POST", "/api/application/servers/*/suspend")
        assert len(suspends) == len({call.path for call in suspends}) == PANEL_SERVICES
        assert all(server["status"] == "suspended" for server in fake.servers.values())
    assert suspend_events(ids) == dict.fromkeys(ids, 1)
    assert set(operation.items.values_list("state", flat=True)) == {BulkItemState.DONE}
    assert counted.peak == PER_SERVER
