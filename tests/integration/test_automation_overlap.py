"""Two runs of every periodic task at once, on PostgreSQL, over 2,000 due rows (issue 13).

WHMCS makes duplicate invoices when two crons overlap and FOSSBilling sent a reminder on
every cron run: here each task of the timeline is run by two threads at once, each with
its own database connection, started together by a barrier, the way two workers would
run it when beat's tick and staff's "Run now" meet. Between the steps the test moves the
dates by UPDATEs (set-up, not a change under test) so that the next task is due.

"No duplicate" is counted, not sampled: every invoice line, reminder, e-mail (its log row
and the message that left), module call and history event is counted per service,
invoice or order, and each count must be exactly one, over exactly the 2,000 rows; the
two runs' results add up to 2,000 done with no failure, and a third, sequential run
finds nothing due at all.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any, cast

import pytest
from django.core import mail
from django.db import connections
from django.db.models.signals import post_save
from django.utils import timezone

from automation import registry
from billing import orders, pdf
from billing.choices import InvoiceStatus, LineKind, OrderStatus
from billing.models import CompanyProfile, Invoice, InvoiceLine, Order
from billing.orders import ItemSpec
from clientxcms.celery import app as celery_app
from clientxcms.claims import ClaimResult
from customers.models import Customer, EmailLog, EmailStatus
from delivery.models import Server
from products.choices import BillingCycle
from products.models import Product
from services.choices import EventSource, OperationState, ServiceStatus
from services.models import Service, ServiceEvent
from tests.factories import CustomerFactory, FakeServerFactory, ProductFactory, ProductPriceFactory
from tests.fakes.modules import FakeModule

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

#: Due rows per step.
DUE = 2_000
#: Unpaid orders: fewer, because each is placed through ``place_order`` (its items, its
#: issued invoice), and placing and cancelling one takes about 45 ms here: 2,000 would add
#: a minute and a half to a test that already takes minutes, for the same claim loop the
#: other steps run 2,000 times.
ORDERS = 500
CUSTOMERS = 10
#: How long one run of a task may take before the test gives up on its thread.
RUN_TIMEOUT = 600


# Counting what happened, from any thread -------------------------------------------------


class Tally:
    """Counts per key, by category, written by both runs' threads under one lock; ``take``
    hands over what was counted since the last look and starts again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, Counter[int]] = defaultdict(Counter)

    def add(self, category: str, key: int) -> None:
        with self._lock:
            self._counts[category][key] += 1

    def take(self) -> dict[str, Counter[int]]:
        with self._lock:
            counts, self._counts = self._counts, defaultdict(Counter)
        return counts


@pytest.fixture
def module_calls(monkeypatch) -> Tally:
    """The test module's ``suspend`` and ``terminate`` calls, per service."""
    tally = Tally()

    def recording(operation: str) -> Callable[..., Any]:
        original = getattr(FakeModule, operation)

        def call(module: FakeModule, service: Service) -> Any:
            tally.add(operation, service.pk)
            return original(module, service)

        return call

    for operation in ("suspend", "terminate"):
        monkeypatch.setattr(FakeModule, operation, recording(operation))
    return tally


@pytest.fixture
def cancellations(monkeypatch) -> Iterator[Tally]:
    """Invoices moved to cancelled (a save of the status to cancelled: ``invoices.cancel``
    writes it only when the invoice was not cancelled yet), and orders handed to
    ``orders.cancel_order``, per row."""
    tally = Tally()

    def invoice_saved(sender: type[Invoice], instance: Invoice, **kwargs: Any) -> None:
        fields = kwargs.get("update_fields") or ()
        if instance.status == InvoiceStatus.CANCELLED and "status" in fields:
            tally.add("invoice", instance.pk)

    original = orders.cancel_order

    def cancel_order(order: Order, **kwargs: Any) -> Order:
        tally.add("order", order.pk)
        return original(order, **kwargs)

    monkeypatch.setattr(orders, "cancel_order", cancel_order)
    post_save.connect(invoice_saved, sender=Invoice, weak=False, dispatch_uid="overlap-cancel")
    yield tally
    post_save.disconnect(sender=Invoice, dispatch_uid="overlap-cancel")


