"""Invoices freeze their seller at issue (``Invoice.seller``), as they freeze their customer.

The invoices and credit notes issued before this migration never recorded the company's
details as they were on their day of issue: the panel kept only the current ones. They
are filled here from the company's settings as they are when the migration runs, the best
information available; a document whose seller's details changed between its issue and
this migration will name the details of the day of the migration (as its PDF already did).
Drafts are left empty: they read the company's current details until they are issued.
"""

from typing import Any

from django.db import migrations, models

#: The company's fields an issued document freezes (``billing.models.Seller``), written
#: out here: a migration must not import the models of today.
SELLER_FIELDS = (
    "name",
    "address",
    "country",
    "vat_number",
    "legal_identifier",
    "legal_identifier_scheme",
    "siret",
    "email",
    "bank_details",
    "facturx_profile",
)


def fill_issued_sellers(apps: Any, schema_editor: Any) -> None:
    CompanyProfile = apps.get_model("billing", "CompanyProfile")
    Invoice = apps.get_model("billing", "Invoice")
    # The row the panel uses (``CompanyProfile.current``), or its defaults, unsaved.
    company = CompanyProfile.objects.filter(pk=1).first() or CompanyProfile()
    seller = {field: str(getattr(company, field) or "") for field in SELLER_FIELDS}
    # ``update`` skips ``Invoice.save``, which refuses any change of an issued document.
    Invoice.objects.exclude(status="draft").update(seller=seller)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_facturx_profile"),
    ]

    operations = [
        migrations.AddField(
            model_name="invoice",
            name="seller",
            field=models.JSONField(blank=True, default=dict, editable=False),
        ),
        migrations.RunPython(fill_issued_sellers, migrations.RunPython.noop, elidable=True),
    ]
