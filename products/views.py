"""Staff views of products: the list (with the columns other apps register, such as how
many services use each), creating and editing one with its prices and module
configuration, and (de)activating it."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import ListView, TemplateView

from clientxcms.access import StaffRequiredMixin
from clientxcms.http import safe_next
from clientxcms.pagination import WindowPaginationMixin
from clientxcms.panels import PanelColumnsMixin
from customers import activity
from delivery.mixins import ModuleSettingsSwapMixin
from delivery.registry import module_labels

from .forms import ProductForm, ProductPriceFormSet
from .models import Product, ProductPrice

#: What the staff activity log compares on a product, with its prices (``audit_snapshot``).
AUDITED_FIELDS = [*ProductForm.Meta.fields, "module_config"]


def audit_snapshot(product: Product) -> dict[str, Any]:
    """A product's fields and its prices, by cycle, as the activity log compares them."""
    if product.pk is None:
        return {}
    stored = Product.objects.get(pk=product.pk)
    values = activity.snapshot(stored, AUDITED_FIELDS)
    values["prices"] = {
        price.cycle: f"{price.price} {price.currency} (setup {price.setup_fee})"
        for price in ProductPrice.objects.filter(product=stored).order_by("cycle")
    }
    return values


CONCURRENT_CHANGE = gettext_lazy(
    "Someone saved this product at the same time: check it and save again."
)


class ProductListView(StaffRequiredMixin, PanelColumnsMixin, WindowPaginationMixin, ListView):
    """``/admin/products/``: each product with its prices, and the registered columns
    (the number of its services), whose figures come in the page's query."""

    permission_required = "products.view_product"
    template_name = "products/admin/list.html"
    context_object_name = "products"
    panel_model = "product"

    def get_queryset(self) -> QuerySet[Product]:
        prices = ProductPrice.objects.order_by("price")
        return self.annotate_for_panels(Product.objects.all()).prefetch_related(
            Prefetch("prices", queryset=prices)
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        labels = module_labels()
        for product in context["products"]:
            product.module_label = labels.get(product.module)
        return context


class ProductFormView(StaffRequiredMixin, ModuleSettingsSwapMixin, TemplateView):
    """Create or edit a product, its prices (a formset) and its configuration, all or nothing."""

    template_name = "products/admin/form.html"
    # Lazy: the page is in the language of the request (the mixin declares a str).
    settings_title = cast(str, gettext_lazy("Module configuration"))
    success_message = gettext_lazy("Saved the product %(product)s.")

    def get_object(self) -> Product:
        raise NotImplementedError

    def get_form_class(self) -> type[ProductForm]:
        return ProductForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        if "form" not in kwargs:  # a GET: the product as stored, or a new one
            self.object = self.get_object()
            kwargs["form"] = ProductForm(instance=self.object)
            kwargs["formset"] = ProductPriceFormSet(instance=self.object, prefix="prices")
        return super().get_context_data(object=self.object if self.object.pk else None, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        creating = self.object.pk is None
        form = ProductForm(request.POST, instance=self.object)
        formset = ProductPriceFormSet(request.POST, instance=self.object, prefix="prices")
        form_ok = form.is_valid()
        if formset.is_valid() and form_ok:
            try:
                with transaction.atomic():
                    before = audit_snapshot(self.object)
                    product = form.save()
                    formset.instance = product
                    formset.save()
                    changes = activity.diff(before, audit_snapshot(product))
                    if changes:
                        action = "product created" if creating else "product changed"
                        activity.record(
                            action=action, target=product, changes=changes, request=request
                        )
            except IntegrityError:
                form.add_error(None, CONCURRENT_CHANGE)
                if creating:
                    self.object.pk = None  # rolled back
            else:
                messages.success(request, self.success_message % {"product": product})
                return redirect("admin:product_list")
        return self.render_to_response(self.get_context_data(form=form, formset=formset))


class ProductCreateView(ProductFormView):
    """``/admin/products/add/``."""

    permission_required = "products.add_product"
    success_message = gettext_lazy("Created the product %(product)s.")

    def get_object(self) -> Product:
        return Product()


class ProductUpdateView(ProductFormView):
    """``/admin/products/<pk>/edit/``."""

    permission_required = "products.change_product"

    def get_object(self) -> Product:
        return get_object_or_404(Product, pk=self.kwargs["pk"])


class ProductActivationView(StaffRequiredMixin, View):
    """POST: activates or deactivates a product (``active`` is set in the URLconf).

    An inactive product is no longer sold; its existing services are not touched.
    """

    permission_required = "products.change_product"
    http_method_names = ["post"]
    active = False

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not Product.objects.filter(pk=pk).update(is_active=self.active):
            raise Http404("No such product.")
        product = Product.objects.only("name").get(pk=pk)
        verb = "Activated" if self.active else "Deactivated"
        activity.record(
            action=f"product {verb.lower()}",
            target=product,
            changes={"is_active": {"new": self.active}},
            request=request,
        )
        if self.active:
            done = _("Activated the product %(product)s.")
        else:
            done = _("Deactivated the product %(product)s.")
        messages.success(request, done % {"product": product})
        return redirect(safe_next(request, reverse("admin:product_list")))
