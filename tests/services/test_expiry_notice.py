"""The notice that a service expires soon: once per paid period, by its periodic task.

The sweep claims the notices (their e-mail log rows) in batches and queues one task per
hundred after the commit; the worker renders and sends them. The tests run the sweep,
then the queued tasks' function directly (``Worker``), as the worker would.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from django.utils import timezone, translation

from automation import options
from clientxcms.celery import app as celery_app
from customers.mail import SENDING_STALE_AFTER
from customers.models import EmailLog, EmailStatus
from services import lifecycle, notices, sweeps, tasks
from services.choices import CancelWhen, EventSource, ServiceStatus
from services.models import Service
from tests.at_once import run_at_once
from tests.factories import CustomerFactory
from tests.fakes.mail import FlakyBackend

S = ServiceStatus


def in_days(days: float):
    return timezone.now() + timedelta(days=days)


class Worker:
    """The notices' tasks queued (``send_expiry_notices.delay``), and running them."""

    def __init__(self) -> None:
        self.queued: list[tuple[str, list[tuple[int, int]]]] = []
        self._lock = threading.Lock()

    def delay(self, claimed_at: str, claims: list[tuple[int, int]]) -> None:
        with self._lock:
            self.queued.append((claimed_at, claims))

    def run(self) -> int:
        """Run the tasks queued so far, each once, as a worker would; how many were sent."""
        with self._lock:
            queued, self.queued = self.queued, []
        return sum(tasks.send_expiry_notices(*args) for args in queued)


@pytest.fixture
def worker(monkeypatch) -> Worker:
    worker = Worker()
    monkeypatch.setattr(tasks.send_expiry_notices, "delay", worker.delay)
    return worker


@pytest.fixture
def sweep(worker, django_capture_on_commit_callbacks):
    """The expiry notices' sweep run now, its tasks queued after its commit (not run)."""

    def run():
        with django_capture_on_commit_callbacks(execute=True):
            return sweeps.notify_expiring(timezone.now())

    return run


@pytest.fixture
def notify(sweep, worker):
    """The sweep, then the worker: what the task does, end to end."""

    def run():
        result = sweep()
        worker.run()
        return result

    return run


def notices_logged():
    return list(EmailLog.objects.filter(kind="expiring_soon").order_by("pk"))


def test_a_service_expiring_within_the_notice_days_is_told_once(make_service, settings, notify):
    settings.SERVICE_EXPIRY_NOTICE_DAYS = 3
    soon = make_service(S.ACTIVE, expires_at=in_days(2))
    suspended = make_service(S.SUSPENDED, expires_at=in_days(1))
    later = make_service(S.ACTIVE, expires_at=in_days(5))
    pending = make_service(S.PENDING, expires_at=in_days(2))

    first = notify()
    second = notify()

    assert (first.done, second.done) == (2, 0)
    assert [log.reference for log in notices_logged()] == [
        f"service:{soon.pk}:period:0",
        f"service:{suspended.pk}:period:0",
    ]
    assert {log.status for log in notices_logged()} == {EmailStatus.SENT}
    assert len(mail.outbox) == 2
    message = next(m for m in mail.outbox if soon.name in m.subject)
    assert message.subject.startswith(f"Your service {soon.name} expires on ")
    assert message.to == [soon.customer.user.email]
    assert message.alternatives  # the HTML version
    # The log keeps the subject, written when the worker rendered it.
    assert {log.subject for log in notices_logged()} == {m.subject for m in mail.outbox}
    assert later.pk not in {int(log.reference.split(":")[1]) for log in notices_logged()}
    assert pending.pk not in {int(log.reference.split(":")[1]) for log in notices_logged()}


def test_a_service_whose_end_is_scheduled_or_one_time_is_not_told(make_service, customer, notify):
    ending = make_service(S.ACTIVE, expires_at=in_days(2))
    lifecycle.cancel(
        ending, actor=customer.user, source=EventSource.CLIENT, when=CancelWhen.END_OF_PERIOD
    )
    make_service(S.ACTIVE, expires_at=None, billing_cycle="onetime")

    assert notify().done == 0
    assert notices_logged() == []


