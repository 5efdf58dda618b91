"""The notice that a service expires soon: one e-mail per paid period, a few days ahead.

Due are the active and suspended services whose expiration falls within the notice days
staff set (``services.periods``) and whose end nobody has scheduled, and to whom no notice
for this period was sent yet. The period is the service's renewal count, so a renewal
(which pays the next period) makes the next notice due in its turn, while moving the
expiration by a few days does not send a second one. The e-mail log's unique (kind,
reference) is the guarantee (``customers.mail``): two sweeps at once send one e-mail; a
failed send is tried again by the next sweep.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import CharField, Exists, OuterRef, QuerySet, Value
from django.db.models.functions import Cast, Concat

from customers.mail import send_to_customer
from customers.models import EmailLog, EmailStatus
from products.choices import BillingCycle

from . import periods
from .choices import ServiceStatus
from .models import Service

KIND = "expiring_soon"
TEMPLATE = "services/emails/expiring_soon"


def reference(service: Service) -> str:
    """What the notice is about: this service's current paid period."""
    return f"service:{service.pk}:period:{service.renewal_count}"


def due(now: dt.datetime) -> QuerySet[Service]:
    """Services expiring soon at ``now`` that have not been told for this period (sent or
    sending)."""
    told = EmailLog.objects.filter(
        customer=OuterRef("customer"),
        kind=KIND,
        status__in=[EmailStatus.SENT, EmailStatus.SENDING],
        reference=Concat(
            Value("service:"),
            Cast(OuterRef("pk"), CharField()),
            Value(":period:"),
            Cast(OuterRef("renewal_count"), CharField()),
        ),
    )
    return (
        Service.objects.filter(
            status__in=[ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED],
            expires_at__gt=now,
            expires_at__lte=now + dt.timedelta(days=periods.expiry_notice_days()),
            cancel_at__isnull=True,
            operation="",
        )
        .exclude(billing_cycle=BillingCycle.ONE_TIME)
        .filter(~Exists(told))
    )


def send_expiry_notice(service: Service) -> bool:
    """E-mail the customer that ``service`` expires soon; False when it was already sent."""
    log = send_to_customer(
        service.customer,
        kind=KIND,
        template=TEMPLATE,
        context={"service": service, "customer": service.customer},
        reference=reference(service),
    )
    return log.just_sent
