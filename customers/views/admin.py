"""Staff views of customers: the list, the details page, creating and editing them, and
sending one a password-reset e-mail."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views import View
from django.views.generic import CreateView, DetailView, ListView, UpdateView

from clientxcms.access import StaffRequiredMixin
from clientxcms.pagination import WindowPaginationMixin
from clientxcms.queries import subquery_count
from customers.filters import CustomerFilterSet
from customers.forms import (
    DUPLICATE_EMAIL,
    CustomerCreateForm,
    CustomerForm,
    send_password_reset_email,
)
from customers.models import Customer
from services.choices import LIVE
from services.models import Service, ServiceEvent, ServiceRenewal


def customers_with_service_counts() -> QuerySet[Customer]:
    """Customers with their login, and how many services (all, and live) each one has."""
    return Customer.objects.select_related("user").annotate(
        service_count=subquery_count(Service.objects.all(), "customer"),
        live_service_count=subquery_count(Service.objects.filter(status__in=LIVE), "customer"),
    )


class CustomerListView(StaffRequiredMixin, WindowPaginationMixin, ListView):
    """``/admin/customers/``: searched and filtered, a page at a time, in one query."""

    permission_required = "customers.view_customer"
    template_name = "customers/admin/list.html"
    context_object_name = "customers"

    def get_queryset(self) -> QuerySet[Customer]:
        self.filterset = CustomerFilterSet(
            self.request.GET or None, queryset=customers_with_service_counts()
        )
        return self.filterset.qs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(filterset=self.filterset, **kwargs)


class CustomerDetailView(StaffRequiredMixin, DetailView):
    """``/admin/customers/<pk>/``: the profile, services, renewals and history of a customer.

    Each list is cut to its most recent rows, so the page costs the same for a customer
    with three services as for one with three thousand.
    """

    permission_required = "customers.view_customer"
    template_name = "customers/admin/detail.html"
    context_object_name = "customer"
    services_shown = 15
    renewals_shown = 10
    events_shown = 15

    def get_queryset(self) -> QuerySet[Customer]:
        return customers_with_service_counts()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        customer = self.object
        services = customer.services.select_related("product", "server").order_by("-id")[
            : self.services_shown
        ]
        renewals = (
            ServiceRenewal.objects.filter(service__customer=customer)
            .select_related("service", "actor")
            .order_by("-created_at", "-id")[: self.renewals_shown]
        )
        events = (
            ServiceEvent.objects.filter(service__customer=customer)
            .select_related("service", "actor")
            .order_by("-created_at", "-id")[: self.events_shown]
        )
        return super().get_context_data(
            services=services, renewals=renewals, events=events, **kwargs
        )


class CustomerCreateView(StaffRequiredMixin, CreateView):
    """``/admin/customers/add/``: the login and the profile in one transaction."""

    permission_required = "customers.add_customer"
    template_name = "customers/admin/form.html"
    form_class = CustomerCreateForm

    def form_valid(self, form: CustomerCreateForm) -> HttpResponse:
        try:
            with transaction.atomic():
                self.object = customer = form.save()
                if form.cleaned_data["send_password_email"]:
                    transaction.on_commit(
                        lambda: send_password_reset_email(
                            customer.user, self.request, new_account=True
                        )
                    )
        except IntegrityError:
            # Another request took the address between the form's check and the insert.
            form.add_error("email", DUPLICATE_EMAIL)
            return self.form_invalid(form)
        message = f"Created the customer {customer}."
        if form.cleaned_data["send_password_email"]:
            message += f" An e-mail to choose a password was sent to {customer.email}."
        messages.success(self.request, message)
        return HttpResponseRedirect(self.get_success_url())

    def get_success_url(self) -> str:
        return reverse("admin:customer_detail", args=[self.object.pk])


class CustomerUpdateView(StaffRequiredMixin, UpdateView):
    """``/admin/customers/<pk>/edit/``: the profile and the login's e-mail address."""

    permission_required = "customers.change_customer"
    template_name = "customers/admin/form.html"
    form_class = CustomerForm
    queryset = Customer.objects.select_related("user")

    def form_valid(self, form: CustomerForm) -> HttpResponse:
        try:
            self.object = form.save()
        except IntegrityError:
            form.add_error("email", DUPLICATE_EMAIL)
            return self.form_invalid(form)
        messages.success(self.request, f"Saved the customer {self.object}.")
        return HttpResponseRedirect(self.get_success_url())

    def get_success_url(self) -> str:
        return reverse("admin:customer_detail", args=[self.object.pk])


class CustomerPasswordResetView(StaffRequiredMixin, View):
    """POST ``/admin/customers/<pk>/password-reset/``: e-mails the customer a reset link.

    The link, made by Django's token generator, opens ``client:password_reset_confirm``;
    staff never see or set the password themselves.
    """

    permission_required = "customers.change_customer"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = get_object_or_404(Customer.objects.select_related("user"), pk=pk)
        if not customer.user.is_active:
            messages.error(request, "This customer's account is disabled: no e-mail was sent.")
        else:
            send_password_reset_email(customer.user, request, new_account=False)
            messages.success(request, f"Sent a password-reset e-mail to {customer.email}.")
        return redirect("admin:customer_detail", pk=customer.pk)