def test_a_renewal_makes_the_next_periods_notice_due(make_service, admin_user, notify):
    service = make_service(S.ACTIVE, expires_at=in_days(2), billing_cycle="weekly")
    notify()
    lifecycle.renew(service.pk, actor=admin_user, source=EventSource.ADMIN)
    assert notify().done == 0  # nine days left: not yet

    with time_machine.travel(in_days(7), tick=False):
        result = notify()

    assert result.done == 1
    assert [log.reference for log in notices_logged()] == [
        f"service:{service.pk}:period:0",
        f"service:{service.pk}:period:1",
    ]


def test_moving_the_expiration_by_a_few_days_sends_no_second_notice(
    make_service, admin_user, notify
):
    service = make_service(S.ACTIVE, expires_at=in_days(2))
    notify()
    lifecycle.shift_expiration(service.pk, days=-1, actor=admin_user, source=EventSource.ADMIN)

    assert notify().done == 0
    assert len(notices_logged()) == 1


def test_a_failed_send_is_tried_again_by_the_next_sweep(make_service, sweep, worker):
    """The sweep only claims: the failure is the worker's, logged on the row (not in the
    sweep's result, as when the sweep sent the e-mails itself), and the next sweep
    claims the notice again."""
    service = make_service(S.ACTIVE, expires_at=in_days(2))

    claimed = sweep()
    with override_settings(EMAIL_BACKEND="tests.fakes.mail.FailingBackend"):
        assert worker.run() == 0
    [log] = notices_logged()
    assert (claimed.done, log.status) == (1, EmailStatus.FAILED)
    assert log.error.startswith("ConnectionRefusedError")
    assert log.subject.startswith(f"Your service {service.name} expires on ")

    retried = sweep()
    assert worker.run() == 1

    log.refresh_from_db()
    assert (retried.done, log.status, log.error, log.attempts) == (1, EmailStatus.SENT, "", 2)
    assert len(mail.outbox) == 1
    assert Service.objects.get(pk=service.pk).status == S.ACTIVE


def test_a_refused_send_fails_alone_and_the_tasks_others_are_sent(make_service, sweep, worker):
    services = [make_service(S.ACTIVE, expires_at=in_days(2)) for _ in range(3)]
    sweep()
    FlakyBackend.failures_left = 1

    with override_settings(EMAIL_BACKEND="tests.fakes.mail.FlakyBackend"):
        assert worker.run() == 2

    statuses = Counter(log.status for log in notices_logged())
    assert statuses == {EmailStatus.SENT: 2, EmailStatus.FAILED: 1}
    assert len(mail.outbox) == 2
    assert sweep().done == 1  # the failed one, claimed again
    assert worker.run() == 1
    assert len(mail.outbox) == len(services)


def test_a_notice_another_sweep_claimed_first_counts_as_skipped(
    make_service, sweep, worker, monkeypatch
):
    service = make_service(S.ACTIVE, expires_at=in_days(2))
    claim_many = notices.mail.claim_many

    def another_sweep_first(kind, wanted):
        # Between this sweep's read of the due rows and its claim, another sweep claimed
        # the notice and its worker sent it.
        EmailLog.objects.create(
            customer=service.customer,
            kind=kind,
            reference=notices.reference(service),
            to="x@example.com",
            status=EmailStatus.SENT,
        )
        return claim_many(kind, wanted)

    monkeypatch.setattr(notices.mail, "claim_many", another_sweep_first)

    assert sweep().counts() == {"done": 0, "skipped": 1, "failed": 0}
    assert worker.queued == []


def test_the_notice_days_staff_set_replace_the_environments(make_service, settings, notify):
    settings.SERVICE_EXPIRY_NOTICE_DAYS = 3
    service = make_service(S.ACTIVE, expires_at=in_days(5))
    assert list(sweeps.notify_expiring_due(timezone.now())) == []

    options.change("services.expiry_notice_days", 7, actor=None)

    assert list(sweeps.notify_expiring_due(timezone.now())) == [service]
    assert notify().done == 1


