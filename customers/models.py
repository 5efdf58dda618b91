"""Users log in by e-mail; a customer is a user with a Customer profile, staff are not."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_countries.fields import CountryField

from .choices import VatStatus


class UserManager(BaseUserManager["User"]):
    """Creates users with a normalised e-mail and finds them case-insensitively."""

    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)

    def _create(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("A user needs an e-mail address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A login. Staff have ``is_staff``; customers have a ``customer`` profile instead."""

    email = models.EmailField(_("e-mail address"), max_length=254, unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(
        default=False, help_text=_("Can log in to the administration area.")
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    two_factor_enabled = models.BooleanField(
        _("two-factor enabled"),
        default=False,
        editable=False,
        help_text=(
            "Set on confirming a two-factor device, cleared when the devices are reset. Kept "
            "on the user so that every staff page knows whether to ask for a code without "
            "a query of its own (customers.two_factor)."
        ),
    )
    #: The administration's language for a staff member; blank follows their browser.
    #: A customer's language is ``Customer.language`` (their e-mails and invoices too).
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, blank=True, default=""
    )

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]
        permissions = [
            ("reset_staff_2fa", "Can reset a staff member's two-factor devices"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    @property
    def is_customer(self) -> bool:
        return hasattr(self, "customer")


phone_validator = RegexValidator(
    r"^\+?[0-9 ().-]{6,20}$", _("Enter a phone number: digits, spaces and + ( ) . - only.")
)


def full_name(first_name: str, last_name: str) -> str:
    """A customer's name as pages show it; also for rows read as values (the service list)."""
    return f"{first_name} {last_name}".strip()


class Customer(models.Model):
    """The profile of a person or company that buys services and logs in to the client area."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="customer"
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    company = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=32, blank=True, validators=[phone_validator])
    address_line1 = models.CharField(_("address"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address (line 2)"), max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    state = models.CharField(_("state or region"), max_length=100, blank=True)
    country = CountryField(blank=True)
    vat_number = models.CharField(
        _("VAT number"),
        max_length=32,
        blank=True,
        help_text=_(
            "For a business: printed on invoices. With the country prefix, e.g. DE123456789."
        ),
    )
    legal_identifier = models.CharField(
        _("legal identifier"),
        max_length=32,
        blank=True,
        help_text=_("For a business: its registration number, such as a SIREN or SIRET in France."),
    )
    # The last check of the VAT number (customers.vat): which number it was about, so that
    # a number changed by any path is never taken for checked, and what it found.
    vat_status = models.CharField(
        _("VAT number check"),
        max_length=20,
        choices=VatStatus.choices,
        default=VatStatus.UNCHECKED,
        editable=False,
    )
    vat_checked_number = models.CharField(max_length=32, blank=True, editable=False)
    vat_checked_at = models.DateTimeField(_("VAT number checked at"), null=True, editable=False)
    vat_check_message = models.CharField(max_length=300, blank=True, editable=False)
    #: What VIES returned for a valid number, when the member state shares it.
    vat_registered_name = models.CharField(max_length=200, blank=True, editable=False)
    vat_registered_address = models.TextField(blank=True, editable=False)
    language = models.CharField(
        _("preferred language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    notes = models.TextField(
        _("staff notes"), blank=True, help_text=_("Never shown to the customer.")
    )
    hold_until = models.DateTimeField(
        _("do not suspend or terminate until"),
        null=True,
        blank=True,
        help_text=_(
            "Agreed with the customer: until then the automation neither expires nor "
            "terminates any of their services, and the termination's grace period starts "
            "again from this date. Staff can still suspend or terminate by hand."
        ),
    )
    awaiting_email_confirmation = models.BooleanField(
        default=False,
        editable=False,
        help_text=(
            "Set by the client sign-up until the link e-mailed to the address is followed: "
            "it tells a new, unconfirmed account (whose login is inactive until then) from "
            "one that staff disabled, which no link may reactivate (customers.signup)."
        ),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["last_name", "first_name"], name="customer_name_idx"),
            models.Index(fields=["company"], name="customer_company_idx"),
            # The few customers staff agreed a hold with: the sweeps ask it for every
            # service they claim, and must not scan every customer to find none.
            models.Index(
                fields=["hold_until"],
                condition=models.Q(hold_until__isnull=False),
                name="customer_hold_until_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.company})" if self.company else self.full_name

    @property
    def full_name(self) -> str:
        return full_name(self.first_name, self.last_name)

    @property
    def email(self) -> str:
        """The customer's e-mail is their login's: one address, never two to keep in sync."""
        return self.user.email

    @property
    def current_vat_status(self) -> str:
        """The status of the VAT number as it is now: a check of another number (before a
        change made by any path, an import or a script included) does not count."""
        if not self.vat_number or self.vat_checked_number != self.vat_number:
            return VatStatus.UNCHECKED
        return self.vat_status

    def get_current_vat_status_display(self) -> str:
        return str(VatStatus(self.current_vat_status).label)


class StaffActivity(models.Model):
    """One thing a staff member did, or one sign-in attempt on a staff account.

    The target is named by a content type and an id plus its text at the time, rather
    than a foreign key, so that this app (the accounts app, below all others) points at
    servers and products without importing them, and an entry outlives its target.
    ``changes`` holds field names and, for fields that are not secret, their old and new
    values; a secret's entry says only that it changed (``customers.activity.record``).
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="staff_activities",
    )
    #: Who was tried when there is no actor: the e-mail typed on a failed sign-in.
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.ForeignKey(
        "contenttypes.ContentType", on_delete=models.SET_NULL, null=True, blank=True
    )
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("staff activity")
        verbose_name_plural = _("staff activity")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="staffactivity_recent_idx"),
            models.Index(fields=["actor", "-created_at", "-id"], name="staffactivity_actor_idx"),
            models.Index(fields=["target_type", "target_id"], name="staffactivity_target_idx"),
        ]

    def __str__(self) -> str:
        who = self.actor or self.actor_label or "someone"
        return f"{who} {self.action} {self.target_repr}".strip()


