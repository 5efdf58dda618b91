"""Client-area URLs of billing: the catalogue and checkout, orders, invoices, their PDF, and
paying them."""

from django.urls import URLPattern, URLResolver, path

from billing.views import (
    catalogue,
    checkout,
    client,
    client_orders,
    client_renew,
    gateway_webhooks,
)

urlpatterns: list[URLPattern | URLResolver] = [
    path("invoices/", client.InvoiceListView.as_view(), name="invoice_list"),
    path("invoices/<int:pk>/", client.InvoiceDetailView.as_view(), name="invoice_detail"),
    path("invoices/<int:pk>/pdf/", client.InvoicePdfView.as_view(), name="invoice_pdf"),
    path(
        "invoices/<int:pk>/pay/<slug:gateway>/",
        client.InvoicePayView.as_view(),
        name="invoice_pay",
    ),
    path("catalogue/", catalogue.CatalogueView.as_view(), name="catalogue"),
    path("catalogue/<slug:slug>/", catalogue.ProductView.as_view(), name="catalogue_product"),
    path("checkout/", checkout.CheckoutView.as_view(), name="checkout"),
    path("orders/", client_orders.OrderListView.as_view(), name="order_list"),
    path("orders/<int:pk>/", client_orders.OrderDetailView.as_view(), name="order_detail"),
    path("orders/<int:pk>/cancel/", client_orders.OrderCancelView.as_view(), name="order_cancel"),
    # Renewing lives in billing: services, which owns the rest of /client/services/, may
    # not import billing (DESIGN.md §3).
    path(
        "services/<int:pk>/renew/",
        client_renew.ServiceRenewView.as_view(),
        name="service_renew",
    ),
    # Called by the gateway's servers (Stripe), not by customers: CSRF-exempt, POST only.
    path(
        "payments/<slug:gateway>/webhook/",
        gateway_webhooks.GatewayWebhookView.as_view(),
        name="gateway_webhook",
    ),
]