def test_the_due_query_answers_for_the_moment_asked(make_service, settings):
    settings.SERVICE_EXPIRY_NOTICE_DAYS = 3
    service = make_service(S.ACTIVE, expires_at=in_days(10))

    assert list(sweeps.notify_expiring_due(timezone.now())) == []
    assert list(sweeps.notify_expiring_due(in_days(8))) == [service]
    assert list(sweeps.notify_expiring_due(in_days(11))) == []  # expired by then


# The sweep claims and queues; the worker sends --------------------------------------------


def test_the_sweep_queues_one_task_per_hundred_after_its_commit(
    make_service, worker, monkeypatch, django_capture_on_commit_callbacks
):
    services = [make_service(S.ACTIVE, expires_at=in_days(2)) for _ in range(5)]
    monkeypatch.setattr(notices, "BATCH_SIZE", 3)  # two batches
    monkeypatch.setattr(notices, "ENQUEUED_TOGETHER", 2)  # tasks of two

    with django_capture_on_commit_callbacks() as callbacks:
        result = sweeps.notify_expiring(timezone.now())
    assert worker.queued == []  # nothing queued before the commit
    assert len(callbacks) == 2  # one per batch
    for callback in callbacks:
        callback()

    assert result.counts() == {"done": 5, "skipped": 0, "failed": 0}
    assert [len(claims) for _, claims in worker.queued] == [2, 1, 2]
    logs = {log.pk: log for log in notices_logged()}
    queued = [pair for _, claims in worker.queued for pair in claims]
    # Each notice queued once, with its service; claimed, not sent yet.
    assert sorted(queued) == sorted(
        (pk, int(log.reference.split(":")[1])) for pk, log in logs.items()
    )
    assert {service_id for _, service_id in queued} == {s.pk for s in services}
    assert {log.status for log in logs.values()} == {EmailStatus.SENDING}
    assert {log.subject for log in logs.values()} == {""}  # rendered by the worker
    assert mail.outbox == []
    assert worker.run() == 5
    assert len(mail.outbox) == 5


def count_queries(django_assert_max_num_queries, run) -> int:
    with django_assert_max_num_queries(100) as context:
        run()
    return len(context.captured_queries)


def test_a_sweep_asks_the_same_queries_for_5_due_services_as_for_40(
    make_service, sweep, worker, django_assert_max_num_queries, monkeypatch
):
    sweep()  # nothing due: reads (and caches) the notice days staff set
    counts = []
    for size in (5, 40):
        for _ in range(size):
            make_service(S.ACTIVE, expires_at=in_days(2))
        counts.append(count_queries(django_assert_max_num_queries, sweep))
        worker.run()
    assert EmailLog.objects.filter(status=EmailStatus.SENT).count() == 45
    assert counts[0] == counts[1]
    # The due keys; then per batch: the due rows locked, one INSERT … RETURNING of their
    # claims, and the batch's savepoint and its release.
    assert counts[0] == 1 + 4

    # Per batch, not per service: 20 in batches of 7 are three batches.
    monkeypatch.setattr(notices, "BATCH_SIZE", 7)
    for _ in range(20):
        make_service(S.ACTIVE, expires_at=in_days(2))
    assert count_queries(django_assert_max_num_queries, sweep) == 1 + 3 * 4


def test_the_worker_reads_once_then_takes_and_marks_each_notice(
    make_service, sweep, worker, django_assert_num_queries
):
    for _ in range(4):
        make_service(S.ACTIVE, expires_at=in_days(2))
    sweep()

    # The claimed rows, the services with their customers; then per notice its
    # compare-and-set and its mark as sent.
    with django_assert_num_queries(2 + 2 * 4):
        assert worker.run() == 4


def test_two_sweeps_before_the_worker_runs_claim_each_notice_once(make_service, sweep, worker):
    make_service(S.ACTIVE, expires_at=in_days(2))

    first, second = sweep(), sweep()

    assert (first.done, second.done) == (1, 0)
    assert len(worker.queued) == 1


