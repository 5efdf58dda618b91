"""Admin-area URLs of the products app."""

from django.urls import path

from products import views

urlpatterns = [
    path("products/", views.ProductListView.as_view(), name="product_list"),
    path("products/add/", views.ProductCreateView.as_view(), name="product_create"),
    path("products/<int:pk>/edit/", views.ProductUpdateView.as_view(), name="product_edit"),
    path(
        "products/<int:pk>/activate/",
        views.ProductActivationView.as_view(active=True),
        name="product_activate",
    ),
    path(
        "products/<int:pk>/deactivate/",
        views.ProductActivationView.as_view(active=False),
        name="product_deactivate",
    ),
]
