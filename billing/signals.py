"""What billing does when a service ends: its unpaid renewal invoice is cancelled.

Services know nothing of billing (DESIGN.md §3), so billing listens to the services'
history: a cancel or terminate event saved by the lifecycle, in the lifecycle's own
transaction, cancels the unpaid invoices that only renew that service.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext

from services.choices import ServiceAction
from services.models import ServiceEvent

ENDING = frozenset({ServiceAction.CANCEL, ServiceAction.TERMINATE})


def cancel_renewals_of_ended_service(
    sender: type[ServiceEvent], instance: ServiceEvent, created: bool, **kwargs: Any
) -> None:
    if not created or instance.error or instance.action not in ENDING:
        return
    if instance.service_id is None:
        return
    from .invoices import cancel, open_renewal_invoices  # they import services' lifecycle
    from .models import in_language_of

    for invoice in open_renewal_invoices(instance.service_id):
        with in_language_of(invoice.customer):
            reason = gettext("Service #%(service)s ended") % {"service": instance.service_id}
        cancel(invoice, actor=None, reason=reason)