def test_a_task_run_twice_sends_each_notice_once(make_service, sweep, worker):
    make_service(S.ACTIVE, expires_at=in_days(2))
    make_service(S.ACTIVE, expires_at=in_days(2))
    sweep()
    [args] = worker.queued

    assert tasks.send_expiry_notices(*args) == 2
    assert tasks.send_expiry_notices(*args) == 0  # the message delivered again
    assert len(mail.outbox) == 2


def test_a_notice_claimed_but_never_sent_is_claimed_again_once_stale(make_service, sweep, worker):
    """Its task was lost (the queue emptied, a worker killed mid-send): the row stays
    ``sending``; past ``SENDING_STALE_AFTER`` the next sweep claims it again, and the lost
    task, if it ever runs, sends nothing."""
    service = make_service(S.ACTIVE, expires_at=in_days(2))
    sweep()
    lost = worker.queued.pop()
    assert sweep().done == 0  # still being sent, as far as anyone knows

    with time_machine.travel(timezone.now() + SENDING_STALE_AFTER + timedelta(seconds=1)):
        assert [s.pk for s in sweeps.notify_expiring_due(timezone.now())] == [service.pk]
        assert sweep().done == 1
    assert tasks.send_expiry_notices(*lost) == 0
    assert worker.run() == 1

    [log] = notices_logged()
    assert (log.status, log.attempts) == (EmailStatus.SENT, 2)
    assert len(mail.outbox) == 1


def test_a_service_renewed_before_its_notice_is_sent_is_not_told(
    make_service, admin_user, sweep, worker
):
    service = make_service(S.ACTIVE, expires_at=in_days(2), billing_cycle="weekly")
    sweep()
    lifecycle.renew(service.pk, actor=admin_user, source=EventSource.ADMIN)

    assert worker.run() == 0

    assert mail.outbox == []
    assert notices_logged() == []  # released: the next period's notice comes in its time


def test_the_notice_speaks_each_customers_language(make_service, sweep, worker):
    french = CustomerFactory(language="fr")
    english = CustomerFactory(language="en")
    for customer in (french, english):
        make_service(S.ACTIVE, expires_at=in_days(2), customer=customer, name=f"srv-{customer.pk}")
    sweep()

    assert worker.run() == 2  # one task for both

    by_address = {message.to[0]: message for message in mail.outbox}
    fr, en = by_address[french.user.email], by_address[english.user.email]
    assert fr.subject.startswith(f"Votre service srv-{french.pk} expire le ")
    assert "Renouvelez-le" in fr.body
    assert '<html lang="fr">' in fr.alternatives[0][0]
    assert en.subject.startswith(f"Your service srv-{english.pk} expires on ")
    assert "Renew it" in en.body
    assert translation.get_language() != "fr"


def test_in_process_the_notices_are_sent_at_the_commit(
    make_service, monkeypatch, django_capture_on_commit_callbacks
):
    """The embedded mode runs tasks in-process (``CELERY_TASK_ALWAYS_EAGER``): the sweep's
    commit sends them there and then."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    make_service(S.ACTIVE, expires_at=in_days(2))

    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps.notify_expiring(timezone.now()).done == 1

    assert len(mail.outbox) == 1
    assert [log.status for log in notices_logged()] == [EmailStatus.SENT]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_notice_once(make_service, worker, monkeypatch):
    """Two workers run the sweep at the same moment: the locked batches and the e-mail
    log's unique (kind, reference) claim each notice once between them."""
    services = [make_service(S.ACTIVE, expires_at=in_days(2)) for _ in range(60)]
    monkeypatch.setattr(notices, "BATCH_SIZE", 7)  # many batches, so that the two interleave
    results = run_at_once(lambda: sweeps.notify_expiring(timezone.now()))
    worker.run()

    assert all(not isinstance(result, BaseException) for result in results), results
    assert sum(result.done for result in results) == len(services)
    logs = notices_logged()
    assert Counter(log.reference for log in logs) == {
        f"service:{service.pk}:period:0": 1 for service in services
    }
    assert {log.status for log in logs} == {EmailStatus.SENT}
    assert len(mail.outbox) == len(services)
