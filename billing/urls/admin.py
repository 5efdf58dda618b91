"""admin-area URLs of billing."""

from django.urls import URLPattern, URLResolver, path

from billing.views import admin_gateways, admin_invoices, admin_orders, admin_settings

urlpatterns: list[URLPattern | URLResolver] = [
    path("invoices/", admin_invoices.InvoiceListView.as_view(), name="invoice_list"),
    path("invoices/create/", admin_invoices.InvoiceCreateView.as_view(), name="invoice_create"),
    path(
        "invoices/create/customers/",
        admin_invoices.InvoiceCustomerSearchView.as_view(),
        name="invoice_customer_search",
    ),
    path("invoices/<int:pk>/", admin_invoices.InvoiceDetailView.as_view(), name="invoice_detail"),
    path("invoices/<int:pk>/pdf/", admin_invoices.InvoicePdfView.as_view(), name="invoice_pdf"),
    path(
        "invoices/<int:pk>/facturx.xml",
        admin_invoices.InvoiceFacturXView.as_view(),
        name="invoice_facturx",
    ),
    path(
        "invoices/<int:pk>/issue/", admin_invoices.InvoiceIssueView.as_view(), name="invoice_issue"
    ),
    path(
        "invoices/<int:pk>/mark-paid/",
        admin_invoices.InvoiceMarkPaidView.as_view(),
        name="invoice_mark_paid",
    ),
    path(
        "invoices/<int:pk>/cancel/",
        admin_invoices.InvoiceCancelView.as_view(),
        name="invoice_cancel",
    ),
    path(
        "invoices/<int:pk>/refund/",
        admin_invoices.InvoiceRefundView.as_view(),
        name="invoice_refund",
    ),
    path("orders/", admin_orders.OrderListView.as_view(), name="order_list"),
    path("orders/<int:pk>/", admin_orders.OrderDetailView.as_view(), name="order_detail"),
    path("orders/<int:pk>/cancel/", admin_orders.OrderCancelView.as_view(), name="order_cancel"),
    path("payments/", admin_orders.PaymentListView.as_view(), name="payment_list"),
    path(
        "customers/<int:pk>/balance/",
        admin_settings.CustomerBalanceView.as_view(),
        name="customer_balance",
    ),
    path(
        "services/<int:pk>/renewal-invoice/",
        admin_settings.ServiceRenewalInvoiceView.as_view(),
        name="service_renewal_invoice",
    ),
    path("billing/company/", admin_settings.CompanyProfileView.as_view(), name="billing_company"),
    path("billing/taxes/", admin_settings.TaxRateListView.as_view(), name="tax_list"),
    path("billing/taxes/add/", admin_settings.TaxRateCreateView.as_view(), name="tax_create"),
    path(
        "billing/taxes/<int:pk>/edit/", admin_settings.TaxRateUpdateView.as_view(), name="tax_edit"
    ),
    path(
        "billing/taxes/<int:pk>/delete/",
        admin_settings.TaxRateDeleteView.as_view(),
        name="tax_delete",
    ),
    # Payment gateways (admin_gateways.py).
    path("billing/gateways/", admin_gateways.GatewayListView.as_view(), name="gateway_list"),
    path(
        "billing/gateways/<slug:gateway>/",
        admin_gateways.GatewaySettingsView.as_view(),
        name="gateway_settings",
    ),
    path(
        "billing/gateways/<slug:gateway>/enable/",
        admin_gateways.GatewaySwitchView.as_view(enable=True),
        name="gateway_enable",
    ),
    path(
        "billing/gateways/<slug:gateway>/disable/",
        admin_gateways.GatewaySwitchView.as_view(enable=False),
        name="gateway_disable",
    ),
]
