"""``manage.py seed_demo``: logins, demo services made through the lifecycle, a second run
that adds nothing, and bench rows that keep the database's rules at a constant query cost."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing import tasks as billing_tasks
from billing.choices import BalanceEntryKind, InvoiceKind, InvoiceStatus, LineKind, OrderStatus
from billing.gateways.registry import available_gateways
from billing.models import CompanyProfile, GatewaySettings, Invoice, Order, TaxRate, balance_of
from customers.models import Customer, User
from demo import bench, catalogue
from demo.seed import seed_base, totals
from products.choices import BillingCycle
from services import tasks
from services.choices import EventSource, ServiceStatus
from services.models import Service, ServiceEvent, ServiceRenewal
from tests.factories import ProductPriceFactory, ServerFactory

BENCH = {"customer__user__email__startswith": "bench-"}


@pytest.fixture
def seed(db) -> Callable[..., str]:
    """Run the command with ``args`` and return what it printed."""

    def run(*args: str) -> str:
        out = StringIO()
        call_command("seed_demo", *args, stdout=out)
        return out.getvalue()

    return run


@pytest.fixture
def first_output(seed) -> str:
    return seed()


def _printed_logins(output: str) -> bool:
    return all(f"{login.email} / {login.password}" in output for login in catalogue.LOGINS)


def test_the_logins_are_a_superuser_a_view_only_support_agent_and_customers(first_output):
    admin = authenticate(username="admin@example.com", password="admin")
    support = authenticate(username="support@example.com", password="support")

    assert (admin.is_staff, admin.is_superuser) == (True, True)
    assert (support.is_staff, support.is_superuser) == (True, False)
    assert support.has_perm("services.view_service")
    assert support.has_perm("customers.view_customer")
    assert not support.has_perm("services.change_service")
    assert all(".view_" in perm for perm in support.get_all_permissions())
    assert Group.objects.get(name="Billing").permissions.filter(codename="change_service").exists()
    assert Group.objects.get(name="Administrator").permissions.filter(codename="delete_service")
    for person in catalogue.PEOPLE:
        user = authenticate(username=person.email, password="demo")
        assert user is not None, person.email
        assert not user.is_staff
        assert user.customer.country == person.country
        assert user.customer.language == person.language
    assert Customer.objects.exclude(company="").exists()


def test_the_demo_services_cover_every_status_and_cycle_through_the_lifecycle(first_output):
    services = Service.objects.all()
    admin = User.objects.get(email="admin@example.com")

    assert 90 <= services.count() <= 110
    assert set(services.values_list("status", flat=True)) == set(ServiceStatus.values)
    assert set(services.values_list("billing_cycle", flat=True)) == set(BillingCycle.values)
    # Every service was created by the lifecycle, then moved by it as admin or automation.
    assert services.filter(events__action="create").distinct().count() == services.count()
    assert set(ServiceEvent.objects.values_list("actor", "source").distinct()) == {
        (admin.pk, EventSource.ADMIN),
        (None, EventSource.AUTOMATION),
    }
    assert not services.filter(billing_cycle=BillingCycle.ONE_TIME, expires_at__isnull=False)
    assert services.filter(product__isnull=True).exists()
    assert services.filter(renewal_count=F("max_renewals")).exists()
    assert services.filter(cancel_at__isnull=False, status=ServiceStatus.ACTIVE).exists()
    assert ServiceRenewal.objects.exists()


def test_a_second_run_adds_nothing_and_both_runs_print_the_logins(seed, first_output):
    assert "Demo data loaded" in first_output
    assert _printed_logins(first_output)
    assert "No demo product for the Test panel module" in first_output
    before = (totals(), Group.objects.count(), ServiceRenewal.objects.count())

    output = seed()

    assert (totals(), Group.objects.count(), ServiceRenewal.objects.count()) == before
    assert "already loaded" in output
    assert _printed_logins(output)


def test_seeding_emails_no_one(seed, django_capture_on_commit_callbacks, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(tasks.send_service_notification, "delay", queued.append)
    monkeypatch.setattr(tasks.send_service_notifications, "delay", queued.extend)
    for task in (
        billing_tasks.send_invoice_issued_email,
        billing_tasks.send_payment_received_email,
        billing_tasks.send_refund_email,
    ):
        monkeypatch.setattr(task, "delay", queued.append)

    with django_capture_on_commit_callbacks(execute=True):
        seed()

    assert queued == []  # no e-mail about made-up history
    assert Invoice.objects.exists()  # though invoices, payments and a refund were made


# Billing ---------------------------------------------------------------------------------


def test_the_billing_demo_sets_up_taxes_the_company_and_the_embedded_gateways(first_output):
    company = CompanyProfile.current()

    assert "Billing demo data loaded" in first_output
    assert dict(TaxRate.objects.values_list("country", "rate")) == {
        "": Decimal("0.00"),
        "FR": Decimal("20.00"),
    }
    assert "IBAN" in company.bank_details
    assert company.country == "FR"
    assert [gateway.key for gateway in available_gateways()] == ["balance", "bank_transfer"]
    assert not GatewaySettings.objects.filter(key="stripe").exists()  # off until keys are set


def test_the_client_login_has_paid_unpaid_overdue_refunded_invoices_an_order_and_credit(
    first_output,
):
    alice = Customer.objects.get(user__email=catalogue.PEOPLE[0].email)
    documents = Invoice.objects.filter(customer=alice)
    unpaid = documents.filter(status=InvoiceStatus.UNPAID)

    assert documents.filter(status=InvoiceStatus.PAID, kind=InvoiceKind.INVOICE).exists()
    assert {invoice.is_overdue for invoice in unpaid} == {True, False}
    note = documents.get(kind=InvoiceKind.CREDIT_NOTE)
    assert note.credit_note_for.status == InvoiceStatus.REFUNDED
    order = Order.objects.get(customer=alice)
    assert order.status == OrderStatus.PENDING
    assert order.invoice.status == InvoiceStatus.UNPAID
    assert order.invoice.lines.filter(kind=LineKind.NEW_SERVICE).exists()
    assert alice.balance_entries.filter(kind=BalanceEntryKind.STAFF_CREDIT).exists()
    assert alice.balance_entries.filter(kind=BalanceEntryKind.REFUND).exists()
    assert balance_of(alice) == Decimal("15.00") + note.credit_note_for.total
    # Every document was issued through the core: numbered, with its taxes frozen.
    assert not documents.filter(number__isnull=True).exists()
    # Alice is in the United Kingdom: the default rate, none.
    assert set(documents.values_list("lines__tax_rate", flat=True)) == {Decimal("0.00")}


def test_the_french_customer_pays_french_vat(first_output):
    david = Customer.objects.get(user__email=catalogue.PEOPLE[3].email)

    invoice = Invoice.objects.get(customer=david)

    assert invoice.status == InvoiceStatus.PAID
    assert (invoice.subtotal, invoice.tax_total) == (Decimal("80.00"), Decimal("16.00"))
    assert not invoice.reverse_charge


def test_the_german_business_gets_a_reverse_charged_invoice(first_output):
    bob = Customer.objects.get(user__email=catalogue.PEOPLE[1].email)

    invoice = Invoice.objects.get(customer=bob)

    assert invoice.reverse_charge
    assert invoice.billing_vat_number == "DE136695976"
    assert invoice.tax_total == Decimal("0.00")


def test_a_database_seeded_before_billing_gets_its_billing_demo_once(db, seed):
    seed_base(note=lambda message: None)
    assert not Invoice.objects.exists()

    output = seed()
    invoices = Invoice.objects.count()
    again = seed()

    assert "already loaded" in output
    assert "Billing demo data loaded" in output
    assert invoices > 0
    assert "Billing demo data already loaded" in again
    assert Invoice.objects.count() == invoices


def test_services_option_adds_exactly_n_rows_within_the_database_rules(seed):
    seed()
    before = Service.objects.count()

    output = seed("--services", "200")

    bench = Service.objects.filter(**BENCH)
    assert Service.objects.count() - before == bench.count() == 200
    assert Customer.objects.filter(user__email__startswith="bench-").count() == 10
    assert "Added 200 bench services and 10 bench customers" in output
    assert _printed_logins(output)
    assert set(bench.values_list("status", flat=True)) == set(ServiceStatus.values)
    assert set(bench.values_list("billing_cycle", flat=True)) == set(BillingCycle.values)
    assert not bench.filter(billing_cycle=BillingCycle.ONE_TIME, expires_at__isnull=False)
    assert not bench.filter(renewal_count__gt=F("max_renewals"))
    assert not bench.filter(status=ServiceStatus.EXPIRED, expires_at__gt=timezone.now())
    assert not bench.filter(created_at__gt=F("expires_at"))
    assert not bench.exclude(external_id="")
    bench_login = User.objects.filter(email__startswith="bench-").first()
    assert authenticate(username=bench_login.email, password="demo") == bench_login

    seed("--services", "50", "--customers", "3")  # a second batch: new e-mails, no collision

    assert Service.objects.filter(**BENCH).count() == 250
    assert Customer.objects.filter(user__email__startswith="bench-").count() == 13


def _bench_queries(services: int) -> tuple[int, int]:
    """(queries other than service INSERTs, service INSERTs) of one bench run."""
    with CaptureQueriesContext(connection) as queries:
        bench.add_bench_data(services, customers=5)
    inserts = [q for q in queries if q["sql"].startswith('INSERT INTO "services_service"')]
    return len(queries) - len(inserts), len(inserts)


def test_bench_queries_do_not_grow_with_the_number_of_services(db):
    ProductPriceFactory(cycle=BillingCycle.MONTHLY, price=Decimal("5.00"))
    ServerFactory()

    small, large = _bench_queries(200), _bench_queries(1000)

    assert small[0] == large[0] <= 10
    # Batched INSERTs: all at once on PostgreSQL; SQLite caps a query at 999 parameters.
    assert large[1] <= 1000 // 20
    if connection.vendor == "postgresql":
        assert small[1] == large[1] == 1
