"""What the service list exports to CSV and XLSX (django-import-export).

The columns are an allow-list: a field added to ``Service`` later is not exported until
someone adds it here on purpose. Nothing secret is reachable from these columns: no
server credentials, no module data, no external ids, no staff notes.
"""

from __future__ import annotations

from typing import Any

from import_export import fields, resources

from .models import Service

#: A cell starting with one of these is a formula to a spreadsheet; customers choose their
#: own names, so a name like "=HYPERLINK(...)" must arrive as text (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ServiceResource(resources.ModelResource):
    customer_name = fields.Field(column_name="customer_name")
    customer_email = fields.Field(attribute="customer__user__email", column_name="customer_email")
    product = fields.Field(attribute="product__name", column_name="product")
    server = fields.Field(attribute="server__name", column_name="server")

    class Meta:
        model = Service
        fields = (
            "id",
            "uuid",
            "name",
            "customer_name",
            "customer_email",
            "product",
            "server",
            "module",
            "status",
            "price",
            "initial_price",
            "currency",
            "billing_cycle",
            "expires_at",
            "max_renewals",
            "renewal_count",
            "created_at",
        )
        export_order = fields

    def dehydrate_customer_name(self, service: Service) -> str:
        return service.customer.full_name

    def export_field(self, field: fields.Field, instance: Service, **kwargs: Any) -> Any:
        value = super().export_field(field, instance, **kwargs)
        if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
            return "'" + value
        return value
