"""E-mails that tell a customer what happened to their service.

The lifecycle schedules ``enqueue`` with ``transaction.on_commit``, so nothing is sent
for a change that was rolled back; the e-mail itself is sent by a Celery task.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from .actions import CATALOGUE
from .models import ServiceEvent

#: Actions that e-mail the customer: the catalogue's entries with a subject.
NOTIFIED_ACTIONS = [key for key, spec in CATALOGUE.items() if spec.notifies]


def enqueue(event_id: int) -> None:
    """Queue the e-mail of one event (called after commit)."""
    from .tasks import send_service_notification

    send_service_notification.delay(event_id)


def send(event_id: int) -> bool:
    """Send the e-mail of one event; False when there is nothing to send."""
    event = (
        ServiceEvent.objects.select_related("service__customer__user")
        .filter(pk=event_id, action__in=NOTIFIED_ACTIONS)
        .first()
    )
    if event is None or event.service is None:
        return False
    service = event.service
    customer = service.customer
    with translation.override(customer.language):
        subject = CATALOGUE[event.action].notify_subject.format(name=service.name)
        body = render_to_string(
            "services/emails/notification.txt",
            {"event": event, "service": service, "customer": customer},
        )
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [customer.email])
    return True
