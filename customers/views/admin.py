"""Staff views of customers: the list, the details page, creating and editing them, and
sending one a password-reset e-mail.

What other apps show about a customer (their services, renewals and history; service
counts and filters on the list) comes from the panels those apps register
(``clientxcms.panels``): customers import none of them (DESIGN.md §3).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import CreateView, DetailView, ListView, UpdateView

from clientxcms import panels
from clientxcms.access import StaffRequiredMixin
from clientxcms.pagination import WindowPaginationMixin
from customers import activity, vat
from customers.choices import VAT_STATUS_BADGES
from customers.filters import CustomerFilterSet
from customers.forms import (
    DUPLICATE_EMAIL,
    CustomerCreateForm,
    CustomerForm,
    send_password_reset_email,
)
from customers.models import Customer
from customers.views.emails import latest_emails


class CustomerListView(
    StaffRequiredMixin, panels.PanelColumnsMixin, WindowPaginationMixin, ListView
):
    """``/admin/customers/``: searched and filtered, a page at a time, in one query.

    Registered columns add their figures to that query as annotations; registered
    filters join the FilterSet, for the staff allowed to see what they filter on.
    """

    permission_required = "customers.view_customer"
    template_name = "customers/admin/list.html"
    context_object_name = "customers"
    panel_model = "customer"

    def get_queryset(self) -> QuerySet[Customer]:
        self.filterset = CustomerFilterSet(
            self.request.GET or None,
            queryset=self.annotate_for_panels(Customer.objects.select_related("user")),
            extra_filters=panels.filters_for(self.panel_model, self.request.user),
        )
        return self.filterset.qs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        panel_filters = [self.filterset.form[name] for name in self.filterset.extra_filter_names]
        return super().get_context_data(
            filterset=self.filterset, panel_filters=panel_filters, **kwargs
        )


class CustomerDetailView(StaffRequiredMixin, DetailView):
    """``/admin/customers/<pk>/``: the profile, then the panels other apps register for a
    customer (their services, renewals and history), for the staff allowed to see them,
    and the customer's latest e-mails (``customers.views.emails``).

    The customer is read in one query with the panels' annotations (service counts);
    each panel then reads its own rows, cut to the most recent, so the page costs the
    same for a customer with three services as for one with three thousand.
    """

    permission_required = "customers.view_customer"
    template_name = "customers/admin/detail.html"
    context_object_name = "customer"

    def get_queryset(self) -> QuerySet[Customer]:
        self.customer_panels = panels.panels_for("customer", self.request.user)
        return panels.annotate(Customer.objects.select_related("user"), self.customer_panels)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        bound = panels.bind_panels(self.customer_panels, self.object, self.request)
        return super().get_context_data(
            panels=bound,
            emails=latest_emails(self.object),
            now=timezone.now(),  # whether a hold agreed with the customer is over
            vat_badge=VAT_STATUS_BADGES[self.object.current_vat_status],
            vat_in_vies=vat.in_vies(self.object),
            vat_passes=vat.number_passes(self.object),
            **kwargs,
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
                activity.record(
                    action="customer created",
                    target=customer,
                    changes=activity.diff({}, audit_snapshot(customer)),
                    request=self.request,
                )
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
        if form.cleaned_data["send_password_email"]:
            message = _(
                "Created the customer %(customer)s. An e-mail to choose a password was sent "
                "to %(email)s."
            ) % {"customer": customer, "email": customer.email}
        else:
            message = _("Created the customer %(customer)s.") % {"customer": customer}
        messages.success(self.request, message)
        return HttpResponseRedirect(self.get_success_url())

    def get_success_url(self) -> str:
        assert self.object is not None  # set by form_valid
        return reverse("admin:customer_detail", args=[self.object.pk])


def audit_snapshot(customer: Customer) -> dict[str, Any]:
    """A customer's profile and login e-mail as stored, as the activity log compares them."""
    stored = Customer.objects.select_related("user").get(pk=customer.pk)
    return {**activity.snapshot(stored, CustomerForm.Meta.fields), "email": stored.user.email}


class CustomerUpdateView(StaffRequiredMixin, UpdateView):
    """``/admin/customers/<pk>/edit/``: the profile and the login's e-mail address."""

    permission_required = "customers.change_customer"
    template_name = "customers/admin/form.html"
    form_class = CustomerForm
    queryset = Customer.objects.select_related("user")

    def form_valid(self, form: CustomerForm) -> HttpResponse:
        try:
            with transaction.atomic():
                before = audit_snapshot(self.object)
                self.object = form.save()
                changes = activity.diff(before, audit_snapshot(self.object))
                if changes:
                    activity.record(
                        action="customer changed",
                        target=self.object,
                        changes=changes,
                        request=self.request,
                    )
        except IntegrityError:
            form.add_error("email", DUPLICATE_EMAIL)
            return self.form_invalid(form)
        messages.success(
            self.request, _("Saved the customer %(customer)s.") % {"customer": self.object}
        )
        return HttpResponseRedirect(self.get_success_url())

    def get_success_url(self) -> str:
        return reverse("admin:customer_detail", args=[self.object.pk])


class CustomerVatCheckView(StaffRequiredMixin, View):
    """POST ``/admin/customers/<pk>/vat-check/``: asks VIES about the customer's VAT number
    again (``customers.vat``), whether or not the automatic check is on; the answer comes
    from a task and shows on the customer's page."""

    permission_required = "customers.change_customer"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = get_object_or_404(Customer, pk=pk)
        with transaction.atomic():
            queued = vat.queue_check(customer, force=True)
            if queued:
                activity.record(
                    action="customer VAT number check asked",
                    target=customer,
                    request=request,
                )
        if queued:
            messages.success(
                request,
                _("Asked VIES about %(number)s: the answer shows here in a moment.")
                % {"number": customer.vat_number},
            )
        else:
            messages.error(request, _("VIES checks EU VAT numbers only: nothing to check here."))
        return redirect("admin:customer_detail", pk=customer.pk)


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
            messages.error(request, _("This customer's account is disabled: no e-mail was sent."))
        else:
            send_password_reset_email(customer.user, request, new_account=False)
            activity.record(
                action="customer password-reset e-mail sent", target=customer, request=request
            )
            messages.success(
                request,
                _("Sent a password-reset e-mail to %(email)s.") % {"email": customer.email},
            )
        return redirect("admin:customer_detail", pk=customer.pk)
