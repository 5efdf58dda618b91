"""The e-mails to a customer (``customers.mail``): text and HTML in the customer's
language, sent once per (kind, reference) even under racing workers, failures kept and
retried, logged without their links; and the log staff read on the customer's page."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone, translation

from customers.mail import (
    SENDING_STALE_AFTER,
    Wanted,
    claim_many,
    release,
    send_claimed,
    send_to_customer,
)
from customers.models import EmailLog, EmailStatus
from tests.admin_matrix import PERSONAS, VIEW, assert_access, sign_in
from tests.at_once import run_at_once
from tests.factories import DEFAULT_PASSWORD, CustomerFactory

FAILING = "tests.fakes.mail.FailingBackend"
SLOW = "tests.fakes.mail.SlowBackend"
SIGNUP_TEMPLATE = "customers/emails/signup_confirm"
LINK = "https://panel.example.test/client/signup/confirm/MQ/secret-token-123/"


def send_probe(customer, *, kind: str = "probe", reference: str = "thing:1") -> EmailLog:
    """The sign-up e-mail's templates, with a link that must never reach the log."""
    return send_to_customer(
        customer,
        kind=kind,
        template=SIGNUP_TEMPLATE,
        context={"link": LINK, "days": 2},
        reference=reference,
    )


def stored_text(rows) -> str:
    """Every column of every row, as one text to search for a secret."""
    return " ".join(str(value) for row in rows.values() for value in row.values())


def link_in(message) -> str:
    match = re.search(r"https?://[^/\s]+(/client/\S+)", message.body)
    assert match, message.body
    return match.group(1)


def html_of(message) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


# Sending ---------------------------------------------------------------------------------


def test_an_email_is_sent_as_text_with_html_and_logged_with_its_metadata(customer, mailoutbox):
    log = send_probe(customer)

    [message] = mailoutbox
    assert message.to == ["bob@example.com"]
    assert message.subject == "Confirm your e-mail address to open your account"
    assert "Hello Bob," in message.body
    assert "<html" not in message.body
    html = html_of(message)
    assert html.startswith("<!DOCTYPE html>")
    assert f'<a class="button" href="{LINK}">' in html
    assert "<title>Confirm your e-mail address to open your account</title>" in html
    row = EmailLog.objects.get()
    assert row == log
    assert log.just_sent
    assert (row.customer, row.to, row.kind, row.reference) == (
        customer,
        "bob@example.com",
        "probe",
        "thing:1",
    )
    assert row.subject == message.subject
    assert (row.status, row.error, row.attempts) == (EmailStatus.SENT, "", 1)
    assert row.sent_at is not None


def test_the_same_kind_and_reference_is_sent_once(customer, mailoutbox):
    first = send_probe(customer)
    second = send_probe(customer)

    assert len(mailoutbox) == 1
    assert EmailLog.objects.count() == 1
    assert second.pk == first.pk
    assert (first.just_sent, second.just_sent) == (True, False)


def test_the_reference_is_per_kind_and_an_empty_one_never_deduplicates(customer, mailoutbox):
    send_probe(customer, kind="probe", reference="thing:1")
    send_probe(customer, kind="other", reference="thing:1")
    send_probe(customer, kind="probe", reference="")
    send_probe(customer, kind="probe", reference="")

    assert len(mailoutbox) == 4
    assert sorted(EmailLog.objects.values_list("kind", "reference")) == [
        ("other", "thing:1"),
        ("probe", ""),
        ("probe", ""),
        ("probe", "thing:1"),
    ]


def test_a_failed_send_is_logged_as_failed_and_raised_and_a_retry_sends_it(customer, mailoutbox):
    with override_settings(EMAIL_BACKEND=FAILING), pytest.raises(ConnectionRefusedError):
        send_probe(customer)

    failed = EmailLog.objects.get()
    assert failed.status == EmailStatus.FAILED
    assert failed.error == (
        "ConnectionRefusedError: [Errno 111] Connection refused by mail.example.test"
    )
    assert failed.sent_at is None
    assert mailoutbox == []

    retried = send_probe(customer)

    assert retried.just_sent
    assert len(mailoutbox) == 1
    row = EmailLog.objects.get()
    assert row.pk == failed.pk
    assert (row.status, row.error, row.attempts) == (EmailStatus.SENT, "", 2)
    assert row.sent_at is not None
    assert send_probe(customer).just_sent is False  # sent now: not a third time
    assert len(mailoutbox) == 1


