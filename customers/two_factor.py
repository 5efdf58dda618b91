"""Two-factor sign-in for staff: an authenticator app (TOTP) and single-use recovery codes.

django-otp keeps the devices and, through ``OTPMiddleware``, says whether this session
passed the second step (``request.user.is_verified()``). This module holds the rules:

- a staff member who confirmed a device must enter a code after the password before
  any staff page opens (``pending_step``, asked by ``StaffRequiredMixin``);
- with ``STAFF_REQUIRE_2FA``, a staff member without a device is sent to enrolment;
- ``User.two_factor_enabled`` mirrors "has a confirmed device", so that the question
  costs no query on every staff page; only this module sets it.

Customers are never asked: the client area does not use these rules.
"""

from __future__ import annotations

import base64
import re
from io import BytesIO

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import activity
from .models import User

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
VERIFY_URL_NAME = "admin:login_verify"
ENROL_URL_NAME = "admin:two_factor"
TOTP_SHAPE = re.compile(r"^\d{6,8}$")


def is_verified(user: object) -> bool:
    """Whether the session of ``user`` passed the second step.

    A user object that did not go through ``OTPMiddleware`` has no ``is_verified``: it
    counts as not verified, so a missing middleware refuses rather than lets in.
    """
    check = getattr(user, "is_verified", None)
    return bool(check()) if callable(check) else False


def pending_step(user: User, *, enrolling: bool = False) -> str | None:
    """The URL name a staff member must go through before a staff page, or None.

    ``enrolling`` is for the enrolment page itself, which a staff member without a
    device must be able to open even when enrolment is required.
    """
    if not (user.is_authenticated and user.is_staff):
        return None
    if user.two_factor_enabled:
        return None if is_verified(user) else VERIFY_URL_NAME
    if settings.STAFF_REQUIRE_2FA and not enrolling:
        return ENROL_URL_NAME
    return None


def pending_totp_device(user: User) -> TOTPDevice:
    """The unconfirmed authenticator of ``user``, made on first use and kept until confirmed.

    Kept rather than remade on every page view, so that reloading the page does not
    invalidate the QR code already scanned.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def secret_text(device: TOTPDevice) -> str:
    """The secret as an authenticator app asks for it when typed: base32, in groups of 4."""
    secret = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_code_data_uri(device: TOTPDevice) -> str:
    """The device's ``otpauth://`` URL as a QR code, an SVG in a ``data:`` URI for an <img>.

    Drawn on the server as a path (no script, no inline style), so it fits a
    Content-Security-Policy that allows ``img-src data:``.
    """
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes with ``RECOVERY_CODE_COUNT`` new ones; return them.

    They are shown once, on the page that made them; each works once.
    """
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def confirm_enrolment(request: HttpRequest, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm ``device`` with a code from the app; the recovery codes, or None if refused.

    On success the session counts as verified (the person just proved they hold the
    device), other authenticators of the user are removed, and the flag is set.
    """
    user: User = request.user  # type: ignore[assignment]
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user)
        if not device.verify_token(token.strip()):
            return None
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = new_recovery_codes(user)
        User.objects.filter(pk=user.pk).update(two_factor_enabled=True)
        user.two_factor_enabled = True
        activity.record(action=activity.TWO_FACTOR_ENROLLED, actor=user, request=request)
    otp_login(request, device)
    return codes


def verify(request: HttpRequest, token: str) -> bool:
    """Check a code typed at the second step, and mark the session verified if it matches.

    Six to eight digits are tried against the authenticator, anything else against the
    recovery codes (a matched recovery code is used up), so that a recovery code never
    counts as a wrong guess on the authenticator's throttle, nor the reverse.
    """
    user: User = request.user  # type: ignore[assignment]
    token = re.sub(r"[\s-]", "", token).lower()
    if not token:
        return False
    model = TOTPDevice if TOTP_SHAPE.match(token) else StaticDevice
    with transaction.atomic():
        devices = model.objects.devices_for_user(user, confirmed=True).select_for_update()
        matched = next((d for d in devices if d.verify_token(token)), None)
    if matched is None:
        activity.record(action=activity.TWO_FACTOR_FAILED, actor=user, request=request)
        return False
    otp_login(request, matched)
    return True


def is_throttled(user: User) -> bool:
    """Whether the authenticator refuses codes for now after wrong ones (django-otp's wait)."""
    device = TOTPDevice.objects.devices_for_user(user, confirmed=True).first()
    return device is not None and not device.verify_is_allowed()[0]


@transaction.atomic
def reset(*, user: User, actor: User, request: HttpRequest | None = None) -> int:
    """Remove every two-factor device of ``user`` (a lost phone); how many were removed.

    The staff member signs in with the password alone afterwards and enrols again (or is
    sent to enrolment when it is required).
    """
    was_enabled = user.two_factor_enabled
    removed = 0
    for model in (TOTPDevice, StaticDevice):
        removed += model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
    User.objects.filter(pk=user.pk).update(two_factor_enabled=False)
    user.two_factor_enabled = False
    activity.record(
        action=activity.TWO_FACTOR_RESET,
        actor=actor,
        target=user,
        changes={"two_factor_enabled": {"old": was_enabled, "new": False}},
        request=request,
    )
    return removed
