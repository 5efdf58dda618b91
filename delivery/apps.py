from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = "Delivery"

    def ready(self) -> None:
        # The daily clean-up of the module call log, and how long the log is kept.
        from . import automation

        automation.register()
