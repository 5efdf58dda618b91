"""``/client/services/<pk>/renew/``: the customer renews one of their services.

GET shows what the rule book allows: the cycles offered, each with its new expiration and
price, or why the service cannot be renewed (and then no form at all, so no button leads
to a refusal). POST makes the service's one renewal invoice, or reuses the unpaid one,
and sends the customer to it to pay; paying it renews the service (``billing.payments``).
The service is looked up among the signed-in customer's own: another's is a 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views import View

from clientxcms.access import CustomerRequiredMixin, signed_in_user
from services.models import Service

from ..choices import InvoiceStatus
from ..forms.renew import RenewForm
from ..invoices import (
    RENEWALS_UNAVAILABLE,
    BillingError,
    customer_message,
    open_renewal_invoices,
    renewal_invoice,
)
from ..models import Invoice
from ..renewals import decide_renewal, renewal_options


def open_renewal_invoice(service: Service) -> Invoice | None:
    """The service's unpaid renewal invoice the customer can pay, if there is one."""
    return open_renewal_invoices(service.pk).filter(status=InvoiceStatus.UNPAID).first()


class ServiceRenewView(CustomerRequiredMixin, View):
    http_method_names = ["get", "post"]
    template_name = "billing/client/renew.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = self.service(pk)
        return self.page(request, service, self.form(service))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = self.service(pk)
        existing = open_renewal_invoice(service)
        if existing is not None:
            messages.info(
                request,
                gettext("Your renewal invoice %(invoice)s is waiting to be paid.")
                % {"invoice": existing},
            )
            return redirect("client:invoice_detail", pk=existing.pk)
        form = self.form(service, request.POST)
        if form is None or not form.is_valid():
            return self.page(request, service, form, status=400)
        try:
            invoice = renewal_invoice(
                service, cycles=form.cleaned_data["cycles"], actor=signed_in_user(request)
            )
        except BillingError as exc:
            # Another tab made the invoice a moment ago: that one is the one to pay.
            existing = open_renewal_invoice(service)
            if existing is not None:
                return redirect("client:invoice_detail", pk=existing.pk)
            messages.error(request, customer_message(exc, unavailable=RENEWALS_UNAVAILABLE))
            return redirect("client:service_renew", pk=service.pk)
        return redirect("client:invoice_detail", pk=invoice.pk)

    def service(self, pk: int) -> Service:
        return get_object_or_404(
            Service.objects.for_customer(self.customer).select_related("product"), pk=pk
        )

    def form(self, service: Service, data: Any = None) -> RenewForm | None:
        """The form of the cycles the rule book allows; None when it allows none."""
        options = renewal_options(service)
        if not options:
            return None
        return RenewForm(
            data,
            options=options,
            cycle_label=service.get_billing_cycle_display().lower(),
        )

    def page(
        self, request: HttpRequest, service: Service, form: RenewForm | None, status: int = 200
    ) -> HttpResponse:
        decision = decide_renewal(service)
        existing = open_renewal_invoice(service) if decision.allowed else None
        context = {
            "service": service,
            "refusal": "" if decision.allowed else decision.message,
            "open_invoice": existing,
            "form": form if existing is None else None,
        }
        return render(request, self.template_name, context, status=status)
