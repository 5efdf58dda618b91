from django.apps import AppConfig


class ServicesConfig(AppConfig):
    name = "services"
    verbose_name = "Services"

    def ready(self) -> None:
        """Show services on the customer, product and server pages, which cannot import
        services themselves (DESIGN.md §3)."""
        from services import panels

        panels.register()

        # The lifecycle's periodic tasks (sweeps, delivery retries, the bulk stall check).
        from services import automation

        automation.register()
