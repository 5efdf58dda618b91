"""Services, their renewals, and their audit history.

Only ``services.lifecycle`` changes a service's status, expiration or renewal count.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from customers.models import Customer
from delivery.models import Server
from delivery.modules.base import DeliveryModule
from delivery.registry import get_module
from products.choices import BillingCycle
from products.models import Product, default_currency

from .choices import (
    BULK_ITEM_BADGES,
    LIVE,
    STATUS_BADGES,
    BulkAction,
    BulkItemState,
    BulkStatus,
    EventSource,
    OperationState,
    ServiceAction,
    ServiceStatus,
)

#: Expiration dates outside these years are refused: nothing sold today ends before 1970
#: or after 2199, and the cycle arithmetic must never reach Python's year 9999 limit.
EXPIRATION_YEARS = range(1970, 2200)


def validate_expiration(value: dt.datetime) -> None:
    """Refuse an expiration date outside ``EXPIRATION_YEARS``, with the range in the message."""
    if value.year not in EXPIRATION_YEARS:
        raise ValidationError(
            gettext("An expiration date must be between %(first)s and %(last)s.")
            % {"first": EXPIRATION_YEARS.start, "last": EXPIRATION_YEARS.stop - 1},
            code="expiration_out_of_range",
        )


MONEY: dict[str, Any] = {
    "max_digits": 10,
    "decimal_places": 2,
    "validators": [MinValueValidator(Decimal(0))],
}


#: A service staff should look at (the dashboard, ``services.retries``): an operation in
#: flight, or a delivery that failed (pending with the module's error kept). One
#: definition for the query and for the partial index that serves it: PostgreSQL uses a
#: partial index only when it can prove the query's WHERE implies the index's.
NEEDS_ATTENTION = ~Q(operation="") | (Q(status=ServiceStatus.PENDING) & ~Q(last_delivery_error=""))


class ServiceQuerySet(models.QuerySet["Service"]):
    def for_customer(self, customer: Customer) -> ServiceQuerySet:
        """The services a customer may see: every client-area query starts here."""
        return self.filter(customer=customer)


class Service(models.Model):
    """One product (or a custom service) bought by one customer."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("service name"), max_length=150)
    description = models.TextField(
        blank=True, help_text=_("Visible to the customer, not editable by the customer.")
    )
    notes = models.TextField(blank=True, help_text=_("Staff only."))
    status = models.CharField(
        max_length=16, choices=ServiceStatus.choices, default=ServiceStatus.PENDING
    )
    module = models.CharField(_("service type"), max_length=50, help_text=_("The delivery module."))
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="services")
    product = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="services",
        help_text=_("Empty for a custom service."),
    )
    server = models.ForeignKey(
        Server, on_delete=models.PROTECT, null=True, blank=True, related_name="services"
    )

    price = models.DecimalField(**MONEY, help_text=_("Price of each renewal."))
    initial_price = models.DecimalField(**MONEY, help_text=_("Price of the first period."))
    currency = models.CharField(max_length=3, default=default_currency)
    billing_cycle = models.CharField(_("recurrence"), max_length=16, choices=BillingCycle.choices)
    expires_at = models.DateTimeField(
        _("expiration"), null=True, blank=True, validators=[validate_expiration]
    )
    billing_anchor_day = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text=_("Day of month that month cycles renew to (the first expiration's)."),
    )
    max_renewals = models.PositiveIntegerField(
        _("maximum renewals"), null=True, blank=True, help_text=_("Empty for unlimited.")
    )
    hold_until = models.DateTimeField(
        _("do not suspend or terminate until"),
        null=True,
        blank=True,
        help_text=_(
            "Agreed with the customer: until then the automation neither expires nor "
            "terminates this service, and the termination's grace period starts again from "
            "this date. Staff can still suspend or terminate it by hand."
        ),
    )
    renewal_count = models.PositiveIntegerField(default=0, editable=False)

    external_id = models.CharField(
        max_length=191, blank=True, editable=False, help_text=_("The resource's id on the server.")
    )
    module_data = models.JSONField(default=dict, blank=True, editable=False)

    suspended_at = models.DateTimeField(null=True, blank=True, editable=False)
    suspend_reason = models.TextField(blank=True, editable=False)
    cancel_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text=_("A scheduled end-of-period cancellation."),
    )
    cancel_reason = models.TextField(blank=True, editable=False)
    cancel_source = models.CharField(
        max_length=16,
        choices=EventSource.choices,
        blank=True,
        editable=False,
        help_text=_("Who scheduled the cancellation: only staff undo one that staff scheduled."),
    )
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    terminated_at = models.DateTimeField(null=True, blank=True, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True, editable=False)
    delivery_attempts = models.PositiveIntegerField(default=0, editable=False)
    last_delivery_error = models.TextField(
        blank=True,
        editable=False,
        help_text=_("The last error the delivery module raised; cleared by its next success."),
    )

    # The operation in flight: claimed and committed before its module call, cleared when it
    # finishes (``services.lifecycle``). Another operation is refused meanwhile.
    operation = models.CharField(
        max_length=32, choices=ServiceAction.choices, blank=True, editable=False
    )
    operation_state = models.CharField(
        max_length=16, choices=OperationState.choices, blank=True, editable=False
    )
    operation_token = models.UUIDField(
        null=True, blank=True, editable=False, help_text=_("The claim: only its holder finishes.")
    )
    operation_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    operation_due_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text=_("When the periodic task takes it over: a retry, a lost claim, a check."),
    )
    operation_attempts = models.PositiveIntegerField(default=0, editable=False)
    operation_params = models.JSONField(default=dict, blank=True, editable=False)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ServiceQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="service_status_expires_idx"),
            models.Index(fields=["customer", "status"], name="service_customer_status_idx"),
            models.Index(fields=["module", "status"], name="service_module_status_idx"),
            models.Index(fields=["created_at"], name="service_created_idx"),
            # The dashboard's ended services per week (dashboard.charts.ENDED_AT): when the
            # service stopped being live, for the ended ones only.
            models.Index(
                Coalesce("cancelled_at", "terminated_at"),
                name="service_ended_idx",
                condition=Q(cancelled_at__isnull=False) | Q(terminated_at__isnull=False),
            ),
            models.Index(
                fields=["cancel_at"],
                name="service_cancel_at_idx",
                condition=Q(cancel_at__isnull=False),
            ),
            models.Index(
                fields=["operation_due_at"],
                name="service_operation_due_idx",
                condition=Q(operation_due_at__isnull=False),
            ),
            # The dashboard's "needing attention", latest first: a few rows, where the
            # same condition without the index reads every pending service.
            models.Index(
                fields=["updated_at", "id"],
                name="service_attention_idx",
                condition=NEEDS_ATTENTION,
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="service_price_gte_0"),
            models.CheckConstraint(
                condition=Q(initial_price__gte=0), name="service_initial_price_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ServiceStatus.values), name="service_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(billing_cycle__in=BillingCycle.values), name="service_cycle_valid"
            ),
            models.CheckConstraint(
                condition=Q(max_renewals__isnull=True)
                | Q(renewal_count__lte=models.F("max_renewals")),
                name="service_renewals_within_max",
            ),
            models.CheckConstraint(
                condition=~Q(billing_cycle=BillingCycle.ONE_TIME) | Q(expires_at__isnull=True),
                name="service_onetime_never_expires",
            ),
            # One live service per resource: a resource cannot be imported twice.
            models.UniqueConstraint(
                fields=["server", "external_id"],
                condition=~Q(external_id="") & Q(status__in=sorted(LIVE)),
                name="service_unique_live_resource",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"

    @property
    def delivery_module(self) -> DeliveryModule:
        return get_module(self.module)

    @property
    def status_badge(self) -> str:
        return STATUS_BADGES[ServiceStatus(self.status)]

    @property
    def is_custom(self) -> bool:
        return self.product_id is None

    @property
    def operation_label(self) -> str:
        """The operation in flight as people say it ("suspend"), or ""."""
        return ServiceAction(self.operation).label.lower() if self.operation else ""


class ServiceRenewal(models.Model):
    """One extension of a service by one or more billing cycles.

    Kept when the service is deleted: it is a financial record.
    """

    service = models.ForeignKey(
        Service, on_delete=models.SET_NULL, null=True, related_name="renewals"
    )
    old_expires_at = models.DateTimeField()
    new_expires_at = models.DateTimeField()
    cycles = models.PositiveIntegerField(default=1)
    price = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default=default_currency)
    source = models.CharField(max_length=16, choices=EventSource.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    invoice_reference = models.CharField(max_length=64, blank=True, help_text=_("Set by billing."))
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(cycles__gte=1), name="renewal_cycles_gte_1"),
            models.CheckConstraint(condition=Q(price__gte=0), name="renewal_price_gte_0"),
        ]

    def __str__(self) -> str:
        return f"Renewal of {self.service_id} to {self.new_expires_at:%Y-%m-%d}"


