"""The staff form of a gateway's settings, with its secrets write-only.

A gateway declares its settings as a plain form (``PaymentGateway.settings_form``); a
field whose widget is a ``PasswordInput`` holds a secret. Here such a field is rendered
empty (``render_value=False``, whatever the gateway's form said), and left empty it keeps
the stored value, so that staff can change one key without typing the others again and
no page ever carries a stored secret. Every other field shows what is stored.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from clientxcms.forms import style_fields

from .base import PaymentGateway

KEEP_SECRET_HELP = _("Stored, and never shown again. Leave empty to keep it.")
PREFIX = "settings"


def secret_fields(form: forms.BaseForm) -> list[str]:
    """The fields of ``form`` that hold secrets: those drawn as password inputs."""
    return [
        name for name, field in form.fields.items() if isinstance(field.widget, forms.PasswordInput)
    ]


def build_settings_form(
    gateway: PaymentGateway, stored: dict[str, Any], data: Any = None
) -> forms.Form | None:
    """The gateway's settings form, bound to ``data`` when given, its secrets write-only;
    None when the gateway takes no settings."""
    if gateway.settings_form is None:
        return None
    form = gateway.settings_form(data=data, prefix=PREFIX)
    secrets = secret_fields(form)
    form.initial = {name: value for name, value in stored.items() if name not in secrets}
    for name in secrets:
        field = form.fields[name]
        attrs = {k: v for k, v in field.widget.attrs.items() if k != "value"}
        field.widget = forms.PasswordInput(
            attrs={**attrs, "autocomplete": "new-password"}, render_value=False
        )
        if stored.get(name) not in (None, ""):
            field.required = False
            field.help_text = KEEP_SECRET_HELP
    style_fields(form)
    return form


def settings_to_store(form: forms.Form, stored: dict[str, Any]) -> dict[str, Any]:
    """The values to save from the valid ``form``: a secret left empty keeps its value."""
    values = dict(form.cleaned_data)
    for name in secret_fields(form):
        if values.get(name) in (None, "") and stored.get(name) not in (None, ""):
            values[name] = stored[name]
    return values
