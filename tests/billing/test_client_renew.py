"""A customer renews a service from the client area (/client/services/<pk>/renew/): what
the rule book refuses is explained before any invoice is made, the Renew link appears
exactly when the rule book allows it, one renewal invoice is made and then reused, and
paying it renews the service from its old expiration."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing import payments
from billing.choices import InvoiceStatus, LineKind
from billing.models import Invoice
from billing.renewals import decide_renewal
from products.choices import BillingCycle
from products.cycles import add_cycles
from services import lifecycle
from services.choices import ServiceStatus

S = ServiceStatus


@pytest.fixture
def bob(client, customer, seller):
    client.force_login(customer.user)
    return client


def renew_url(service) -> str:
    return reverse("client:service_renew", args=[service.pk])


def renewal_invoices(service) -> list[Invoice]:
    return list(Invoice.objects.filter(lines__service=service, lines__kind=LineKind.RENEWAL))


REFUSALS = {
    "max": (S.ACTIVE, {"max_renewals": 2, "renewal_count": 2}, "maximum number of renewals"),
    "grace": (S.EXPIRED, {"expires_at_days": -30}, "expired more than"),
    "one_time": (
        S.ACTIVE,
        {"billing_cycle": BillingCycle.ONE_TIME, "expires_at": None},
        "one-time service",
    ),
    "cancelled": (S.CANCELLED, {}, "it is cancelled"),
    "terminated": (S.TERMINATED, {}, "it is terminated"),
}


def build(make_service, status, fields):
    fields = dict(fields)
    if "expires_at_days" in fields:
        fields["expires_at"] = timezone.now() + timedelta(days=fields.pop("expires_at_days"))
    return make_service(status, **fields)


@pytest.mark.parametrize("case", REFUSALS)
def test_every_refusal_is_explained_before_any_invoice_with_no_form(bob, make_service, case):
    status, fields, message = REFUSALS[case]
    service = build(make_service, status, fields)

    page = bob.get(renew_url(service))
    posted = bob.post(renew_url(service), {"cycles": 1})
    detail = bob.get(reverse("client:service_detail", args=[service.pk]))

    assert page.status_code == 200
    assert message in page.text
    assert 'id="renew-form"' not in page.text
    assert "Continue to payment" not in page.text
    assert posted.status_code == 400
    assert renewal_invoices(service) == []
    assert 'id="renew-refusal"' in detail.text
    assert 'id="renew-button"' not in detail.text


def test_the_cycles_offered_stop_at_the_renewals_left(bob, make_service):
    service = make_service(S.ACTIVE, max_renewals=5, renewal_count=2)

    page = bob.get(renew_url(service))

    assert [value for value, _ in page.context["form"].fields["cycles"].choices] == [1, 2, 3]
    assert bob.post(renew_url(service), {"cycles": 4}).status_code == 400
    assert renewal_invoices(service) == []


def test_the_page_shows_the_new_expiration_and_price_of_each_choice(bob, make_service):
    service = make_service(S.ACTIVE, billing_cycle=BillingCycle.MONTHLY)
    end = add_cycles(service.expires_at, service.billing_cycle, 2)

    page = bob.get(renew_url(service))

    label = dict(page.context["form"].fields["cycles"].choices)[2]
    assert f"{service.price * 2} {service.currency}" in label
    assert end is not None
    assert str(timezone.localtime(end).year) in label
    assert 'id="renew-form"' in page.text


def test_renewing_makes_one_invoice_and_reuses_it_on_a_second_visit(bob, make_service):
    service = make_service(S.ACTIVE)

    first = bob.post(renew_url(service), {"cycles": 2})
    [invoice] = renewal_invoices(service)
    again = bob.post(renew_url(service), {"cycles": 1})
    page = bob.get(renew_url(service))

    detail = reverse("client:invoice_detail", args=[invoice.pk])
    assert first.status_code == 302
    assert first["Location"] == detail
    assert again.status_code == 302
    assert again["Location"] == detail
    assert renewal_invoices(service) == [invoice]
    assert invoice.status == InvoiceStatus.UNPAID
    assert invoice.lines.get().cycles == 2
    assert 'id="renew-open-invoice"' in page.text
    assert 'id="renew-form"' not in page.text


def test_paying_the_invoice_renews_from_the_old_expiration(bob, make_service):
    service = make_service(S.ACTIVE)
    old = service.expires_at
    bob.post(renew_url(service), {"cycles": 1})
    [invoice] = renewal_invoices(service)

    payments.record_payment(invoice, gateway="bank_transfer", amount=invoice.total, reference="T1")

    service.refresh_from_db()
    assert service.expires_at == add_cycles(old, service.billing_cycle, 1)
    assert service.renewal_count == 1


def test_an_expired_service_within_the_grace_period_becomes_active_once_paid(bob, make_service):
    service = make_service(S.EXPIRED, expires_at=timezone.now() - timedelta(days=2))
    old = service.expires_at
    bob.post(renew_url(service), {"cycles": 1})
    [invoice] = renewal_invoices(service)

    payments.record_payment(invoice, gateway="bank_transfer", amount=invoice.total, reference="T2")

    # Renewed in the payment's transaction; started again on the panel after its commit.
    service.refresh_from_db()
    assert service.expires_at == add_cycles(old, service.billing_cycle, 1)
    assert (service.status, service.operation) == (S.EXPIRED, "renew")
    lifecycle.continue_claimed(service.pk, str(service.operation_token))
    service.refresh_from_db()
    assert (service.status, service.operation) == (S.ACTIVE, "")


def test_another_customers_service_is_a_404_and_nothing_is_made(
    client, other_customer, make_service, seller
):
    service = make_service(S.ACTIVE)
    client.force_login(other_customer.user)

    assert client.get(renew_url(service)).status_code == 404
    assert client.post(renew_url(service), {"cycles": 1}).status_code == 404
    assert renewal_invoices(service) == []


def test_renewing_needs_the_csrf_token(client, customer, make_service, seller):
    service = make_service(S.ACTIVE)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(customer.user)

    assert strict.post(renew_url(service), {"cycles": 1}).status_code == 403
    assert renewal_invoices(service) == []


CASES = [
    *[(status, {}) for status in S.values],
    (S.ACTIVE, {"max_renewals": 1, "renewal_count": 1}),
    (S.ACTIVE, {"billing_cycle": BillingCycle.ONE_TIME, "expires_at": None}),
    (S.EXPIRED, {"expires_at_days": -30}),
    (S.EXPIRED, {"expires_at_days": -3}),
]


@pytest.mark.parametrize(("status", "fields"), CASES)
def test_the_renew_link_appears_exactly_when_the_rule_book_allows_it(
    bob, make_service, status, fields
):
    service = build(make_service, status, fields)
    allowed = decide_renewal(service).allowed

    detail = bob.get(reverse("client:service_detail", args=[service.pk]))
    listing = bob.get(reverse("client:service_list"))
    home = bob.get(reverse("client:home"))

    assert ('id="renew-button"' in detail.text) is allowed
    assert (renew_url(service) in listing.text) is allowed
    on_home = status in (S.ACTIVE, S.EXPIRED)
    assert (renew_url(service) in home.text) is (allowed and on_home)