class Mailbox:
    """The e-mails sent since the last look: their log rows and the messages that left."""

    def __init__(self) -> None:
        self.last_log = 0
        self.last_message = len(mail.outbox)

    def take(self) -> list[EmailLog]:
        logs = list(EmailLog.objects.filter(pk__gt=self.last_log).order_by("pk"))
        messages = len(mail.outbox) - self.last_message
        self.last_log = logs[-1].pk if logs else self.last_log
        self.last_message = len(mail.outbox)
        # Each log row is one e-mail that left, once: a row sent twice would add a message.
        assert messages == len(logs)
        assert {log.status for log in logs} <= {EmailStatus.SENT}
        return logs


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


# Running a task twice at once -------------------------------------------------------------


def at_once(key: str) -> list[ClaimResult]:
    """Run the registered task ``key`` in two threads started together; both results."""
    task = registry.find(key)
    barrier = threading.Barrier(2)
    results: dict[int, ClaimResult] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = task.run(timezone.now())
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(RUN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), f"{key} did not finish"
    if errors:
        raise errors[0]
    return [results[0], results[1]]


def run_at_once(key: str, *, due: int = DUE) -> None:
    """Two runs of ``key`` at once handle the ``due`` rows between them, each once; a
    third run, alone, then finds nothing due at all."""
    results = at_once(key)
    assert_shared(results, due)
    assert registry.find(key).run(timezone.now()).counts() == {
        "done": 0,
        "skipped": 0,
        "failed": 0,
    }


def assert_shared(results: list[ClaimResult], due: int) -> None:
    """Nothing failed, the runs' done add up to ``due``, and each did part of it (they
    really ran at once); what a run skipped is what the other held or had done."""
    assert [result.failed for result in results] == [[]] * len(results)
    assert sum(result.done for result in results) == due
    assert all(result.done > 0 for result in results), [r.counts() for r in results]


def assert_once_each(counts: Counter[Any], expected: Iterable[Any]) -> None:
    """``counts`` has exactly the ``expected`` keys, each counted once."""
    twice = {key: count for key, count in counts.items() if count != 1}
    assert twice == {}
    assert set(counts) == set(expected)


def per_service_of_events(logs: list[EmailLog]) -> Counter[int]:
    """E-mails about services' events ("service-event:<id>"), counted per service."""
    event_ids = [int(log.reference.removeprefix("service-event:")) for log in logs]
    events = dict(ServiceEvent.objects.filter(pk__in=event_ids).values_list("pk", "service_id"))
    return Counter(events[pk] for pk in event_ids)


def assert_mails(logs: list[EmailLog], kind: str, references: Iterable[str]) -> None:
    """The e-mails sent are exactly one of ``kind`` per reference."""
    assert Counter(log.kind for log in logs) == {kind: len(logs)}
    assert_once_each(Counter(log.reference for log in logs), references)


def assert_events(services: list[int], action: str) -> None:
    """Each of ``services`` has exactly one ``action`` event, without error, and no other
    event of that action was written."""
    events = ServiceEvent.objects.filter(action=action)
    assert not events.exclude(error="").exists()
    assert_once_each(Counter(events.values_list("service_id", flat=True)), services)


def histories() -> dict[int, list[str]]:
    """Each service's history: its events' actions, in order."""
    actions: dict[int, list[str]] = defaultdict(list)
    for service_id, action in ServiceEvent.objects.order_by("pk").values_list(
        "service_id", "action"
    ):
        actions[service_id].append(action)
    return actions


# The data ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def timeline_settings(settings, monkeypatch) -> None:
    settings.SERVICE_EXPIRY_NOTICE_DAYS = 3
    settings.SERVICE_TERMINATION_DAYS = 14
    settings.RENEWAL_INVOICE_DAYS = {"monthly": 7}
    settings.INVOICE_REMINDER_DAYS = [-7, -3, -1, 1, 3]
    settings.ORDER_UNPAID_CANCEL_DAYS = 14
    # The e-mails a commit queues are sent there and then, in the committing thread.
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    # The invoice's PDF, which WeasyPrint lays out in a fifth of a second, is attached as
    # a stand-in: 2,000 layouts would take minutes and test nothing of the overlap.
    monkeypatch.setattr(pdf, "render_invoice_pdf", lambda invoice: b"%PDF-1.7 stand-in")
    # Made once here: two threads asking for it first would both create it.
    CompanyProfile.current()


