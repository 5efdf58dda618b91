"""Servers: the machines and panels where services are hosted."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .choices import PlacementStrategy, ServerStatus
from .fields import EncryptedJSONField
from .modules.base import DeliveryModule
from .registry import UnknownModule, get_module, module_label


class ServerGroupQuerySet(QuerySet["ServerGroup"]):
    def with_capacity(self) -> ServerGroupQuerySet:
        """Each group with the room of its active servers, in the same query.

        ``capacity``: the sum of their maximums; ``unlimited``: one of them has none. Only
        active servers count, since only they take new services (hidden and disabled
        servers keep theirs but are not offered any more).
        """
        active = Server.objects.filter(group=OuterRef("pk"), status=ServerStatus.ACTIVE)
        total = active.order_by().values("group").annotate(total=Sum("max_accounts"))
        return self.annotate(
            capacity=Coalesce(Subquery(total.values("total"), output_field=IntegerField()), 0),
            unlimited=Exists(active.filter(max_accounts__isnull=True)),
        )


class ServerGroup(models.Model):
    """Servers of one module among which new services are placed, by ``strategy``.

    A product that names a group has its new services placed on the group's active
    servers only (``services.placement``); the dashboard warns when the live services of
    the group's active servers pass ``warn_at_percent`` of their maximum.
    """

    name = models.CharField(max_length=100, unique=True)
    module = models.CharField(
        gettext_lazy("type"), max_length=50, help_text=gettext_lazy("The delivery module.")
    )
    strategy = models.CharField(
        max_length=20, choices=PlacementStrategy.choices, default=PlacementStrategy.LEAST_FULL
    )
    warn_at_percent = models.PositiveSmallIntegerField(
        gettext_lazy("warn at (%)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=gettext_lazy(
            "Warn on the dashboard when this share of the group's room is used; "
            "empty for no warning."
        ),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ServerGroupQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(strategy__in=PlacementStrategy.values),
                name="servergroup_strategy_valid",
            ),
            models.CheckConstraint(
                condition=Q(warn_at_percent__isnull=True)
                | (Q(warn_at_percent__gte=1) & Q(warn_at_percent__lte=100)),
                name="servergroup_warn_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        try:
            get_module(self.module)
        except UnknownModule as exc:
            raise ValidationError({"module": str(exc)}) from exc
        if self.pk is not None and self.servers.exclude(module=self.module).exists():
            raise ValidationError(
                {"module": _("Its servers are of another type: move them out of the group first.")}
            )


class Server(models.Model):
    """A server of one module type. Its credentials are encrypted and never shown again.

    ``hidden`` servers keep their services but take no new ones from automatic
    placement (an order, ``services.placement``): staff may still choose them by hand;
    ``disabled`` servers take no new services at all.
    """

    name = models.CharField(max_length=100)
    module = models.CharField(
        gettext_lazy("type"), max_length=50, help_text=gettext_lazy("The delivery module.")
    )
    hostname = models.CharField(gettext_lazy("hostname or address"), max_length=255)
    port = models.PositiveIntegerField(
        default=443, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    credentials = EncryptedJSONField()
    max_accounts = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=gettext_lazy("Most services this server takes; empty for no limit."),
    )
    status = models.CharField(
        max_length=16, choices=ServerStatus.choices, default=ServerStatus.ACTIVE
    )
    group = models.ForeignKey(
        ServerGroup,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="servers",
        help_text=gettext_lazy(
            "Products that name this group place their new services on its servers."
        ),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["module", "status"], name="server_module_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(port__gte=1) & Q(port__lte=65535), name="server_port_range"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ServerStatus.values), name="server_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        # Never the credentials, even in a debugger or a traceback.
        return f"<Server {self.pk}: {self.name} ({self.module})>"

    @property
    def delivery_module(self) -> DeliveryModule:
        return get_module(self.module)

    def clean(self) -> None:
        super().clean()
        try:
            module = get_module(self.module)
        except UnknownModule as exc:
            raise ValidationError({"module": str(exc)}) from exc
        if self.group is not None and self.group.module != self.module:
            raise ValidationError(
                {
                    "group": _("%(group)s groups %(module)s servers.")
                    % {"group": self.group, "module": module_label(self.group.module)}
                }
            )
        self.credentials = module.clean_server_credentials(self.credentials or {})


class ModuleCall(models.Model):
    """One HTTP call a delivery module made to a panel, kept for staff to read back.

    Written by ``delivery.calllog`` for every call of ``delivery.http.PanelClient``, with
    the secrets redacted and the bodies truncated; the request headers (where the API
    keys travel) are never kept. ``service_ref`` is the service's id as a plain number,
    not a foreign key: delivery sits below services (DESIGN.md §3), and a log line
    must outlive the rows it mentions. Old rows are pruned (``calllog.prune``).
    """

    # The composite index on (server, -created_at) serves the lookups by server, so the
    # foreign key gets no index of its own.
    server = models.ForeignKey(
        Server, null=True, blank=True, on_delete=models.SET_NULL, db_index=False, related_name="+"
    )
    service_ref = models.BigIntegerField(gettext_lazy("service id"), null=True, blank=True)
    module = models.CharField(max_length=50)
    operation = models.CharField(max_length=200, blank=True)
    method = models.CharField(max_length=10)
    url = models.TextField(gettext_lazy("URL"))
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)
    #: The HTTP status; null when no answer came (a timeout, a refused connection).
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    #: Empty when the call succeeded: "failed only" means a non-empty error.
    error = models.TextField(blank=True)
    retryable = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at"], name="modulecall_created_idx"),
            models.Index(fields=["service_ref", "-created_at"], name="modulecall_service_idx"),
            models.Index(fields=["server", "-created_at"], name="modulecall_server_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.url} ({self.status or 'no answer'})"

    @property
    def failed(self) -> bool:
        return bool(self.error)
