"""Staff pages of invoices: the list, one invoice with its actions, its PDF and its
Factur-X XML, and a manual invoice (issue 10, points 6, 7 and 9; issue 17).

Each action is a POST behind its own permission (a support agent reads, a billing agent
acts) and calls one operation of ``billing.invoices`` or ``billing.payments``, which
checks that the invoice's status allows it and refuses with a message shown as is.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views import View
from django.views.generic import ListView

from clientxcms.access import StaffRequiredMixin, signed_in_user
from clientxcms.pagination import WindowPaginationMixin
from clientxcms.text import clean_search_term
from customers import activity
from customers.search import search_customers

from .. import einvoice, invoices, payments
from ..choices import InvoiceStatus, PaymentStatus
from ..filters import InvoiceFilterSet
from ..forms.admin import (
    CancelForm,
    InvoiceLineFormSet,
    ManualInvoiceForm,
    MarkPaidForm,
    RefundForm,
    customer_label,
    filled_lines,
)
from ..gateways.registry import gateway_labels
from ..invoices import BillingError, LineSpec
from ..models import ZERO, Invoice
from ..pdf import pdf_filename, render_invoice_pdf

#: The gateway of payments staff record by hand from the bank statement.
BANK_TRANSFER = "bank_transfer"


def amount_due(invoice: Invoice) -> Decimal:
    """What is left to pay on ``invoice`` (never below zero)."""
    return max(ZERO, invoice.total - invoice.amount_paid())


class InvoiceListView(StaffRequiredMixin, WindowPaginationMixin, ListView):
    """``/admin/invoices/``: filtered, searched, a bounded page at a time.

    One query for the rows whatever the page size (each with its customer and their
    login joined in); the gateway and search filters are ``EXISTS``/``IN`` subqueries
    of that same query.
    """

    permission_required = "billing.view_invoice"
    template_name = "billing/admin/invoice_list.html"
    context_object_name = "invoices"

    def get_queryset(self) -> QuerySet[Invoice]:
        self.filterset = InvoiceFilterSet(
            self.request.GET or None,
            queryset=Invoice.objects.select_related("customer__user"),
        )
        if self.filterset.is_bound and not self.filterset.is_valid():
            return Invoice.objects.none()
        return self.filterset.qs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            filterset=self.filterset,
            company_missing=einvoice.missing_company_details(),
            **kwargs,
        )


class InvoiceDetailView(StaffRequiredMixin, View):
    """``/admin/invoices/<pk>/``: lines, taxes, totals, payments, balance entries, credit
    notes, and the actions the invoice's status and the staff's permissions allow."""

    permission_required = "billing.view_invoice"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = get_object_or_404(
            Invoice.objects.select_related("customer__user", "credit_note_for", "created_by"),
            pk=pk,
        )
        return render(
            request, "billing/admin/invoice_detail.html", detail_context(request, invoice)
        )


def detail_context(request: HttpRequest, invoice: Invoice, **forms: Any) -> dict[str, Any]:
    """The details page's context; ``forms`` are refused action forms shown again."""
    user = request.user
    status = invoice.status
    lines = list(invoice.lines.select_related("service"))
    invoice_payments = list(invoice.payments.select_related("actor"))
    paid = sum((p.amount for p in invoice_payments if p.status == PaymentStatus.SUCCEEDED), ZERO)
    due = max(ZERO, invoice.total - paid)
    is_invoice = invoice.kind == "invoice"
    can = {
        "issue": status == InvoiceStatus.DRAFT and user.has_perm("billing.issue_invoice"),
        "mark_paid": is_invoice
        and status == InvoiceStatus.UNPAID
        and user.has_perm("billing.record_payment"),
        "cancel": status in (InvoiceStatus.DRAFT, InvoiceStatus.UNPAID)
        and user.has_perm("billing.change_invoice"),
        "refund": is_invoice
        and status == InvoiceStatus.PAID
        and user.has_perm("billing.refund_invoice"),
    }
    labels = gateway_labels()
    for payment in invoice_payments:
        payment.gateway_label = labels.get(payment.gateway, payment.gateway)  # type: ignore[attr-defined]
    return {
        "invoice": invoice,
        "lines": lines,
        "payments": invoice_payments,
        "amount_paid": paid,
        "amount_due": due,
        "balance_entries": list(invoice.balance_entries.select_related("actor")),
        "credit_notes": list(invoice.credit_notes.all()),
        "can": can,
        "refused_forms": list(forms.values()),
        "mark_paid_form": forms.get("mark_paid_form")
        or MarkPaidForm(initial={"amount": due, "reference": ""}),
        "cancel_form": forms.get("cancel_form") or CancelForm(),
        "refund_form": forms.get("refund_form") or RefundForm(),
    }


