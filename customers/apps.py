from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        # Staff sign-ins and lockouts go to the staff activity log (customers.signals).
        from . import signals  # noqa: F401
