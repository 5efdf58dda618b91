"""E-mails to the administrators about staff accounts.

A locked-out staff account is someone guessing the password of an account that can
terminate every customer's server: the administrators (active superusers) hear of it.
The e-mail is queued after commit by ``customers.signals`` and sent by a Celery task.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from .models import User
from .throttling import wait_text


def administrators_emails() -> list[str]:
    """The addresses of the active superusers, who can reset and unlock staff accounts."""
    return list(
        User.objects.filter(is_superuser=True, is_active=True)
        .order_by("email")
        .values_list("email", flat=True)
    )


def send_staff_lockout(user_id: int, ip_address: str | None) -> int:
    """Tell the administrators that ``user_id`` is locked out; how many were written to."""
    user = User.objects.filter(pk=user_id).first()
    recipients = administrators_emails()
    if user is None or not recipients:
        return 0
    subject = _("Staff account locked out: %(email)s") % {"email": user.email}
    body = render_to_string(
        "customers/emails/staff_lockout.txt",
        {"user": user, "ip_address": ip_address or _("unknown"), "wait": wait_text()},
    )
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    return len(recipients)