class InvoiceActionView(StaffRequiredMixin, View):
    """A POST on one invoice: run the operation, say what happened, go back to the page."""

    http_method_names = ["post"]
    form_class: type[Any] | None = None
    form_name = ""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = get_object_or_404(Invoice.objects.select_related("customer__user"), pk=pk)
        form = self.form_class(request.POST) if self.form_class else None
        if form is not None and not form.is_valid():
            messages.error(request, gettext("Please correct the form."))
            context = detail_context(request, invoice, **{self.form_name: form})
            return render(request, "billing/admin/invoice_detail.html", context, status=400)
        try:
            target = self.act(request, invoice, form.cleaned_data if form else {})
        except BillingError as exc:
            messages.error(request, exc.message)
            target = invoice
        return redirect("admin:invoice_detail", pk=target.pk)

    def act(self, request: HttpRequest, invoice: Invoice, data: dict[str, Any]) -> Invoice:
        raise NotImplementedError


class InvoiceIssueView(InvoiceActionView):
    """POST ``/admin/invoices/<pk>/issue/``: number and freeze a draft, and e-mail it."""

    permission_required = "billing.issue_invoice"

    def act(self, request: HttpRequest, invoice: Invoice, data: dict[str, Any]) -> Invoice:
        issued = invoices.issue(invoice, actor=signed_in_user(request))
        activity.record(action="invoice issued", target=issued, request=request)
        messages.success(
            request,
            gettext("Issued %(invoice)s: it was e-mailed to the customer.") % {"invoice": issued},
        )
        return issued


class InvoiceMarkPaidView(InvoiceActionView):
    """POST ``/admin/invoices/<pk>/mark-paid/``: a bank transfer received, by reference."""

    permission_required = "billing.record_payment"
    form_class = MarkPaidForm
    form_name = "mark_paid_form"

    def act(self, request: HttpRequest, invoice: Invoice, data: dict[str, Any]) -> Invoice:
        outcome = payments.record_payment(
            invoice,
            gateway=BANK_TRANSFER,
            amount=data["amount"],
            reference=data["reference"],
            actor=signed_in_user(request),
        )
        if not outcome.created:
            messages.warning(
                request,
                gettext(
                    "The transfer %(reference)s was already recorded (for %(invoice)s): nothing "
                    "was added."
                )
                % {"reference": data["reference"], "invoice": outcome.payment.invoice},
            )
            return outcome.invoice
        activity.record(
            action="invoice payment recorded",
            target=outcome.invoice,
            changes={"payment": {"new": f"{outcome.payment.amount} ({data['reference']})"}},
            request=request,
        )
        values = {"amount": outcome.payment.amount, "invoice": outcome.invoice}
        if outcome.invoice.status == InvoiceStatus.PAID:
            message = gettext("Recorded %(amount)s: %(invoice)s is paid.") % values
        else:
            message = gettext("Recorded %(amount)s: %(invoice)s is partly paid.") % values
        messages.success(request, message)
        return outcome.invoice


class InvoiceCancelView(InvoiceActionView):
    """POST ``/admin/invoices/<pk>/cancel/``: a draft or unpaid invoice will not be paid."""

    permission_required = "billing.change_invoice"
    form_class = CancelForm
    form_name = "cancel_form"

    def act(self, request: HttpRequest, invoice: Invoice, data: dict[str, Any]) -> Invoice:
        cancelled = invoices.cancel(invoice, actor=signed_in_user(request), reason=data["reason"])
        activity.record(action="invoice cancelled", target=cancelled, request=request)
        messages.success(request, gettext("Cancelled %(invoice)s.") % {"invoice": cancelled})
        return cancelled


