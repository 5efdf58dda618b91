"""``/client/checkout/``: place the order of one product, then pay its invoice.

The product page posts its order form here; a GET with ``?product=<slug>`` shows the same
form on its own. A valid order becomes one order and its issued invoice
(``orders.place_order``), and the customer is sent to that invoice's page, where they
choose how to pay. A product that cannot be delivered is refused before any form is read.

A refused order leaves nothing behind (``place_order`` is one transaction) and shows the
form again as the customer filled it in. A refusal the customer can do nothing about (the
company's own details are incomplete) is told in plain words, staff learning of it from
the log and their billing pages (``invoices.customer_message``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views import View

from clientxcms.access import CustomerRequiredMixin, signed_in_user

from .. import orders
from ..forms.checkout import CheckoutForm
from ..invoices import BillingError, customer_message
from .catalogue import Offer, offer, product_on_sale, unavailable_message


class CheckoutView(CustomerRequiredMixin, View):
    http_method_names = ["get", "post"]
    template_name = "billing/client/checkout.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        slug = request.GET.get("product", "")
        if not slug:
            return redirect("client:catalogue")
        current = offer(product_on_sale(slug), self.customer)
        if not current.deliverable:
            return self.refuse(current)
        form = CheckoutForm(product=current.product, prices=current.prices)
        cycle = request.GET.get("billing_cycle", "")
        if cycle in form.prices:
            form.initial["billing_cycle"] = cycle
        return self.render(current, form)

    def post(self, request: HttpRequest) -> HttpResponse:
        current = offer(product_on_sale(request.POST.get("product", "")), self.customer)
        if not current.deliverable:
            return self.refuse(current)
        form = CheckoutForm(request.POST, product=current.product, prices=current.prices)
        if not form.is_valid() or form.price is None:
            return self.render(current, form)
        item = orders.ItemSpec(
            product=current.product,
            billing_cycle=form.price.cycle,
            module_options=form.module_options,
        )
        try:
            order = orders.place_order(self.customer, items=[item], actor=signed_in_user(request))
        except BillingError as exc:
            form.add_error(None, customer_message(exc))
            return self.render(current, form)
        assert order.invoice is not None  # place_order always issues one
        messages.success(
            request,
            gettext("%(order)s is placed: choose how to pay invoice %(number)s.")
            % {"order": order, "number": order.invoice.number},
        )
        return redirect("client:invoice_detail", pk=order.invoice.pk)

    def refuse(self, current: Offer) -> HttpResponse:
        messages.error(self.request, unavailable_message(current.product))
        return redirect("client:catalogue_product", slug=current.product.slug)

    def render(self, current: Offer, form: CheckoutForm) -> HttpResponse:
        chosen = form["billing_cycle"].value()
        context: dict[str, Any] = {
            "offer": current,
            "form": form,
            "chosen": next((q for q in current.quotes if q.cycle == chosen), None),
        }
        return render(self.request, self.template_name, context)