class StatusCountChange(models.Model):
    """A change in the number of services of one status, written by the database.

    Triggers on ``services_service`` (migration ``0009``, ``services.stats``) add one row
    per status whose number a statement changed, in that statement's transaction, so no
    path that creates, deletes or moves services can forget the counts, and writers never
    wait on one another (rows are only added). The counts are the sums per status; reading
    them folds the rows into one per status once there are many.
    """

    status = models.CharField(max_length=16, choices=ServiceStatus.choices)
    delta = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.status} {self.delta:+d}"


class ServiceEvent(models.Model):
    """One line of a service's audit history. Kept when the service is deleted."""

    service = models.ForeignKey(
        Service, on_delete=models.SET_NULL, null=True, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=16, choices=EventSource.choices)
    action = models.CharField(max_length=32, choices=ServiceAction.choices)
    from_status = models.CharField(max_length=16, choices=ServiceStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=ServiceStatus.choices, blank=True)
    reason = models.TextField(blank=True)
    reference = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("What asked for it, when it must be applied once (a bulk item, say)."),
    )
    changes = models.JSONField(default=dict, blank=True, help_text=_("Field: [old, new]."))
    module_result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, help_text=_("Set when the operation failed."))
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["service", "-created_at"], name="event_service_created_idx")
        ]

    def __str__(self) -> str:
        return f"{self.action} on service {self.service_id}"

    @property
    def succeeded(self) -> bool:
        return not self.error


