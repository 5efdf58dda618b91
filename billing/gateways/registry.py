"""The registry of payment gateways: a dict from key to gateway instance.

Built-in gateways are listed here; a deployment adds its own with the
``PAYMENT_GATEWAYS`` setting (key to dotted path) and third-party packages through the
``clientxcms.payment_gateways`` entry-point group, as delivery modules do.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .base import PaymentGateway

if TYPE_CHECKING:
    from billing.models import Invoice

ENTRY_POINT_GROUP = "clientxcms.payment_gateways"
BUILTIN_GATEWAYS = {
    "bank_transfer": "billing.gateways.bank_transfer.gateway.BankTransferGateway",
    "balance": "billing.gateways.balance.gateway.BalanceGateway",
    "stripe": "billing.gateways.stripe.gateway.StripeGateway",
}


class UnknownGateway(LookupError):
    """No gateway is registered under the key."""


@cache
def _registry() -> dict[str, PaymentGateway]:
    classes: dict[str, type] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        classes[entry_point.name] = entry_point.load()
    for key, path in {**BUILTIN_GATEWAYS, **settings.PAYMENT_GATEWAYS}.items():
        classes[key] = import_string(path)
    gateways: dict[str, PaymentGateway] = {}
    for key, cls in classes.items():
        if not (isinstance(cls, type) and issubclass(cls, PaymentGateway)):
            raise ImproperlyConfigured(f"Payment gateway {key!r} is not a PaymentGateway subclass.")
        if cls.key != key:
            raise ImproperlyConfigured(
                f"Payment gateway {cls.__name__} is registered as {key!r} "
                f"but its key is {cls.key!r}."
            )
        gateways[key] = cls()
    return gateways


@receiver(setting_changed)
def _reset_on_settings_change(*, setting: str, **kwargs: object) -> None:
    if setting == "PAYMENT_GATEWAYS":
        _registry.cache_clear()


def get_gateway(key: str) -> PaymentGateway:
    """The gateway registered under ``key``; raises UnknownGateway otherwise."""
    try:
        return _registry()[key]
    except KeyError:
        raise UnknownGateway(f"No payment gateway is registered as {key!r}.") from None


def all_gateways() -> list[PaymentGateway]:
    """Every registered gateway, by label: the staff settings page lists them all."""
    return sorted(_registry().values(), key=lambda gateway: str(gateway.label))


def available_gateways(invoice: Invoice | None = None) -> list[PaymentGateway]:
    """The gateways a customer may pay ``invoice`` with now, by label."""
    return [gateway for gateway in all_gateways() if gateway.is_available(invoice)]


def gateway_labels() -> dict[str, str]:
    """The label of every registered gateway, by key, in the active language: the one place
    labels are read from."""
    return {key: str(gateway.label) for key, gateway in _registry().items()}


def gateway_label(key: str) -> str:
    """The label of the gateway ``key``, or the key itself when no gateway has it any more
    (a payment outlives the plug-in it came through)."""
    return gateway_labels().get(key, key)
