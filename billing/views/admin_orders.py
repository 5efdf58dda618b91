"""Staff pages of orders and payments: the lists, an order's details, cancelling a pending
order (issue 10, points 6 and 9)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext
from django.views import View
from django.views.generic import DetailView, ListView

from clientxcms.access import StaffRequiredMixin, signed_in_user
from clientxcms.pagination import WindowPaginationMixin
from customers import activity
from services.models import Service

from ..filters import OrderFilterSet, PaymentFilterSet
from ..gateways.registry import gateway_labels
from ..invoices import BillingError
from ..models import InvoiceLine, Order, OrderItem, Payment
from ..orders import cancel_order


class OrderListView(StaffRequiredMixin, WindowPaginationMixin, ListView):
    """``/admin/orders/``: one query for the rows, each with its customer and invoice."""

    permission_required = "billing.view_order"
    template_name = "billing/admin/order_list.html"
    context_object_name = "orders"

    def get_queryset(self) -> QuerySet[Order]:
        self.filterset = OrderFilterSet(
            self.request.GET or None,
            queryset=Order.objects.select_related("customer__user", "invoice"),
        )
        if self.filterset.is_bound and not self.filterset.is_valid():
            return Order.objects.none()
        return self.filterset.qs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(filterset=self.filterset, **kwargs)


class OrderDetailView(StaffRequiredMixin, DetailView):
    """``/admin/orders/<pk>/``: its items, its invoice, and the services it produced
    (the services of the invoice lines made for its items)."""

    permission_required = "billing.view_order"
    template_name = "billing/admin/order_detail.html"
    context_object_name = "order"

    def get_queryset(self) -> QuerySet[Order]:
        lines = InvoiceLine.objects.select_related("service", "invoice")
        items = OrderItem.objects.select_related("product").prefetch_related(
            Prefetch("lines", queryset=lines)
        )
        return Order.objects.select_related("customer__user", "invoice").prefetch_related(
            Prefetch("items", queryset=items)
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        order: Order = self.object
        services: dict[int, Service] = {}
        for item in order.items.all():
            for line in item.lines.all():
                if line.service is not None:
                    services[line.service.pk] = line.service
        user = self.request.user
        return super().get_context_data(
            services=list(services.values()),
            can_cancel=order.status == "pending" and user.has_perm("billing.change_order"),
            **kwargs,
        )


class OrderCancelView(StaffRequiredMixin, View):
    """POST ``/admin/orders/<pk>/cancel/``: a pending order and its unpaid invoice."""

    permission_required = "billing.change_order"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        order = get_object_or_404(Order, pk=pk)
        try:
            cancelled = cancel_order(order, actor=signed_in_user(request))
        except BillingError as exc:
            messages.error(request, exc.message)
        else:
            activity.record(action="order cancelled", target=cancelled, request=request)
            messages.success(
                request, gettext("Cancelled %(order)s and its invoice.") % {"order": cancelled}
            )
        return redirect("admin:order_detail", pk=pk)


class PaymentListView(StaffRequiredMixin, WindowPaginationMixin, ListView):
    """``/admin/payments/``: every payment received, newest first, by gateway."""

    permission_required = "billing.view_payment"
    template_name = "billing/admin/payment_list.html"
    context_object_name = "payments"

    def get_queryset(self) -> QuerySet[Payment]:
        self.filterset = PaymentFilterSet(
            self.request.GET or None,
            queryset=Payment.objects.select_related("invoice__customer", "actor"),
        )
        if self.filterset.is_bound and not self.filterset.is_valid():
            return Payment.objects.none()
        return self.filterset.qs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(filterset=self.filterset, **kwargs)
        labels = gateway_labels()
        for payment in context["payments"]:
            payment.gateway_label = labels.get(payment.gateway, payment.gateway)
        return context
