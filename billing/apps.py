from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from services.models import ServiceEvent

        from .signals import cancel_renewals_of_ended_service

        post_save.connect(
            cancel_renewals_of_ended_service,
            sender=ServiceEvent,
            dispatch_uid="billing_cancel_renewals_of_ended_service",
        )

        # The balance and unpaid invoices on the client home, which services renders.
        from . import client_panels

        client_panels.register()

        # Invoices, orders and balance on the staff customer and service pages.
        from . import panels

        panels.register()

        # The timeline's daily tasks and the settings staff change for them.
        from . import automation

        automation.register()
