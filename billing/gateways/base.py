"""The contract every payment gateway follows, like the delivery modules' (DESIGN.md, "Billing").

A gateway is a class registered under a key. It declares a label and a settings form,
says whether it can be offered (``is_available``), starts a payment for a customer
(``start``: a page of instructions or a redirect to a hosted payment page) and may
receive the gateway's notifications (``handle_webhook``). It never marks an invoice paid
itself: it calls ``billing.payments.record_payment`` with the gateway's own reference,
which applies a payment once per (gateway, reference) whatever arrives twice.

Settings are kept in ``GatewaySettings.settings``, encrypted at rest. A field of the
settings form whose widget is a ``PasswordInput`` is a secret: it is never rendered back
and a blank submission keeps the stored value (``billing.gateways.forms``).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext
from django_stubs_ext import StrOrPromise

from billing.choices import InvoiceStatus, LineKind
from billing.models import GatewaySettings

if TYPE_CHECKING:
    from billing.models import Invoice


class GatewayError(Exception):
    """The gateway could not start or confirm a payment; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PaymentGateway(ABC):
    """Base class of payment gateways; subclasses set ``key`` and ``label``."""

    key: ClassVar[str]
    #: Shown to customers and staff: a lazy translation (``gettext_lazy``) or a plain string.
    label: ClassVar[StrOrPromise]
    #: A line shown to the customer beside the way to pay.
    description: ClassVar[StrOrPromise] = ""
    #: The form of its settings, or None when it takes none.
    settings_form: ClassVar[type[forms.Form] | None] = None
    #: Whether it is offered before staff have saved its settings once (bank transfer and
    #: balance work out of the box; a gateway needing keys does not).
    enabled_by_default: ClassVar[bool] = False
    #: Whether ``start`` changes something (takes money, calls the gateway) and so only
    #: answers POST with a CSRF token; a page of instructions answers GET.
    start_requires_post: ClassVar[bool] = True

    # Settings ------------------------------------------------------------------------

    def stored(self) -> GatewaySettings:
        """The stored row of this gateway, or an unsaved one with the defaults."""
        row = GatewaySettings.objects.filter(key=self.key).first()
        if row is None:
            row = GatewaySettings(key=self.key, enabled=self.enabled_by_default, settings={})
        return row

    def config(self) -> dict[str, Any]:
        """The decrypted settings: never to be logged, rendered or stored elsewhere."""
        return dict(self.stored().settings or {})

    def is_enabled(self) -> bool:
        return self.stored().enabled

    def is_configured(self) -> bool:
        """Whether everything it needs is set; a gateway without settings always is."""
        return True

    def missing_configuration(self) -> str:
        """What staff must set before it can be enabled, in a sentence ("" when nothing)."""
        if self.is_configured():
            return ""
        return gettext("Set the settings of %(gateway)s first.") % {"gateway": self.label}

    def is_available(self, invoice: Invoice | None = None) -> bool:
        """Whether customers may pay with it: enabled and configured, and, given an invoice,
        able to pay that one (the balance needs credit)."""
        return self.is_enabled() and self.is_configured()

    # Paying ---------------------------------------------------------------------------

    @abstractmethod
    def start(self, invoice: Invoice, request: HttpRequest) -> HttpResponse:
        """How the customer pays ``invoice`` (unpaid, theirs, checked by the caller)."""

    def handle_webhook(self, request: HttpRequest) -> HttpResponse:
        """Receive a notification from the gateway; gateways without any answer 404."""
        raise Http404(f"{self.label} takes no notifications.")


def invoice_url(invoice: Invoice) -> str:
    """The customer's page of ``invoice``, where every gateway sends them back.

    ``/client/invoices/<pk>/`` (issue 10, "Where things are") when the client pages
    are not installed under their usual name.
    """
    try:
        return reverse("client:invoice_detail", args=[invoice.pk])
    except NoReverseMatch:
        return f"/client/invoices/{invoice.pk}/"


def amount_due(invoice: Invoice) -> Any:
    """What is left to pay on ``invoice``: its total less the payments received."""
    return invoice.total - invoice.amount_paid()


def after_payment_url(invoice: Invoice) -> str:
    """Where a customer lands once ``invoice`` is paid: the new service an order's invoice
    created when there is exactly one (it shows "being delivered" or "awaiting setup"),
    else the invoice."""
    if invoice.status == InvoiceStatus.PAID:
        created = {
            line.service_id
            for line in invoice.lines.all()
            if line.kind == LineKind.NEW_SERVICE and line.service_id is not None
        }
        if len(created) == 1:
            with contextlib.suppress(NoReverseMatch):
                return reverse("client:service_detail", args=[created.pop()])
    return invoice_url(invoice)
