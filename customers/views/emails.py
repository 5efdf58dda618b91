"""The e-mail log of a customer, for staff: what was sent, when, to which address, and
whether the mail server took it (``customers.mail``), so that "I never got the e-mail"
has an answer. Read-only: ``customers.view_customer`` is enough to read it."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.views.generic import ListView

from clientxcms.access import StaffRequiredMixin
from clientxcms.pagination import WindowPaginationMixin
from customers.models import Customer, EmailLog

#: How many e-mails the customer's details page lists; the log page has them all.
LATEST_ON_DETAILS = 50


def emails_of(customer: Customer) -> QuerySet[EmailLog]:
    """``customer``'s e-mails, newest first, in the order of ``emaillog_customer_recent_idx``."""
    return EmailLog.objects.filter(customer=customer).order_by("-created_at", "-id")


def latest_emails(customer: Customer) -> QuerySet[EmailLog]:
    """The newest ``LATEST_ON_DETAILS`` of them, for the details page (one query, lazy)."""
    return emails_of(customer)[:LATEST_ON_DETAILS]


class CustomerEmailLogView(StaffRequiredMixin, WindowPaginationMixin, ListView):
    """``/admin/customers/<pk>/emails/``: every e-mail of one customer, a bounded page at
    a time (no count; at most ``max_pages`` pages deep)."""

    permission_required = "customers.view_customer"
    template_name = "customers/admin/email_list.html"
    context_object_name = "emails"
    paginate_by = 50
    max_pages = 200

    def get_queryset(self) -> QuerySet[EmailLog]:
        self.customer = get_object_or_404(
            Customer.objects.select_related("user"), pk=self.kwargs["pk"]
        )
        return emails_of(self.customer)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(customer=self.customer, **kwargs)