@pytest.fixture
def customers() -> list[Customer]:
    # factory_boy types XFactory() as the factory, not the model it returns.
    return [cast(Customer, CustomerFactory()) for _ in range(CUSTOMERS)]


@pytest.fixture
def product() -> Product:
    product = cast(Product, ProductFactory(module="test", module_config={"memory_mb": 512}))
    ProductPriceFactory(product=product, cycle=BillingCycle.MONTHLY, price=Decimal("9.99"))
    return product


def make_services(
    customers: list[Customer],
    product: Product,
    cohort: str,
    each: Callable[[int], dict[str, Any]] = lambda n: {},
    **fields: Any,
) -> list[int]:
    """``DUE`` active monthly services on one test-module server, written in bulk (set-up,
    not a state change under test), with ``fields`` and ``each(n)``'s own; their keys in
    order."""
    server = cast(Server, FakeServerFactory())
    now = timezone.now()
    rows = [
        Service(
            name=f"{cohort} {n}",
            customer=customers[n % len(customers)],
            product=product,
            module="test",
            server=server,
            status=ServiceStatus.ACTIVE,
            price=Decimal("9.99"),
            initial_price=Decimal("9.99"),
            billing_cycle=BillingCycle.MONTHLY,
            external_id=f"res-{cohort}-{n}",
            created_at=now - dt.timedelta(days=30),
            **fields,
            **each(n),
        )
        for n in range(DUE)
    ]
    return sorted(service.pk for service in Service.objects.bulk_create(rows))


