"""Sign-in throttling (django-axes): per account and per address, with the wait on the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django import forms
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import path, reverse
from django.views.generic import FormView

from clientxcms.urls import urlpatterns as project_urlpatterns
from customers import tasks
from customers.models import StaffActivity
from customers.throttling import ThrottledFormMixin
from tests.factories import DEFAULT_PASSWORD, CustomerFactory, StaffFactory

LOCKED = "Too many failed sign-ins. Try again in 15 minutes."
LIMIT = 5


@pytest.fixture(autouse=True)
def _fixed_limits(settings):
    """The production defaults, whatever the environment says."""
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def sign_in(client, area: str, email: str, password: str = DEFAULT_PASSWORD, ip="10.0.0.1"):
    return client.post(
        reverse(f"{area}:login"), {"username": email, "password": password}, REMOTE_ADDR=ip
    )


def fail(client, area: str, email: str, times: int, ip="10.0.0.1") -> None:
    for _ in range(times):
        sign_in(client, area, email, password="wrong", ip=ip)


@pytest.mark.parametrize("area", ["admin", "client"])
def test_after_the_limit_the_right_password_is_refused_with_the_wait(client, db, area):
    created = StaffFactory() if area == "admin" else CustomerFactory().user
    fail(client, area, created.email, LIMIT)

    response = sign_in(client, area, created.email)

    assert response.status_code == 429
    assert LOCKED in response.text
    assert SESSION_KEY not in client.session


def test_the_lockout_page_keeps_the_areas_login_layout(client, admin_user, customer):
    fail(client, "admin", admin_user.email, LIMIT)
    fail(client, "client", customer.user.email, LIMIT, ip="10.0.0.2")

    admin_page = sign_in(client, "admin", admin_user.email)
    client_page = sign_in(client, "client", customer.user.email, ip="10.0.0.2")

    assert "ClientXCMS administration" in admin_page.text
    assert "Sign in to your client area" in client_page.text
    assert 'name="csrfmiddlewaretoken"' in admin_page.text


def test_the_limit_is_not_reached_one_failure_early(client, customer):
    fail(client, "client", customer.user.email, LIMIT - 1)

    response = sign_in(client, "client", customer.user.email)

    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(customer.user.pk)


def test_a_locked_address_refuses_another_account_too(client, customer, other_customer):
    """Per address: trying many accounts from one address is slowed as well."""
    fail(client, "client", customer.user.email, LIMIT)

    response = sign_in(client, "client", other_customer.user.email)

    assert response.status_code == 429
    assert SESSION_KEY not in client.session


def test_a_locked_account_is_refused_from_another_address_too(client, customer):
    """Per account: guessing one password from many addresses is slowed as well."""
    fail(client, "client", customer.user.email, LIMIT, ip="10.0.0.1")

    response = sign_in(client, "client", customer.user.email, ip="10.9.9.9")

    assert response.status_code == 429


def test_another_account_from_another_address_is_unaffected(client, customer, other_customer):
    fail(client, "client", customer.user.email, LIMIT, ip="10.0.0.1")

    response = sign_in(client, "client", other_customer.user.email, ip="10.9.9.9")

    assert response.status_code == 302


def test_sign_in_works_again_after_the_cool_off(client, customer):
    with time_machine.travel("2030-01-01 12:00:00+00:00", tick=False) as clock:
        fail(client, "client", customer.user.email, LIMIT)
        clock.shift(timedelta(minutes=14))
        assert sign_in(client, "client", customer.user.email).status_code == 429

        clock.shift(timedelta(minutes=16))
        response = sign_in(client, "client", customer.user.email)

    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(customer.user.pk)


def test_a_success_clears_the_failures_of_the_account(client, customer):
    fail(client, "client", customer.user.email, LIMIT - 1)
    assert sign_in(client, "client", customer.user.email).status_code == 302
    client.logout()

    fail(client, "client", customer.user.email, LIMIT - 1)

    assert sign_in(client, "client", customer.user.email).status_code == 302


def test_a_staff_lockout_emails_the_administrators_once(
    client, admin_user, django_capture_on_commit_callbacks, monkeypatch
):
    # The Celery task runs in the test: a worker is not what is under test here.
    monkeypatch.setattr(tasks.notify_staff_lockout, "delay", tasks.notify_staff_lockout)
    StaffFactory(email="root@example.com", is_superuser=True)
    StaffFactory(email="gone@example.com", is_superuser=True, is_active=False)
    agent = StaffFactory(email="agent@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        fail(client, "admin", agent.email, LIMIT + 3, ip="203.0.113.7")

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == ["alice@example.com", "root@example.com"]
    assert "agent@example.com" in message.subject
    assert "203.0.113.7" in message.body
    lockout = StaffActivity.objects.get(action="locked out")
    assert lockout.target_id == str(agent.pk)


def test_each_administrator_reads_the_lockout_in_their_language(
    client, admin_user, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(tasks.notify_staff_lockout, "delay", tasks.notify_staff_lockout)
    StaffFactory(email="marie@example.com", is_superuser=True, language="fr")
    agent = StaffFactory(email="agent@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        fail(client, "admin", agent.email, LIMIT + 3)

    subjects = {tuple(message.to): message.subject for message in mail.outbox}
    assert subjects == {
        ("alice@example.com",): "Staff account locked out: agent@example.com",
        ("marie@example.com",): "Compte de l’équipe bloqué : agent@example.com",
    }


def test_a_customer_lockout_emails_no_one(
    client, admin_user, customer, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(tasks.notify_staff_lockout, "delay", tasks.notify_staff_lockout)

    with django_capture_on_commit_callbacks(execute=True):
        fail(client, "client", customer.user.email, LIMIT)

    assert AccessAttempt.objects.exists()
    assert mail.outbox == []


# The mixin that the sign-up and password-reset forms reuse.


class EmailForm(forms.Form):
    email = forms.EmailField()
    accept = forms.BooleanField()


class ThrottledView(ThrottledFormMixin, FormView):
    form_class = EmailForm
    template_name = "customers/client/login.html"
    success_url = "/done/"


class EverySubmissionView(ThrottledView):
    throttle_every_submission = True


urlpatterns = [
    path("throttled/", ThrottledView.as_view()),
    path("every/", EverySubmissionView.as_view()),
    # The login page that these views render links to the client area's other pages.
    *project_urlpatterns,
]


@pytest.mark.urls(__name__)
def test_a_throttled_form_refuses_after_the_limit_of_refused_submissions(client, db):
    for _ in range(LIMIT):
        client.post("/throttled/", {"email": "x@example.com"})

    response = client.post("/throttled/", {"email": "x@example.com", "accept": "on"})

    assert response.status_code == 429
    assert LOCKED in response.text


@pytest.mark.urls(__name__)
def test_a_throttled_form_lets_valid_submissions_through(client, db):
    for _ in range(LIMIT + 2):
        response = client.post("/throttled/", {"email": "x@example.com", "accept": "on"})

    assert response.status_code == 302


@pytest.mark.urls(__name__)
def test_a_form_throttled_on_every_submission_refuses_after_the_limit(client, db):
    responses = [
        client.post("/every/", {"email": "x@example.com", "accept": "on"}) for _ in range(LIMIT + 1)
    ]

    assert [r.status_code for r in responses[:LIMIT]] == [302] * LIMIT
    assert responses[-1].status_code == 429


def test_behind_the_proxy_the_address_is_the_one_it_appended_not_a_forged_one(
    client, customer, settings
):
    settings.AXES_IPWARE_PROXY_COUNT = 1
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    login = reverse("client:login")
    for n in range(LIMIT):
        client.post(
            login,
            {"username": f"guess{n}@example.com", "password": "x"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.5",
            REMOTE_ADDR="10.0.0.2",
        )

    same_client = client.post(
        login,
        {"username": customer.user.email, "password": DEFAULT_PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.99, 203.0.113.5",
        REMOTE_ADDR="10.0.0.2",
    )
    other_client = client.post(
        login,
        {"username": customer.user.email, "password": DEFAULT_PASSWORD},
        HTTP_X_FORWARDED_FOR="203.0.113.77",
        REMOTE_ADDR="10.0.0.2",
    )

    assert same_client.status_code == 429
    assert other_client.status_code == 302
