from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        # Staff sign-ins and lockouts go to the staff activity log (customers.signals).
        # The VIES switch joins the settings staff change in the panel (customers.vat).
        from . import signals, vat  # noqa: F401

        vat.register()
