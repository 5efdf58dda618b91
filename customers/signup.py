"""The links a customer follows from an e-mail to prove an address is theirs.

Two links, each signed so that no one can make one without ``SECRET_KEY``:

* confirming a new account (``client:signup_confirm``): a Django token over the user's
  id, with a salt of its own so that a password-reset token never confirms an account
  and the reverse. The token hashes the account's state (``is_active`` and
  ``awaiting_email_confirmation``), so it stops working once it has been used, and it
  expires after ``PASSWORD_RESET_TIMEOUT`` as Django's reset links do;
* confirming a new login address (``client:email_change_confirm``): the user's id, the
  address it had and the new one, signed with a timestamp. It works only while the
  login still has the old address (so once) and for ``EMAIL_CHANGE_MAX_AGE``.

The e-mails are sent in the request, as Django's password reset does, so that the
person reads "we sent a link" only once it was handed to the mail server. They go
through ``customers.mail`` (text and HTML, the customer's language) and are logged
without their links: the log keeps the subject, never the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from .mail import send_to_customer
from .models import Customer, User

EMAIL_CHANGE_SALT = "customers.email-change"
EMAIL_CHANGE_MAX_AGE = timedelta(days=2)


class SignupConfirmationTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset token, salted apart and bound to the account's confirmation state."""

    key_salt = "customers.signup.SignupConfirmationTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        awaiting = getattr(getattr(user, "customer", None), "awaiting_email_confirmation", "")
        return f"{user.pk}{user.email}{user.is_active}{awaiting}{timestamp}"


signup_token_generator = SignupConfirmationTokenGenerator()


def _absolute(request: HttpRequest, path: str) -> str:
    return request.build_absolute_uri(path)


def _send(
    customer: Customer, kind: str, template: str, context: dict[str, object], to: str
) -> None:
    """Send ``customers/emails/<template>`` to ``to``, an address of ``customer``'s.

    No reference: asking for a link again must send it again."""
    send_to_customer(
        customer, kind=kind, template=f"customers/emails/{template}", context=context, to=to
    )


# Confirming a new account ----------------------------------------------------------------


def signup_confirmation_path(user: User) -> str:
    """The path of the link that confirms ``user``'s address (valid in its current state)."""
    return reverse(
        "client:signup_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "confirm_token": signup_token_generator.make_token(user),
        },
    )


def send_signup_confirmation(customer: Customer, request: HttpRequest) -> None:
    """E-mail the new customer the link that confirms their address and opens the account."""
    link = _absolute(request, signup_confirmation_path(customer.user))
    context = {"customer": customer, "link": link, "days": _days(settings.PASSWORD_RESET_TIMEOUT)}
    _send(customer, "signup_confirm", "signup_confirm", context, customer.user.email)


def awaiting_customer(email: str) -> Customer | None:
    """The customer whose account, at ``email``, still waits for its address to be confirmed."""
    return (
        Customer.objects.select_related("user")
        .filter(user__email__iexact=email.strip(), awaiting_email_confirmation=True)
        .first()
    )


def user_for_confirmation(uidb64: str, token: str) -> User | None:
    """The user a sign-up link names, if the link is genuine, unused and not expired."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    user = User.objects.select_related("customer").filter(pk=pk).first()
    if user is None or not signup_token_generator.check_token(user, token):
        return None
    return user


@transaction.atomic
def confirm_signup(user: User) -> bool:
    """Activate ``user``'s account if it is waiting for confirmation; whether it did."""
    customer = Customer.objects.select_for_update().filter(user=user).first()
    if customer is None or not customer.awaiting_email_confirmation:
        return False
    customer.awaiting_email_confirmation = False
    customer.save(update_fields=["awaiting_email_confirmation"])
    user.is_active = True
    user.save(update_fields=["is_active"])
    return True


# Changing the login address --------------------------------------------------------------


@dataclass(frozen=True)
class EmailChange:
    """What an e-mail change link carries: whose login, from which address, to which."""

    user_id: int
    old_email: str
    new_email: str


def make_email_change_token(user: User, new_email: str) -> str:
    """A signed, timestamped token for changing ``user``'s login to ``new_email``."""
    payload = {"u": user.pk, "old": user.email, "new": new_email}
    return signing.dumps(payload, salt=EMAIL_CHANGE_SALT, compress=True)


def read_email_change_token(token: str) -> EmailChange | None:
    """The change a token asks for, if genuine and not expired; None otherwise."""
    try:
        payload = signing.loads(token, salt=EMAIL_CHANGE_SALT, max_age=EMAIL_CHANGE_MAX_AGE)
        return EmailChange(int(payload["u"]), str(payload["old"]), str(payload["new"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError, UnicodeDecodeError):
        return None


def send_email_change_links(user: User, new_email: str, request: HttpRequest) -> None:
    """The link to the new address, and a notice to the old one that a change was asked."""
    path = reverse(
        "client:email_change_confirm",
        kwargs={"email_token": make_email_change_token(user, new_email)},
    )
    context = {
        "user": user,
        "old_email": user.email,
        "new_email": new_email,
        "link": _absolute(request, path),
        "days": EMAIL_CHANGE_MAX_AGE.days,
    }
    customer = user.customer  # the page that asks is the client area's: a customer's
    _send(customer, "email_change", "email_change_confirm", context, new_email)
    _send(customer, "email_change_notice", "email_change_notice", context, user.email)


def _days(seconds: int) -> int:
    return max(1, round(seconds / 86400))
