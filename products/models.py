"""What is sold: a product of one delivery-module type, with a price per billing cycle."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from delivery.models import ServerGroup
from delivery.registry import UnknownModule, get_module, module_label

from .choices import BillingCycle


def default_currency() -> str:
    return settings.DEFAULT_CURRENCY


class Product(models.Model):
    """A product; its ``module`` is the delivery-module key that delivers its services.

    Its new services go to a server of its ``server_group`` when it names one, otherwise
    to any active server of its module (``services.placement``).
    """

    name = models.CharField(max_length=150)
    slug = models.SlugField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    module = models.CharField(_("type"), max_length=50, help_text=_("The delivery module."))
    module_config = models.JSONField(
        _("module configuration"), default=dict, blank=True, help_text=_("Validated by the module.")
    )
    server_group = models.ForeignKey(
        ServerGroup,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="products",
        help_text=_(
            "New services go to the servers of this group; empty for any server of its type."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["module", "is_active"], name="product_module_idx")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        try:
            module = get_module(self.module)
        except UnknownModule as exc:
            raise ValidationError({"module": str(exc)}) from exc
        group = self.server_group
        if group is not None and group.module != self.module:
            raise ValidationError(
                {
                    "server_group": gettext("%(group)s groups %(module)s servers.")
                    % {"group": group, "module": module_label(group.module)}
                }
            )
        self.module_config = module.clean_product_config(self.module_config or {})

    def price_for(self, cycle: str) -> ProductPrice | None:
        """The price of ``cycle``, from prefetched prices when there are some."""
        return next((price for price in self.prices.all() if price.cycle == cycle), None)


class ProductPrice(models.Model):
    """The price and setup fee of one product for one billing cycle."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    price = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal(0))]
    )
    setup_fee = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
    )
    currency = models.CharField(max_length=3, default=default_currency)

    class Meta:
        ordering = ["product", "cycle"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "cycle", "currency"], name="productprice_unique_cycle"
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="productprice_price_gte_0"),
            models.CheckConstraint(
                condition=Q(setup_fee__gte=0), name="productprice_setup_fee_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} – {self.get_cycle_display()}: {self.price} {self.currency}"