def test_a_send_in_progress_is_left_alone_until_its_worker_is_presumed_dead(customer, mailoutbox):
    in_flight = EmailLog.objects.create(
        customer=customer, to="bob@example.com", subject="s", kind="probe", reference="thing:1"
    )
    assert in_flight.status == EmailStatus.SENDING

    assert send_probe(customer).just_sent is False
    assert mailoutbox == []

    EmailLog.objects.filter(pk=in_flight.pk).update(
        attempted_at=timezone.now() - SENDING_STALE_AFTER - timedelta(seconds=1)
    )
    taken_back = send_probe(customer)

    assert taken_back.just_sent
    assert taken_back.pk == in_flight.pk
    assert len(mailoutbox) == 1
    assert EmailLog.objects.get().status == EmailStatus.SENT


def test_the_email_is_written_in_the_customers_language(customer, mailoutbox):
    customer.language = "fr"
    customer.save()

    send_probe(customer)

    html = html_of(mailoutbox[0])
    # The layout asks Django for the active language: French while the e-mail rendered...
    assert '<html lang="fr">' in html
    # ...and only then.
    assert translation.get_language() != "fr"


def test_an_address_other_than_the_login_can_be_given(customer, mailoutbox):
    send_to_customer(
        customer,
        kind="probe",
        template=SIGNUP_TEMPLATE,
        context={"link": LINK, "days": 2},
        to="new@example.com",
    )

    assert mailoutbox[0].to == ["new@example.com"]
    assert EmailLog.objects.get().to == "new@example.com"


def test_the_log_keeps_no_body(customer, mailoutbox):
    send_probe(customer)

    assert "secret-token-123" not in stored_text(EmailLog.objects.all())


# The account e-mails: logged, never with their links -----------------------------------


def test_the_signup_email_is_logged_without_its_link(client, db, mailoutbox):
    response = client.post(
        reverse("client:signup"),
        {
            "email": "dana@example.com",
            "password1": "a long and unusual passphrase 42",
            "password2": "a long and unusual passphrase 42",
            "first_name": "Dana",
            "last_name": "Newcomer",
            "company": "",
            "country": "FR",
        },
    )

    assert response.status_code == 302
    [message] = mailoutbox
    path = link_in(message)
    assert path in html_of(message)
    row = EmailLog.objects.get()
    assert (row.kind, row.to, row.status) == ("signup_confirm", "dana@example.com", "sent")
    assert row.customer.user.email == "dana@example.com"
    token = path.rstrip("/").rsplit("/", 1)[1]
    assert token not in stored_text(EmailLog.objects.all())
    assert path not in stored_text(EmailLog.objects.all())


@pytest.mark.parametrize("who", ["staff", "customer"])
def test_a_password_reset_is_logged_without_its_token(
    who, client, admin_user, customer, mailoutbox
):
    if who == "staff":
        client.force_login(admin_user)
        client.post(reverse("admin:customer_password_reset", args=[customer.pk]))
    else:
        client.post(reverse("client:password_reset"), {"email": "bob@example.com"})

    [message] = mailoutbox
    path = link_in(message)
    assert path in html_of(message)
    uid, token = path.rstrip("/").split("/")[-2:]
    row = EmailLog.objects.get()
    assert (row.customer, row.kind, row.to, row.status) == (
        customer,
        "password_reset",
        "bob@example.com",
        "sent",
    )
    assert row.subject == "Reset the password of your client area"
    logged = stored_text(EmailLog.objects.all())
    assert token not in logged
    assert path not in logged


def test_a_password_reset_that_fails_is_logged_and_the_page_answers_as_before(
    client, admin_user, customer, mailoutbox
):
    client.force_login(admin_user)

    with override_settings(EMAIL_BACKEND=FAILING):
        response = client.post(reverse("admin:customer_password_reset", args=[customer.pk]))

    assert response.status_code == 302
    row = EmailLog.objects.get()
    assert (row.kind, row.status) == ("password_reset", "failed")
    assert "Connection refused" in row.error


def test_an_email_change_logs_the_link_and_the_notice_without_the_link(
    client, customer, mailoutbox
):
    client.force_login(customer.user)

    client.post(
        reverse("client:account_email"),
        {"email": "robert@example.com", "password": DEFAULT_PASSWORD},
    )

    link, notice = mailoutbox
    path = link_in(link)
    assert path in html_of(link)
    assert "robert@example.com" in html_of(notice)
    rows = EmailLog.objects.order_by("id")
    assert [(r.kind, r.to, r.status) for r in rows] == [
        ("email_change", "robert@example.com", "sent"),
        ("email_change_notice", "bob@example.com", "sent"),
    ]
    assert {r.customer for r in rows} == {customer}
    token = path.rstrip("/").rsplit("/", 1)[1]
    assert token not in stored_text(rows)


# The staff pages -------------------------------------------------------------------------


