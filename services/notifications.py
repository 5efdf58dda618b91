"""E-mails that tell a customer what happened to their service.

The lifecycle schedules ``enqueue`` with ``transaction.on_commit``, so nothing is sent
for a change that was rolled back; the e-mail itself is sent by a Celery task, through
``customers.mail``: in the customer's language, text and HTML, logged, and sent once per
event (``service-event:<id>``) even when the task runs twice.
"""

from __future__ import annotations

from django.utils.text import format_lazy

from customers.mail import send_to_customer
from delivery.registry import UnknownModule

from .actions import CATALOGUE
from .choices import ServiceAction
from .models import Service, ServiceEvent

A = ServiceAction

#: Actions that e-mail the customer: the catalogue's entries with a subject.
NOTIFIED_ACTIONS = [key for key, spec in CATALOGUE.items() if spec.notifies]

#: The e-mail log's kind of each notified action: what the customer was told.
KINDS: dict[str, str] = {
    A.DELIVER: "delivered",
    A.SUSPEND: "suspended",
    A.UNSUSPEND: "unsuspended",
    A.EXPIRE: "expired",
    A.RENEW: "renewed",
    A.CANCEL: "cancelled",
    A.SCHEDULE_CANCEL: "cancellation_scheduled",
    A.TERMINATE: "terminated",
}
TEMPLATE = "services/emails/service_event"


def enqueue(event_id: int) -> None:
    """Queue the e-mail of one event (called after commit)."""
    from .tasks import send_service_notification

    send_service_notification.delay(event_id)


#: Events per task when a batch queues its e-mails (services.batches): one push to the
#: queue per hundred, not per e-mail.
ENQUEUED_TOGETHER = 100


def enqueue_many(event_ids: list[int]) -> None:
    """Queue the e-mails of several events (called after the batch's commit)."""
    from .tasks import send_service_notifications

    for start in range(0, len(event_ids), ENQUEUED_TOGETHER):
        send_service_notifications.delay(event_ids[start : start + ENQUEUED_TOGETHER])


def send(event_id: int) -> bool:
    """Send the e-mail of one event; False when there is nothing to send, or when it was
    sent already (by an earlier run of the task, or one running now)."""
    event = (
        ServiceEvent.objects.select_related("service__customer__user")
        .filter(pk=event_id, action__in=NOTIFIED_ACTIONS)
        .first()
    )
    if event is None or event.service is None:
        return False
    service = event.service
    context = {
        "event": event,
        "service": service,
        # Lazy: written in the customer's language when the e-mail is rendered.
        "notify_subject": format_lazy(CATALOGUE[event.action].notify_subject, name=service.name),
        "access_reference": access_reference(service) if event.action == A.DELIVER else "",
    }
    log = send_to_customer(
        service.customer,
        kind=KINDS[event.action],
        template=TEMPLATE,
        context=context,
        reference=f"service-event:{event.pk}",
    )
    return log.just_sent


def access_reference(service: Service) -> str:
    """Where the delivered service is reached (its hostname or address), as its module
    says from ``module_data``: never a password, which stays in the client area."""
    try:
        return service.delivery_module.display_reference(service)
    except UnknownModule:
        return ""
