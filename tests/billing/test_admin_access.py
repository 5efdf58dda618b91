"""Who may open billing's staff pages: the permission matrix of every page (STYLE.md, "Tests").

A support agent (every ``view_`` permission) reads every page and acts on nothing; a
billing agent (every billing permission) and an administrator act.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from billing import payments
from billing.models import Order, TaxRate
from services.choices import ServiceStatus
from tests.admin_matrix import ACTION, EXPECTED, FORM, LOGIN, VIEW, sign_in

#: The shared matrix, with the billing agent, who may do everything billing does.
BILLING_EXPECTED = {**EXPECTED, "billing_agent": {VIEW: 200, FORM: 200, ACTION: 302}}
BILLING_PERSONAS = list(BILLING_EXPECTED)


@pytest.fixture
def objects(customer, make_invoice, make_service, seller):
    """One of each object the pages are about, fresh for each persona."""
    draft = make_invoice(customer, issue=False)
    unpaid = make_invoice(customer)
    paid = make_invoice(customer)
    payments.record_payment(paid, gateway="bank_transfer", amount=paid.total, reference="T-1")
    return {
        "draft": draft,
        "unpaid": unpaid,
        "paid": paid,
        "order": Order.objects.create(customer=customer),
        "rate": TaxRate.objects.create(country="FR", rate=Decimal("20")),
        "service": make_service(ServiceStatus.ACTIVE),
        "customer": customer,
    }


# (method, url name, the object its pk comes from, kind, the POST data)
PAGES = [
    ("get", "admin:invoice_list", None, VIEW, None),
    ("get", "admin:invoice_detail", "paid", VIEW, None),
    ("get", "admin:invoice_pdf", "paid", VIEW, None),
    ("get", "admin:invoice_facturx", "paid", VIEW, None),
    ("get", "admin:order_list", None, VIEW, None),
    ("get", "admin:order_detail", "order", VIEW, None),
    ("get", "admin:payment_list", None, VIEW, None),
    ("get", "admin:customer_balance", "customer", VIEW, None),
    ("get", "admin:tax_list", None, VIEW, None),
    ("get", "admin:invoice_create", None, FORM, None),
    ("get", "admin:invoice_customer_search", None, FORM, None),
    ("get", "admin:billing_company", None, FORM, None),
    ("get", "admin:tax_create", None, FORM, None),
    ("get", "admin:tax_edit", "rate", FORM, None),
    ("post", "admin:invoice_issue", "draft", ACTION, {}),
    ("post", "admin:invoice_mark_paid", "unpaid", ACTION, {"reference": "T-2", "amount": "10"}),
    ("post", "admin:invoice_cancel", "unpaid", ACTION, {"reason": ""}),
    ("post", "admin:invoice_refund", "paid", ACTION, {"destination": "outside"}),
    ("post", "admin:order_cancel", "order", ACTION, {}),
    ("post", "admin:customer_balance", "customer", ACTION, {"amount": "5", "reason": "Gift"}),
    ("post", "admin:tax_delete", "rate", ACTION, {}),
    ("post", "admin:service_renewal_invoice", "service", ACTION, {"cycles": "1"}),
]


@pytest.mark.parametrize("persona", BILLING_PERSONAS)
@pytest.mark.parametrize(
    ("method", "name", "target", "kind", "data"), PAGES, ids=[page[1] for page in PAGES]
)
def test_who_may_open_the_billing_staff_pages(
    client, request, objects, persona, method, name, target, kind, data
):
    url = reverse(name, args=[objects[target].pk]) if target else reverse(name)
    sign_in(client, request, persona)

    response = client.post(url, data) if method == "post" else client.get(url)

    expected = BILLING_EXPECTED[persona][kind]
    if expected == LOGIN:
        assert response.status_code == 302
        assert response.url.startswith("/admin/login/?next=")
    else:
        assert response.status_code == expected, f"{persona} {method} {url}"


@pytest.mark.parametrize(
    ("name", "target"),
    [("admin:invoice_issue", "draft"), ("admin:invoice_pdf", "paid")],
)
def test_get_is_refused_on_actions_and_the_pdf_is_not_an_action(
    client, billing_agent, objects, name, target
):
    client.force_login(billing_agent)
    url = reverse(name, args=[objects[target].pk])

    response = client.get(url)

    expected = 405 if name.endswith("_issue") else 200
    assert response.status_code == expected