class InvoiceRefundView(InvoiceActionView):
    """POST ``/admin/invoices/<pk>/refund/``: a credit note, to the balance or paid outside;
    the page of the credit note opens next."""

    permission_required = "billing.refund_invoice"
    form_class = RefundForm
    form_name = "refund_form"

    def act(self, request: HttpRequest, invoice: Invoice, data: dict[str, Any]) -> Invoice:
        to_balance = data["destination"] == RefundForm.TO_BALANCE
        note = invoices.refund(
            invoice, actor=signed_in_user(request), to_balance=to_balance, reason=data["reason"]
        )
        activity.record(action="invoice refunded", target=invoice, request=request)
        values = {"invoice": invoice, "note": note}
        if to_balance:
            message = (
                gettext("Refunded %(invoice)s to the customer's balance: credit note %(note)s.")
                % values
            )
        else:
            message = (
                gettext("Refunded %(invoice)s outside the panel: credit note %(note)s.") % values
            )
        messages.success(request, message)
        return note


class InvoicePdfView(StaffRequiredMixin, View):
    """``/admin/invoices/<pk>/pdf/``: the same document the customer downloads."""

    permission_required = "billing.view_invoice"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = get_object_or_404(
            Invoice.objects.select_related("customer__user", "credit_note_for"), pk=pk
        )
        response = HttpResponse(render_invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{pdf_filename(invoice)}"'
        return response


class InvoiceFacturXView(StaffRequiredMixin, View):
    """``/admin/invoices/<pk>/facturx.xml``: the e-invoice alone, the XML embedded in the PDF
    (for an accounting system that imports it); a draft has none (404)."""

    permission_required = "billing.view_invoice"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = get_object_or_404(
            Invoice.objects.select_related("customer__user", "credit_note_for").exclude(
                status=InvoiceStatus.DRAFT
            ),
            pk=pk,
        )
        response = HttpResponse(einvoice.build_xml(invoice), content_type="application/xml")
        response["Content-Disposition"] = f'attachment; filename="{einvoice.xml_filename(invoice)}"'
        return response


class InvoiceCreateView(StaffRequiredMixin, View):
    """``/admin/invoices/create/``: a manual draft for a customer, then its page."""

    permission_required = "billing.add_invoice"
    template_name = "billing/admin/invoice_create.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        initial = {"customer": request.GET.get("customer")} if "customer" in request.GET else None
        form = ManualInvoiceForm(initial=initial)
        return self._render(request, form, InvoiceLineFormSet(prefix="lines"))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ManualInvoiceForm(request.POST)
        formset = InvoiceLineFormSet(request.POST, prefix="lines")
        form_ok = form.is_valid()
        if formset.is_valid() and form_ok:
            lines = [
                LineSpec(
                    description=line["description"],
                    unit_price=line["unit_price"],
                    quantity=line["quantity"],
                )
                for line in filled_lines(formset)
            ]
            data = form.cleaned_data
            try:
                draft = invoices.create_draft(
                    data["customer"],
                    actor=signed_in_user(request),
                    lines=lines,
                    notes=data["notes"],
                    due_days=data["due_days"],
                )
            except BillingError as exc:
                form.add_error(None, exc.message)
            else:
                activity.record(action="invoice drafted", target=draft, request=request)
                messages.success(
                    request,
                    gettext("Drafted %(invoice)s: check it, then issue it.") % {"invoice": draft},
                )
                return redirect("admin:invoice_detail", pk=draft.pk)
        return self._render(request, form, formset, status=400)

    def _render(
        self, request: HttpRequest, form: ManualInvoiceForm, formset: Any, status: int = 200
    ) -> HttpResponse:
        context = {"form": form, "formset": formset}
        return render(request, self.template_name, context, status=status)


class InvoiceCustomerSearchView(StaffRequiredMixin, View):
    """``/admin/invoices/create/customers/?q=``: the ``<option>``s of matching customers,
    swapped into the manual invoice's customer list as staff type."""

    permission_required = "billing.add_invoice"

    def get(self, request: HttpRequest) -> HttpResponse:
        query = clean_search_term(request.GET.get("q", ""))
        options = [(c.pk, customer_label(c)) for c in search_customers(query)]
        return render(
            request,
            "billing/admin/customer_options.html",
            {"options": options, "query": query},
        )