class EmailStatus(models.TextChoices):
    """Where one e-mail to a customer stands."""

    SENDING = "sending", pgettext_lazy("e-mail", "Sending")
    SENT = "sent", pgettext_lazy("e-mail", "Sent")
    FAILED = "failed", pgettext_lazy("e-mail", "Failed")


class EmailLog(models.Model):
    """One e-mail sent (or tried) to a customer: what it was about, to which address, and
    whether the mail server took it, so that "I never got the reminder" has an answer.

    Only the subject and metadata are kept, never the body: a password-reset or
    confirmation e-mail carries a link that is as good as a password. ``kind`` and
    ``reference`` ("service-event:123", "invoice:2026-0007") name what the e-mail is about;
    one with a reference is sent once (the ``emaillog_once`` constraint), however many
    workers try at the same time (``customers.mail.send_to_customer``).
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="email_logs")
    to = models.EmailField(_("to"), max_length=254)
    subject = models.CharField(max_length=255)
    kind = models.CharField(max_length=40)
    reference = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.SENDING
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    #: When the current attempt started: a ``sending`` row older than
    #: ``customers.mail.SENDING_STALE_AFTER`` belongs to a worker that died mid-send.
    attempted_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    #: Not stored: whether the call that returned this row sent the e-mail just now (False
    #: when it had already been sent, or is being sent by another worker).
    just_sent = False

    class Meta:
        verbose_name = _("e-mail log entry")
        verbose_name_plural = _("e-mail log")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "reference"],
                condition=~models.Q(reference=""),
                name="emaillog_once",
            ),
        ]
        indexes = [
            models.Index(
                fields=["customer", "-created_at", "-id"], name="emaillog_customer_recent_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to}: {self.status}"
