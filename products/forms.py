"""Staff forms of the products app: a product, its prices, and its module configuration."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms import BaseInlineFormSet, inlineformset_factory
from django.utils.text import slugify
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from clientxcms.forms import StyledFormMixin, mark_invalid, model_choice_field
from delivery.forms import ModuleSettingsForm
from delivery.modules.base import DeliveryModule

from .choices import BillingCycle
from .models import Product, ProductPrice, default_currency

CURRENCY_CODE = re.compile(r"[A-Z]{3}")


class ProductForm(ModuleSettingsForm):
    """A product, with the configuration form of its type beside it."""

    settings_field = "module_config"
    settings_prefix = "config"

    class Meta:
        model = Product
        fields = ["name", "slug", "description", "module", "server_group", "is_active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"slug": _("Made from the name when left empty.")}
        labels = {
            "name": _("Name"),
            "slug": _("Slug"),
            "description": _("Description"),
            "server_group": _("Server group"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        model_choice_field(self, "server_group").empty_label = _("Any server of its type")

    def build_settings_form(self, module: DeliveryModule) -> forms.Form | None:
        if module.product_form is None:
            return None
        return module.product_form(
            data=self.data if self.is_bound else None,
            initial=self.instance.module_config if self.is_stored_module(module) else None,
            prefix=self.settings_prefix,
            **module.product_form_kwargs(),
        )

    def clean_slug(self) -> str:
        """The slug given, or one made from the name that no other product has yet."""
        slug = self.cleaned_data["slug"]
        if slug:
            return slug
        base = slugify(self.cleaned_data.get("name", ""))[:140]
        if not base:
            raise ValidationError(_("Enter a slug: none can be made from this name."))
        others = Product.objects.exclude(pk=self.instance.pk)
        slug, n = base, 1
        while others.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        return slug


class ProductPriceForm(StyledFormMixin, forms.ModelForm):
    """One price row: a billing cycle, its price and setup fee, in a currency."""

    class Meta:
        model = ProductPrice
        fields = ["cycle", "price", "setup_fee", "currency"]
        labels = {
            "cycle": _("Cycle"),
            "price": _("Price"),
            "setup_fee": _("Setup fee"),
            "currency": _("Currency"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The model's default is a callable, for which Django renders (and then expects
        # back) a hidden copy of the initial value; a plain initial value lets an
        # untouched extra row count as empty without it.
        currency = self.fields["currency"]
        currency.initial, currency.show_hidden_initial = default_currency(), False

    def clean_currency(self) -> str:
        currency = self.cleaned_data["currency"].strip().upper()
        if not CURRENCY_CODE.fullmatch(currency):
            raise ValidationError(_("Enter a three-letter currency code, such as EUR."))
        return currency


class BaseProductPriceFormSet(BaseInlineFormSet):
    """A product's prices: at least one, and one per billing cycle."""

    def clean(self) -> None:
        # _should_delete_form() is Django's own (private, so absent from the stubs).
        kept = [f for f in self.forms if f.cleaned_data and not self._should_delete_form(f)]  # type: ignore[attr-defined]
        if not kept and not any(form.errors for form in self.forms):
            raise ValidationError(_("Give the product at least one price."))
        seen: set[str] = set()
        repeated: list[str] = []
        for form in kept:
            cycle = form.cleaned_data.get("cycle")
            if cycle in seen:
                label = str(BillingCycle(cycle).label)
                form.add_error(
                    "cycle", gettext("%(cycle)s already has a price above.") % {"cycle": label}
                )
                mark_invalid(form)
                repeated.append(label)
            elif cycle:
                seen.add(cycle)
        if repeated:
            raise ValidationError(
                gettext(
                    "A billing cycle can have only one price; listed more than once: %(cycles)s."
                )
                % {"cycles": ", ".join(repeated)}
            )
        super().clean()


ProductPriceFormSet = inlineformset_factory(
    Product,
    ProductPrice,
    form=ProductPriceForm,
    formset=BaseProductPriceFormSet,
    extra=2,
    can_delete=True,
    # A posted TOTAL_FORMS is believed up to absolute_max (Django's default: 2,000 forms
    # built and rendered again); a product never has this many prices.
    max_num=100,
    absolute_max=100,
)
