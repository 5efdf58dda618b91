"""The e-mail of each ServiceEvent that notifies: text and HTML, in the customer's
language, logged once per event (``service-event:<id>``) however often the task runs,
and retried by Celery when the mail server is away."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.test import override_settings
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.timezone import localtime

from customers.models import EmailLog, EmailStatus
from services import notifications, tasks
from services.actions import CATALOGUE
from services.choices import EventSource, ServiceAction
from services.models import ServiceEvent

A = ServiceAction


def event_for(service, action: str, **fields) -> ServiceEvent:
    return ServiceEvent.objects.create(
        service=service, source=EventSource.ADMIN, action=action, **fields
    )


def test_every_action_that_notifies_has_a_kind_in_the_log():
    assert set(notifications.KINDS) == set(notifications.NOTIFIED_ACTIONS)
    assert len(set(notifications.KINDS.values())) == len(notifications.KINDS)


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        (A.DELIVER, "delivered"),
        (A.SUSPEND, "suspended"),
        (A.UNSUSPEND, "unsuspended"),
        (A.EXPIRE, "expired"),
        (A.RENEW, "renewed"),
        (A.CANCEL, "cancelled"),
        (A.SCHEDULE_CANCEL, "cancellation_scheduled"),
        (A.TERMINATE, "terminated"),
    ],
)
def test_each_event_sends_one_email_with_html_and_logs_it(action, kind, make_service, mailoutbox):
    service = make_service(cancel_at=timezone.now() + timedelta(days=3))
    event = event_for(service, action, reason="asked by the customer")

    assert tasks.send_service_notification(event.pk) is True
    assert tasks.send_service_notification(event.pk) is False  # the task ran twice

    [message] = mailoutbox
    assert message.to == ["bob@example.com"]
    subject = CATALOGUE[action].notify_subject.format(name=service.name)
    assert message.subject == subject
    assert "Reason: asked by the customer" in message.body
    assert f"Service reference: {service.uuid}" in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert f"<h1>{subject}</h1>" in html
    assert "asked by the customer" in html
    row = EmailLog.objects.get()
    assert (row.customer, row.kind, row.reference) == (
        service.customer,
        kind,
        f"service-event:{event.pk}",
    )
    assert (row.to, row.subject, row.status) == ("bob@example.com", subject, EmailStatus.SENT)


def test_an_event_that_does_not_notify_sends_and_logs_nothing(make_service, mailoutbox):
    event = event_for(make_service(), A.SHIFT_EXPIRATION)

    assert tasks.send_service_notification(event.pk) is False
    assert mailoutbox == []
    assert not EmailLog.objects.exists()


def test_the_delivery_email_gives_the_address_but_no_secret(make_service, mailoutbox):
    service = make_service(
        module_data={"hostname": "vps-1.example.net", "root_password": "s3cret-Pa55"}
    )

    notifications.send(event_for(service, A.DELIVER).pk)

    [message] = mailoutbox
    [(html, _mimetype)] = message.alternatives
    assert "Address: vps-1.example.net" in message.body
    assert "vps-1.example.net" in html
    assert "s3cret-Pa55" not in message.body
    assert "s3cret-Pa55" not in html


def test_a_delivery_without_a_known_address_says_so_without_one(make_service, mailoutbox):
    notifications.send(event_for(make_service(module_data={}), A.DELIVER).pk)

    assert "Address:" not in mailoutbox[0].body
    assert "Your client area shows how to reach and manage it." in mailoutbox[0].body


@override_settings(EMAIL_BACKEND="tests.fakes.mail.FailingBackend")
def test_a_mail_server_away_is_logged_as_failed_and_the_task_retries(
    make_service, mailoutbox, monkeypatch
):
    event = event_for(make_service(), A.SUSPEND)
    asked: list[Exception] = []

    def retry(exc: Exception, **options) -> Retry:
        asked.append(exc)
        return Retry(exc=exc)

    # What a worker does with autoretry_for=(OSError,): ask Celery for a retry.
    monkeypatch.setattr(tasks.send_service_notification, "retry", retry)
    with pytest.raises(Retry):
        tasks.send_service_notification(event.pk)

    [reason] = asked
    assert isinstance(reason, ConnectionRefusedError)
    row = EmailLog.objects.get()
    assert row.status == EmailStatus.FAILED
    assert row.error.startswith("ConnectionRefusedError:")
    assert mailoutbox == []


def test_the_retry_of_a_failed_email_sends_it_and_marks_it_sent(make_service, mailoutbox):
    event = event_for(make_service(), A.SUSPEND)
    with (
        override_settings(EMAIL_BACKEND="tests.fakes.mail.FailingBackend"),
        pytest.raises(ConnectionRefusedError),
    ):
        tasks.send_service_notification(event.pk)

    assert tasks.send_service_notification(event.pk) is True

    assert len(mailoutbox) == 1
    row = EmailLog.objects.get()
    assert (row.status, row.error, row.attempts) == (EmailStatus.SENT, "", 2)


def test_the_email_speaks_the_customers_language(make_service, customer, mailoutbox):
    customer.language = "fr"
    customer.save()
    service = make_service()
    with translation.override("fr"):
        french_date = date_format(localtime(service.expires_at), "DATE_FORMAT")
    with translation.override("en"):
        english_date = date_format(localtime(service.expires_at), "DATE_FORMAT")
    assert french_date != english_date  # the test would prove nothing otherwise

    notifications.send(event_for(service, A.RENEW).pk)

    [message] = mailoutbox
    assert f"a été renouvelé jusqu’au {french_date}." in message.body
    assert "renewed" not in message.body  # one language, the customer's
    [(html, _mimetype)] = message.alternatives
    assert '<html lang="fr">' in html
    assert french_date in html
    assert translation.get_language() != "fr"


def test_a_batchs_emails_are_sent_by_one_task_and_a_refused_one_queued_alone(
    make_service, mailoutbox, monkeypatch
):
    events = [event_for(make_service(), A.SUSPEND) for _ in range(3)]
    refused = events[1].pk
    send = notifications.send
    queued: list[int] = []

    def mail_server_away_for_one(event_id: int) -> bool:
        if event_id == refused:
            raise OSError("Connection refused")
        return send(event_id)

    monkeypatch.setattr(notifications, "send", mail_server_away_for_one)
    monkeypatch.setattr(tasks.send_service_notification, "delay", queued.append)

    assert tasks.send_service_notifications([e.pk for e in events]) == 2

    assert len(mailoutbox) == 2
    assert queued == [refused]  # with the retries of the one-event task
    # Sent once: the batch again sends nothing more.
    assert tasks.send_service_notifications([events[0].pk, events[2].pk]) == 0
