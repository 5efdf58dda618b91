from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = _("Dashboard")

    def ready(self) -> None:
        # The charts are computed by a periodic task (dashboard.charts), never by a request;
        # a payment, a refund or a credit note asks for the money figures at the next tick.
        from billing.models import Invoice

        from .charts import money_changed, register

        register()
        post_save.connect(money_changed, sender=Invoice, dispatch_uid="dashboard_money")
