"""View mixins of the staff pages that edit something with a delivery module and that
module's settings: products (their configuration) and servers (their credentials).

Here rather than in ``delivery/views.py`` so that products' views share it without
importing delivery's views (DESIGN.md §3).
"""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy


class ModuleSettingsSwapMixin:
    """Create and edit pages whose form has a type and that type's settings form.

    When the type changes, htmx asks the same page (``GET ?module=<key>`` with its
    ``HX-Request`` header) for the settings of that type only and swaps them in; the
    page then works the same without JavaScript, minus the swap.
    """

    settings_template_name = "delivery/admin/_module_settings.html"
    settings_title = cast(str, gettext_lazy("Settings"))
    request: HttpRequest
    object: Any

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.headers.get("HX-Request") == "true" and "module" in request.GET:
            self.object = self.get_object()  # type: ignore[attr-defined]
            form = self.get_form_class()(  # type: ignore[attr-defined]
                instance=self.object, initial={"module": request.GET["module"]}
            )
            return TemplateResponse(
                request,
                self.settings_template_name,
                {"form": form, "settings_title": self.settings_title},
            )
        return super().get(request, *args, **kwargs)  # type: ignore[misc]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(settings_title=self.settings_title, **kwargs)  # type: ignore[misc]
        context["form"].fields["module"].widget.attrs.update(
            {"hx-get": self.request.path, "hx-target": "#module-settings", "hx-trigger": "change"}
        )
        return context
