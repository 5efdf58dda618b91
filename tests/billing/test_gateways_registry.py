"""The gateway registry: built-ins, gateways from settings and entry points, and when each
built-in is offered."""

from __future__ import annotations

from decimal import Decimal
from importlib.metadata import EntryPoint

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse

from billing import balance
from billing.gateways import registry
from billing.gateways.balance.gateway import BalanceGateway
from billing.gateways.bank_transfer.gateway import BankTransferGateway
from billing.gateways.base import PaymentGateway
from billing.gateways.stripe.gateway import StripeGateway
from billing.models import CompanyProfile, GatewaySettings
from tests.billing.gateway_helpers import issued_invoice, turn_on_stripe


class ThirdPartyGateway(PaymentGateway):
    key = "thirdparty"
    label = "Third party"

    def start(self, invoice, request) -> HttpResponse:
        return HttpResponse("pay elsewhere")


@pytest.fixture
def clean_registry():
    registry._registry.cache_clear()
    yield
    registry._registry.cache_clear()


def test_the_three_built_in_gateways_are_registered_by_label():
    assert isinstance(registry.get_gateway("bank_transfer"), BankTransferGateway)
    assert isinstance(registry.get_gateway("balance"), BalanceGateway)
    assert isinstance(registry.get_gateway("stripe"), StripeGateway)
    assert [g.key for g in registry.all_gateways()] == ["balance", "bank_transfer", "stripe"]
    assert registry.gateway_label("stripe") == "Card (Stripe)"
    assert registry.gateway_label("gone") == "gone"


def test_an_unknown_key_is_refused():
    with pytest.raises(registry.UnknownGateway, match="'nope'"):
        registry.get_gateway("nope")


def test_a_gateway_of_an_installed_package_is_found_through_its_entry_point(
    monkeypatch, clean_registry
):
    entry = EntryPoint(
        name="thirdparty",
        value="tests.billing.test_gateways_registry:ThirdPartyGateway",
        group=registry.ENTRY_POINT_GROUP,
    )
    monkeypatch.setattr(registry, "entry_points", lambda group: [entry])
    registry._registry.cache_clear()

    assert isinstance(registry.get_gateway("thirdparty"), ThirdPartyGateway)


def test_a_gateway_from_the_setting_is_registered(settings, clean_registry):
    settings.PAYMENT_GATEWAYS = {
        "thirdparty": "tests.billing.test_gateways_registry.ThirdPartyGateway"
    }

    assert isinstance(registry.get_gateway("thirdparty"), ThirdPartyGateway)


def test_a_gateway_registered_under_the_wrong_key_is_a_configuration_error(
    settings, clean_registry
):
    settings.PAYMENT_GATEWAYS = {"other": "tests.billing.test_gateways_registry.ThirdPartyGateway"}

    with pytest.raises(ImproperlyConfigured, match="its key is 'thirdparty'"):
        registry.get_gateway("other")


def test_bank_transfer_is_offered_once_the_company_has_bank_details(db):
    assert not registry.get_gateway("bank_transfer").is_available()

    CompanyProfile.objects.filter(pk=CompanyProfile.current().pk).update(
        bank_details="IBAN FR76 3000 6000 0112 3456 7890 189"
    )

    assert registry.get_gateway("bank_transfer").is_available()


def test_stripe_is_offered_only_once_enabled_with_its_keys(db):
    GatewaySettings.objects.create(key="stripe", enabled=True, settings={})
    assert not registry.get_gateway("stripe").is_available()

    GatewaySettings.objects.filter(key="stripe").delete()
    turn_on_stripe()
    assert registry.get_gateway("stripe").is_available()


def test_a_gateway_turned_off_by_staff_is_not_offered(db):
    GatewaySettings.objects.create(key="balance", enabled=False, settings={})

    assert not registry.get_gateway("balance").is_available()


def test_the_balance_is_offered_for_an_invoice_only_when_its_customer_has_credit(customer):
    invoice = issued_invoice(customer)
    assert [g.key for g in registry.available_gateways(invoice)] == []

    balance.adjust(customer, amount=Decimal("1.00"), actor=None, reason="Goodwill")

    assert [g.key for g in registry.available_gateways(invoice)] == ["balance"]