def log_rows(customer, count: int, **fields) -> list[EmailLog]:
    """``count`` logged e-mails, the n-th sent n minutes after a fixed start."""
    start = timezone.now() - timedelta(days=1)
    return EmailLog.objects.bulk_create(
        EmailLog(
            customer=customer,
            to=customer.email,
            subject=f"E-mail number {n}",
            kind="probe",
            reference=f"thing:{customer.pk}-{n}",
            status=EmailStatus.SENT,
            created_at=start + timedelta(minutes=n),
            sent_at=start + timedelta(minutes=n),
            **fields,
        )
        for n in range(1, count + 1)
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_email_log_page_follows_the_staff_permission_matrix(persona, client, request, customer):
    sign_in(client, request, persona)

    assert_access(
        client, "get", reverse("admin:customer_emails", args=[customer.pk]), persona, VIEW
    )


def test_the_details_page_lists_the_latest_fifty_emails_newest_first(
    client, support_user, customer, other_customer
):
    log_rows(customer, 55)
    EmailLog.objects.create(
        customer=other_customer, to="charlie@example.com", subject="Charlie's own", kind="probe"
    )
    client.force_login(support_user)

    text = client.get(reverse("admin:customer_detail", args=[customer.pk])).text

    assert 'id="customer-emails"' in text
    assert text.count('data-email-status="sent"') == 50
    assert "E-mail number 55" in text
    assert "E-mail number 6<" in text
    assert "E-mail number 5<" not in text
    assert text.index("E-mail number 55") < text.index("E-mail number 54")
    assert "Charlie&#x27;s own" not in text
    assert reverse("admin:customer_emails", args=[customer.pk]) in text


def test_the_log_page_shows_when_kind_to_subject_status_and_error(client, support_user, customer):
    EmailLog.objects.create(
        customer=customer,
        to="bob@example.com",
        subject="Your service vps-1 has been suspended",
        kind="suspended",
        reference="service-event:7",
        status=EmailStatus.FAILED,
        error="ConnectionRefusedError: [Errno 111] Connection refused",
        attempts=3,
    )
    client.force_login(support_user)

    page = client.get(reverse("admin:customer_emails", args=[customer.pk]))

    assert page.status_code == 200
    text = page.text
    assert "<code>suspended</code>" in text
    assert "service-event:7" in text
    assert "bob@example.com" in text
    assert "Your service vps-1 has been suspended" in text
    assert 'data-email-status="failed">Failed</span>' in text
    assert "ConnectionRefusedError: [Errno 111] Connection refused" in text
    assert "3 attempts" in text


def test_the_log_page_is_paginated_and_bounded(client, admin_user, customer, other_customer):
    log_rows(customer, 60)
    log_rows(other_customer, 3)
    client.force_login(admin_user)
    url = reverse("admin:customer_emails", args=[customer.pk])

    first = client.get(url)
    second = client.get(url, {"page": 2})

    assert first.text.count('data-email-status="sent"') == 50
    assert "E-mail number 60" in first.text
    assert 'rel="next"' in first.text
    assert second.text.count('data-email-status="sent"') == 10
    assert "E-mail number 1<" in second.text
    assert 'rel="next"' not in second.text
    assert client.get(url, {"page": 201}).status_code == 404
    assert client.get(reverse("admin:customer_emails", args=[999_999])).status_code == 404


def test_the_log_page_reads_one_page_in_a_bounded_number_of_queries(
    client, admin_user, customer, django_assert_num_queries
):
    log_rows(customer, 60)
    client.force_login(admin_user)

    # 1. the user (the session is read from the cache); 2. the customer; 3. one page of
    # e-mails (no count).
    with django_assert_num_queries(3):
        client.get(reverse("admin:customer_emails", args=[customer.pk]))


# Racing workers, on PostgreSQL -----------------------------------------------------------

RACERS = 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_workers_racing_on_the_same_email_send_it_once():
    customer = CustomerFactory(user__email="racer@example.com")
    mail.outbox = []
    start = threading.Barrier(RACERS)
    results: list[EmailLog] = []
    errors: list[BaseException] = []

    def race() -> None:
        try:
            start.wait(timeout=30)
            results.append(send_probe(customer, kind="suspended", reference="service-event:1"))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    with override_settings(EMAIL_BACKEND=SLOW):
        threads = [threading.Thread(target=race) for _ in range(RACERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert errors == []
    assert len(results) == RACERS
    assert len(mail.outbox) == 1
    assert EmailLog.objects.count() == 1
    assert sum(result.just_sent for result in results) == 1
    assert {result.pk for result in results} == {EmailLog.objects.get().pk}
    assert EmailLog.objects.get().status == EmailStatus.SENT


# Many e-mails claimed at once, sent by a worker (``claim_many``, ``send_claimed``) ------


def wanted(customer, *references: str) -> list[Wanted]:
    return [Wanted(customer.pk, reference, "bob@example.com") for reference in references]


def test_claim_many_claims_new_failed_and_stale_rows_and_leaves_the_others(customer):
    def row(reference: str, status: str, **fields) -> EmailLog:
        return EmailLog.objects.create(
            customer=customer,
            to="old@example.com",
            subject="s",
            kind="probe",
            reference=reference,
            status=status,
            **fields,
        )

    stale = timezone.now() - SENDING_STALE_AFTER - timedelta(seconds=1)
    sent = row("sent", EmailStatus.SENT)
    failed = row("failed", EmailStatus.FAILED, error="SMTP refused")
    in_flight = row("in-flight", EmailStatus.SENDING)
    dead = row("dead", EmailStatus.SENDING, attempted_at=stale)
    other_kind = EmailLog.objects.create(
        customer=customer, to="x@example.com", subject="s", kind="other", reference="new"
    )

    claimed_at, claimed = claim_many(
        "probe", wanted(customer, "sent", "failed", "in-flight", "dead", "new")
    )

    assert set(claimed) == {"failed", "dead", "new"}
    assert (claimed["failed"], claimed["dead"]) == (failed.pk, dead.pk)
    for reference, attempts in (("failed", 2), ("dead", 2), ("new", 1)):
        log = EmailLog.objects.get(pk=claimed[reference])
        assert (log.status, log.error, log.attempts) == (EmailStatus.SENDING, "", attempts)
        assert (log.attempted_at, log.to, log.kind) == (claimed_at, "bob@example.com", "probe")
        assert log.customer_id == customer.pk
    assert EmailLog.objects.get(pk=claimed["new"]).subject == ""  # written when rendered
    for untouched in (sent, in_flight, other_kind):
        assert EmailLog.objects.get(pk=untouched.pk).attempted_at == untouched.attempted_at
    assert claim_many("probe", wanted(customer, "failed", "new"))[1] == {}


def test_a_claimed_email_is_sent_by_its_claim_only_once_in_the_customers_language(
    customer, mailoutbox
):
    customer.language = "fr"
    customer.save()
    claimed_at, claimed = claim_many("probe", wanted(customer, "thing:1"))
    log = EmailLog.objects.get(pk=claimed["thing:1"])

    def send(at) -> bool:
        return send_claimed(
            log,
            customer,
            claimed_at=at,
            template=SIGNUP_TEMPLATE,
            context={"link": LINK, "days": 2},
        )

    assert send(claimed_at - timedelta(seconds=1)) is False  # an older claim's task
    assert mailoutbox == []
    assert send(claimed_at) is True
    assert send(claimed_at) is False  # the same task run again
    [message] = mailoutbox
    assert message.to == ["bob@example.com"]
    assert message.subject == "Confirmez votre adresse e-mail pour ouvrir votre compte"
    row = EmailLog.objects.get()
    assert (row.status, row.subject, row.sent_at is not None) == (
        EmailStatus.SENT,
        message.subject,
        True,
    )
    assert LINK not in stored_text(EmailLog.objects.all())
    assert translation.get_language() != "fr"


def test_a_claimed_email_that_fails_is_logged_failed_raised_and_claimed_again(customer, mailoutbox):
    claimed_at, claimed = claim_many("probe", wanted(customer, "thing:1"))
    log = EmailLog.objects.get(pk=claimed["thing:1"])

    with override_settings(EMAIL_BACKEND=FAILING), pytest.raises(ConnectionRefusedError):
        send_claimed(
            log,
            customer,
            claimed_at=claimed_at,
            template=SIGNUP_TEMPLATE,
            context={"link": LINK, "days": 2},
        )

    row = EmailLog.objects.get()
    assert row.status == EmailStatus.FAILED
    assert row.error.startswith("ConnectionRefusedError")
    assert row.subject == "Confirm your e-mail address to open your account"
    assert claim_many("probe", wanted(customer, "thing:1"))[1] == {"thing:1": row.pk}


def test_a_claim_released_lets_a_later_claim_decide_afresh(customer):
    claimed_at, claimed = claim_many("probe", wanted(customer, "thing:1"))
    log = EmailLog.objects.get(pk=claimed["thing:1"])

    assert release(log, claimed_at=claimed_at - timedelta(seconds=1)) is False  # not its claim
    assert release(log, claimed_at=claimed_at) is True

    assert not EmailLog.objects.exists()
    assert set(claim_many("probe", wanted(customer, "thing:1"))[1]) == {"thing:1"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_workers_claiming_the_same_emails_at_once_claim_each_once():
    customer = CustomerFactory(user__email="racer@example.com")
    references = [f"thing:{n}" for n in range(50)]

    claims = run_at_once(
        lambda: claim_many("probe", wanted(customer, *references))[1], times=RACERS
    )

    assert not [claim for claim in claims if isinstance(claim, BaseException)]
    assert len(claims) == RACERS
    assert sorted(reference for claim in claims for reference in claim) == sorted(references)
    assert EmailLog.objects.count() == len(references)
