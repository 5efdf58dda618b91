from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = _("Delivery")

    def ready(self) -> None:
        # The daily clean-up of the module call log, and how long the log is kept.
        from . import automation

        automation.register()
