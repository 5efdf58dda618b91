"""Client-area URLs of billing: the customer's invoices, their PDF, and paying them."""

from django.urls import URLPattern, URLResolver, path

from billing.views import client, gateway_webhooks

urlpatterns: list[URLPattern | URLResolver] = [
    path("invoices/", client.InvoiceListView.as_view(), name="invoice_list"),
    path("invoices/<int:pk>/", client.InvoiceDetailView.as_view(), name="invoice_detail"),
    path("invoices/<int:pk>/pdf/", client.InvoicePdfView.as_view(), name="invoice_pdf"),
    path(
        "invoices/<int:pk>/pay/<slug:gateway>/",
        client.InvoicePayView.as_view(),
        name="invoice_pay",
    ),
    # Called by the gateway's servers (Stripe), not by customers: CSRF-exempt, POST only.
    path(
        "payments/<slug:gateway>/webhook/",
        gateway_webhooks.GatewayWebhookView.as_view(),
        name="gateway_webhook",
    ),
]
