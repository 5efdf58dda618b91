"""``/client/orders/``: the customer's orders, one order's items, invoice and services,
and cancelling an order left unpaid.

Every query starts from the signed-in customer's orders, so another customer's order is
simply not found (404, never 403: a 403 would confirm it exists).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext
from django.views import View
from django.views.generic import DetailView, ListView

from clientxcms.access import CustomerRequiredMixin, signed_in_user
from customers.models import Customer

from .. import orders
from ..choices import InvoiceStatus, OrderStatus
from ..invoices import BillingError
from ..models import InvoiceLine, Order, OrderItem

ORDER_BADGES: dict[str, str] = {
    OrderStatus.PENDING: "warning",
    OrderStatus.PAID: "success",
    OrderStatus.CANCELLED: "dark",
}


def customer_orders(customer: Customer) -> QuerySet[Order]:
    """The orders of ``customer``: the start of every query here."""
    return Order.objects.filter(customer=customer)


def _badge(order: Order) -> Order:
    order.badge = ORDER_BADGES.get(order.status, "secondary")  # type: ignore[attr-defined]  # for the template
    return order


def _with_items(orders: QuerySet[Order]) -> QuerySet[Order]:
    """Orders with their invoice and their items' products: two queries for any number."""
    return orders.select_related("invoice").prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.select_related("product"))
    )


class OrderListView(CustomerRequiredMixin, ListView):
    """The customer's orders, newest first, each with what it bought and its invoice."""

    template_name = "billing/client/order_list.html"
    context_object_name = "orders"
    paginate_by = 25

    def get_queryset(self) -> QuerySet[Order]:
        return _with_items(customer_orders(self.customer))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["orders"] = [_badge(order) for order in context["orders"]]
        return context


class OrderDetailView(CustomerRequiredMixin, DetailView):
    """One order: its items, its invoice (to pay while unpaid) and the services it made."""

    template_name = "billing/client/order_detail.html"
    context_object_name = "order"

    def get_queryset(self) -> QuerySet[Order]:
        return _with_items(customer_orders(self.customer))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        order: Order = _badge(self.object)
        invoice = order.invoice
        lines = (
            InvoiceLine.objects.filter(invoice=invoice, service__isnull=False)
            .select_related("service")
            .order_by("pk")
            if invoice is not None
            else InvoiceLine.objects.none()
        )
        return super().get_context_data(
            services=[line.service for line in lines],
            payable=invoice is not None
            and order.status == OrderStatus.PENDING
            and invoice.status == InvoiceStatus.UNPAID,
            cancellable=order.status == OrderStatus.PENDING,
            **kwargs,
        )


class OrderCancelView(CustomerRequiredMixin, View):
    """POST: cancel an unpaid order and its invoice (``orders.cancel_order``)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        order = get_object_or_404(customer_orders(self.customer), pk=pk)
        try:
            orders.cancel_order(order, actor=signed_in_user(request))
        except BillingError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, gettext("%(order)s is cancelled.") % {"order": order})
        return redirect("client:order_detail", pk=order.pk)
