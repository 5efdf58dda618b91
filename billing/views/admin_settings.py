"""Staff pages around invoices: a customer's balance, the company's billing details, the
tax rates, and renewing a service with an invoice."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext
from django.views import View
from django.views.generic import CreateView, DeleteView, ListView, UpdateView

from clientxcms.access import StaffRequiredMixin, signed_in_user
from clientxcms.pagination import WindowPaginationMixin
from customers import activity
from customers.models import Customer
from services.models import Service

from .. import balance, einvoice, invoices
from ..forms.admin import (
    BalanceAdjustForm,
    CompanyProfileForm,
    RenewWithInvoiceForm,
    TaxRateForm,
)
from ..invoices import BillingError
from ..models import BalanceEntry, CompanyProfile, TaxRate, balance_of

#: Ledger rows shown on the balance page; older ones are one page further.
LEDGER_PAGE = 50


class CustomerBalanceView(StaffRequiredMixin, WindowPaginationMixin, ListView):
    """``/admin/customers/<pk>/balance/``: the ledger, and (POST) a credit or debit."""

    permission_required = "billing.view_balanceentry"
    template_name = "billing/admin/balance.html"
    context_object_name = "entries"
    paginate_by = LEDGER_PAGE

    def setup(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().setup(request, *args, **kwargs)
        self.form: BalanceAdjustForm | None = None

    def get_customer(self) -> Customer:
        if not hasattr(self, "customer"):
            self.customer = get_object_or_404(
                Customer.objects.select_related("user"), pk=self.kwargs["pk"]
            )
        return self.customer

    def get_queryset(self) -> QuerySet[BalanceEntry]:
        return BalanceEntry.objects.filter(customer=self.get_customer()).select_related(
            "invoice", "actor"
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        customer = self.get_customer()
        can_adjust = self.request.user.has_perm("billing.adjust_balance")
        return super().get_context_data(
            customer=customer,
            balance=balance_of(customer),
            currency=settings.DEFAULT_CURRENCY,
            can_adjust=can_adjust,
            form=self.form or BalanceAdjustForm(),
            **kwargs,
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("billing.adjust_balance"):
            return self.handle_no_permission()
        customer = self.get_customer()
        self.form = form = BalanceAdjustForm(request.POST)
        if form.is_valid():
            try:
                entry = balance.adjust(
                    customer,
                    amount=form.cleaned_data["amount"],
                    actor=signed_in_user(request),
                    reason=form.cleaned_data["reason"],
                )
            except BillingError as exc:
                form.add_error(None, exc.message)
            else:
                activity.record(
                    action="customer balance adjusted",
                    target=customer,
                    changes={"balance": {"new": f"{entry.amount:+} {entry.currency}"}},
                    request=request,
                )
                messages.success(
                    request,
                    gettext("Balance adjusted by %(amount)s %(currency)s.")
                    % {"amount": f"{entry.amount:+}", "currency": entry.currency},
                )
                return redirect("admin:customer_balance", pk=customer.pk)
        self.object_list = self.get_queryset()
        return self.render_to_response(self.get_context_data(), status=400)


class CompanyProfileView(StaffRequiredMixin, UpdateView):
    """``/admin/billing/company/``: the seller printed on every invoice."""

    permission_required = "billing.change_companyprofile"
    template_name = "billing/admin/company.html"
    form_class = CompanyProfileForm
    success_url = reverse_lazy("admin:billing_company")

    def get_object(self, queryset: QuerySet[CompanyProfile] | None = None) -> CompanyProfile:
        return CompanyProfile.current()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        # What the company lacks as saved (not as typed in a form being corrected).
        return super().get_context_data(
            company_missing=einvoice.missing_company_details(CompanyProfile.current()), **kwargs
        )

    def form_valid(self, form: CompanyProfileForm) -> HttpResponse:
        before = activity.snapshot(CompanyProfile.current(), CompanyProfileForm.Meta.fields)
        response = super().form_valid(form)
        changes = activity.diff(before, activity.snapshot(self.object, form.Meta.fields))
        if changes:
            activity.record(
                action="company details changed",
                target=self.object,
                changes=changes,
                request=self.request,
            )
        messages.success(self.request, gettext("Saved the company's details."))
        return response


class TaxRateListView(StaffRequiredMixin, ListView):
    """``/admin/billing/taxes/``: a rate per country and the default (a short list)."""

    permission_required = "billing.view_taxrate"
    template_name = "billing/admin/tax_list.html"
    context_object_name = "rates"
    queryset = TaxRate.objects.all()


class TaxRateCreateView(StaffRequiredMixin, CreateView):
    """``/admin/billing/taxes/add/``."""

    permission_required = "billing.change_taxrate"
    template_name = "billing/admin/tax_form.html"
    model = TaxRate
    success_url = reverse_lazy("admin:tax_list")
    form_class = TaxRateForm

    def form_valid(self, form: TaxRateForm) -> HttpResponse:
        response = super().form_valid(form)
        activity.record(action="tax rate created", target=self.object, request=self.request)
        messages.success(self.request, gettext("Added the rate %(rate)s.") % {"rate": self.object})
        return response


class TaxRateUpdateView(StaffRequiredMixin, UpdateView):
    """``/admin/billing/taxes/<pk>/edit/``: issued invoices keep the rate they froze."""

    permission_required = "billing.change_taxrate"
    template_name = "billing/admin/tax_form.html"
    model = TaxRate
    success_url = reverse_lazy("admin:tax_list")
    form_class = TaxRateForm

    def form_valid(self, form: TaxRateForm) -> HttpResponse:
        response = super().form_valid(form)
        activity.record(action="tax rate changed", target=self.object, request=self.request)
        messages.success(self.request, gettext("Saved the rate %(rate)s.") % {"rate": self.object})
        return response


class TaxRateDeleteView(StaffRequiredMixin, DeleteView):
    """POST ``/admin/billing/taxes/<pk>/delete/``."""

    permission_required = "billing.change_taxrate"
    model = TaxRate
    success_url = reverse_lazy("admin:tax_list")
    http_method_names = ["post"]
    form_class = forms.Form  # a confirmation: nothing to fill in

    def form_valid(self, form: Any) -> HttpResponse:
        label = str(self.object)
        activity.record(action="tax rate deleted", target=self.object, request=self.request)
        response = super().form_valid(form)
        messages.success(self.request, gettext("Deleted the rate %(rate)s.") % {"rate": label})
        return response


class ServiceRenewalInvoiceView(StaffRequiredMixin, View):
    """POST ``/admin/services/<pk>/renewal-invoice/``: an issued invoice renewing the
    service, sent to the customer; the service is renewed when it is paid."""

    permission_required = "billing.add_invoice"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = get_object_or_404(Service.objects.select_related("customer"), pk=pk)
        form = RenewWithInvoiceForm(request.POST)
        back = reverse("admin:service_detail", args=[service.pk])
        if not form.is_valid():
            messages.error(request, gettext("Choose between 1 and 36 cycles."))
            return redirect(back)
        try:
            invoice = invoices.renewal_invoice(
                service, cycles=form.cleaned_data["cycles"], actor=signed_in_user(request)
            )
        except BillingError as exc:
            messages.error(request, exc.message)
            return redirect(back)
        activity.record(action="renewal invoice issued", target=invoice, request=request)
        messages.success(
            request,
            gettext("Issued %(invoice)s for the renewal; it was sent to the customer.")
            % {"invoice": invoice},
        )
        return redirect("admin:invoice_detail", pk=invoice.pk)
