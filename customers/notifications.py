"""E-mails to the administrators about staff accounts.

A locked-out staff account is someone guessing the password of an account that can
terminate every customer's server: the administrators (active superusers) hear of it.
The e-mail is queued after commit by ``customers.signals`` and sent by a Celery task.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from .models import User
from .throttling import wait_text


def administrators_by_language() -> dict[str, list[str]]:
    """The addresses of the active superusers, who can reset and unlock staff accounts, by
    the language each reads the administration in (the site's when they chose none)."""
    found: dict[str, list[str]] = {}
    administrators = User.objects.filter(is_superuser=True, is_active=True).order_by("email")
    for email, language in administrators.values_list("email", "language"):
        found.setdefault(language or settings.LANGUAGE_CODE, []).append(email)
    return found


def send_staff_lockout(user_id: int, ip_address: str | None) -> int:
    """Tell the administrators that ``user_id`` is locked out, each group in its language;
    how many were written to."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return 0
    written = 0
    for language, recipients in administrators_by_language().items():
        with translation.override(language):
            subject = _("Staff account locked out: %(email)s") % {"email": user.email}
            body = render_to_string(
                "customers/emails/staff_lockout.txt",
                {"user": user, "ip_address": ip_address or _("unknown"), "wait": wait_text()},
            )
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
        written += len(recipients)
    return written
