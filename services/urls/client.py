"""Client-area URLs of the services app."""

urlpatterns: list = []