class BulkOperation(models.Model):
    """A bulk action confirmed by staff, processed in the background, kept as history.

    The selection is either the ids ticked in the list or the list's filter query, which
    the task runs again on the server. Progress is counted from the items, never stored
    twice.
    """

    action = models.CharField(max_length=16, choices=BulkAction.choices)
    params = models.JSONField(
        default=dict, blank=True, help_text="reason, notify, when, cycles, days"
    )
    service_ids = models.JSONField(default=list, blank=True, help_text=_("The ticked services."))
    query = models.TextField(blank=True, help_text=_("The filters of 'every matching service'."))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bulk_operations"
    )
    status = models.CharField(max_length=16, choices=BulkStatus.choices, default=BulkStatus.PENDING)
    prepared = models.BooleanField(default=False, help_text=_("Its items have been written."))
    error = models.TextField(blank=True, help_text=_("Why the operation could not run at all."))
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("Last sign of progress from the task running it; a stale one means stalled."),
    )
    resumes = models.PositiveIntegerField(
        default=0, help_text=_("Automatic resumes since it was queued or staff last resumed it.")
    )
    abandoned = models.BooleanField(
        default=False, help_text=_("The automatic resumes gave up on it; staff can resume it.")
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} #{self.pk}"

    @property
    def selects_all_matching(self) -> bool:
        return not self.service_ids


class BulkOperationItem(models.Model):
    """The outcome of one bulk operation for one service."""

    operation = models.ForeignKey(BulkOperation, on_delete=models.CASCADE, related_name="items")
    service = models.ForeignKey(Service, on_delete=models.SET_NULL, null=True, related_name="+")
    service_ref = models.BigIntegerField(help_text=_("The service id, kept if it is deleted."))
    service_name = models.CharField(max_length=150)
    state = models.CharField(
        max_length=16, choices=BulkItemState.choices, default=BulkItemState.PENDING
    )
    message = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["operation", "state"], name="bulkitem_operation_state_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["operation", "service_ref"], name="bulkitem_unique_service"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation_id}: service {self.service_ref} {self.state}"

    @property
    def badge(self) -> str:
        return BULK_ITEM_BADGES[BulkItemState(self.state)]
