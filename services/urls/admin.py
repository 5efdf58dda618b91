"""Admin-area URLs of the services app."""

from django.urls import path

from services.views import (
    admin_actions,
    admin_bulk,
    admin_create,
    admin_csv_import,
    admin_detail,
    admin_export,
    admin_list,
    admin_operations,
    tab_actions,
)

urlpatterns = [
    path("services/", admin_list.ServiceListView.as_view(), name="service_list"),
    path("services/export/", admin_export.ServiceExportView.as_view(), name="service_export"),
    path("services/bulk/", admin_bulk.BulkConfirmView.as_view(), name="service_bulk_confirm"),
    path("services/bulk/history/", admin_bulk.BulkHistoryView.as_view(), name="bulk_list"),
    path("services/bulk/<int:pk>/", admin_bulk.BulkDetailView.as_view(), name="bulk_detail"),
    path("services/bulk/<int:pk>/retry/", admin_bulk.BulkRetryView.as_view(), name="bulk_retry"),
    path("services/bulk/<int:pk>/resume/", admin_bulk.BulkResumeView.as_view(), name="bulk_resume"),
    path(
        "services/operations/",
        admin_operations.OperationListView.as_view(),
        name="service_operations",
    ),
    path(
        "services/<int:pk>/operation/retry/",
        admin_operations.OperationRetryView.as_view(),
        name="service_operation_retry",
    ),
    path(
        "services/<int:pk>/operation/give-up/",
        admin_operations.OperationAbandonView.as_view(),
        name="service_operation_abandon",
    ),
    path("services/create/", admin_create.ServiceCreateView.as_view(), name="service_create"),
    path(
        "services/create/customers/",
        admin_create.CustomerSearchView.as_view(),
        name="customer_search",
    ),
    path(
        "services/import-csv/",
        admin_csv_import.ServiceCsvImportView.as_view(),
        name="service_csv_import",
    ),
    path(
        "services/import-csv/confirm/",
        admin_csv_import.ServiceCsvConfirmView.as_view(),
        name="service_csv_confirm",
    ),
    path(
        "services/import-csv/template/",
        admin_csv_import.ServiceCsvTemplateView.as_view(),
        name="service_csv_template",
    ),
    path("services/import/", admin_create.ServiceImportView.as_view(), name="service_import"),
    path(
        "services/import/resources/",
        admin_create.ImportableResourcesView.as_view(),
        name="service_import_resources",
    ),
    path("services/<int:pk>/", admin_detail.ServiceDetailView.as_view(), name="service_detail"),
    path("services/<int:pk>/edit/", admin_detail.ServiceEditView.as_view(), name="service_edit"),
    path(
        "services/<int:pk>/tabs/<slug:key>/",
        admin_detail.ServiceTabView.as_view(),
        name="service_tab",
    ),
    path(
        "services/<int:pk>/tabs/<slug:key>/actions/<slug:action>/",
        tab_actions.StaffTabActionView.as_view(),
        name="service_tab_action",
    ),
    path(
        "services/<int:pk>/actions/<slug:action>/",
        admin_actions.ServiceActionView.as_view(),
        name="service_action",
    ),
]
