from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        # Staff sign-ins and lockouts go to the staff activity log (customers.signals).
        # The VIES switch joins the settings staff change in the panel (customers.vat).
        from . import signals, vat  # noqa: F401

        vat.register()