def ago(**delta: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(**delta)


# The timeline of one cohort: renewal invoice to termination ---------------------------------


def test_invoices_reminders_notices_expiry_and_termination_happen_once_each(
    customers, product, module_calls, cancellations, mailbox
):
    services = make_services(
        customers, product, "timeline", expires_at=timezone.now() + dt.timedelta(days=2)
    )
    cohort = Service.objects.filter(pk__in=services)

    # 1. Renewal invoices, 7 days ahead of a monthly expiration: one line, one invoice,
    #    one "invoice issued" e-mail per service.
    run_at_once("billing.renewal_invoices")
    lines = InvoiceLine.objects.filter(kind=LineKind.RENEWAL)
    assert_once_each(Counter(lines.values_list("service_id", flat=True)), services)
    invoices = Invoice.objects.filter(lines__in=lines)
    assert_once_each(
        Counter(invoices.values_list("pk", flat=True)),
        Invoice.objects.values_list("pk", flat=True),
    )
    assert Invoice.objects.filter(status=InvoiceStatus.UNPAID).count() == DUE
    numbers = list(Invoice.objects.values_list("number", flat=True))
    assert_mails(mailbox.take(), "invoice_issued", [f"invoice:{number}" for number in numbers])

    # 2. The "expires soon" notice, 3 days ahead: one per service.
    run_at_once("services.expiry_notices")
    assert_mails(mailbox.take(), "expiring_soon", [f"service:{pk}:period:0" for pk in services])

    # 3. The reminder 3 days before the due date, of invoices issued long before it.
    Invoice.objects.update(issued_at=ago(days=10))
    run_at_once("billing.invoice_reminders")
    assert_mails(mailbox.take(), "invoice_reminder", [f"invoice:{number}:-3" for number in numbers])

    # 4. Expired: one event, one call to suspend the resource, one e-mail per service.
    cohort.update(expires_at=ago(hours=1))
    run_at_once("services.expire")
    assert_events(services, "expire")
    assert module_calls.take() == {"suspend": Counter(dict.fromkeys(services, 1))}
    logs = mailbox.take()
    assert {log.kind for log in logs} == {"expired"}
    assert_once_each(per_service_of_events(logs), services)

    # 5. Terminated after the 14 days: one event, one call, one e-mail per service, and
    #    the unpaid renewal invoice cancelled once.
    cohort.update(expires_at=ago(days=15))
    run_at_once("services.terminate")
    assert_events(services, "terminate")
    assert module_calls.take() == {"terminate": Counter(dict.fromkeys(services, 1))}
    logs = mailbox.take()
    assert {log.kind for log in logs} == {"terminated"}
    assert_once_each(per_service_of_events(logs), services)
    assert cancellations.take() == {
        "invoice": Counter(Invoice.objects.values_list("pk", flat=True))
    }
    assert not Invoice.objects.exclude(status=InvoiceStatus.CANCELLED).exists()

    # Each service's history: one event per step, in order.
    assert histories() == dict.fromkeys(services, ["expire", "terminate"])
    assert set(cohort.values_list("status", flat=True)) == {ServiceStatus.TERMINATED}


# Retried operations and scheduled cancellations ------------------------------------------


def test_retried_suspensions_and_scheduled_cancellations_happen_once_each(
    customers, product, module_calls, mailbox
):
    # A suspension whose first call failed with an error worth retrying, due again now
    # (what ``lifecycle._fail`` leaves on the service): its own claim token, and a due
    # time a second apart, so that both runs of a pass read the same earliest 1,000.
    first_due = ago(minutes=1) - dt.timedelta(seconds=DUE)
    services = make_services(
        customers,
        product,
        "retried",
        each=lambda n: {
            "operation_token": uuid.uuid4(),
            "operation_due_at": first_due + dt.timedelta(seconds=n),
        },
        expires_at=timezone.now() + dt.timedelta(days=20),
        operation="suspend",
        operation_state=OperationState.RETRYING,
        operation_started_at=ago(minutes=10),
        operation_attempts=1,
        operation_params={
            "actor": None,
            "source": EventSource.AUTOMATION,
            "reason": "Abuse report",
            "notify": True,
            "reference": "",
            "changes": {},
        },
        last_delivery_error="The test panel is down.",
    )
    cohort = Service.objects.filter(pk__in=services)

    # 6a. The retries: a pass takes over at most ``resume_due``'s limit (1,000), so beat's
    #     next tick goes on; two ticks of two runs at once take over all 2,000.
    task = "services.resume_operations"
    passes = [at_once(task), at_once(task)]
    assert_shared([result for both in passes for result in both], DUE)
    assert registry.find(task).run(timezone.now()).counts() == {
        "done": 0,
        "skipped": 0,
        "failed": 0,
    }
    assert_events(services, "suspend")
    assert module_calls.take() == {"suspend": Counter(dict.fromkeys(services, 1))}
    logs = mailbox.take()
    assert {log.kind for log in logs} == {"suspended"}
    assert_once_each(per_service_of_events(logs), services)
    assert set(cohort.values_list("status", "operation")) == {(ServiceStatus.SUSPENDED, "")}

    # 6b. Their cancellation at the end of the period has come.
    cohort.update(cancel_at=ago(minutes=5), cancel_reason="Moving elsewhere")
    run_at_once("services.cancel_scheduled")
    assert_events(services, "cancel")
    assert module_calls.take() == {"terminate": Counter(dict.fromkeys(services, 1))}
    logs = mailbox.take()
    assert {log.kind for log in logs} == {"cancelled"}
    assert_once_each(per_service_of_events(logs), services)

    assert histories() == dict.fromkeys(services, ["suspend", "cancel"])
    assert set(cohort.values_list("status", flat=True)) == {ServiceStatus.CANCELLED}


# Unpaid new orders --------------------------------------------------------------------------


def test_unpaid_orders_and_their_invoices_are_cancelled_once_each(
    customers, product, cancellations, mailbox
):
    FakeServerFactory()  # room for the orders' services
    for n in range(ORDERS):
        orders.place_order(
            customers[n % len(customers)],
            items=[ItemSpec(product=product, billing_cycle=BillingCycle.MONTHLY)],
            actor=None,
            notify=False,
        )
    Order.objects.update(created_at=ago(days=15))
    placed = list(Order.objects.values_list("pk", "invoice_id"))

    run_at_once("billing.unpaid_orders", due=ORDERS)

    counted = cancellations.take()
    assert_once_each(counted["order"], [order for order, _invoice in placed])
    assert_once_each(counted["invoice"], [invoice for _order, invoice in placed])
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.CANCELLED}
    assert set(Invoice.objects.values_list("status", flat=True)) == {InvoiceStatus.CANCELLED}
    assert mailbox.take() == []  # cancelling an unpaid order e-mails nobody
