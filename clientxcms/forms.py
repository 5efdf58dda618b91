"""What every staff form shares: Bootstrap's classes on its widgets.

Forms set the classes once here so that templates render a field with
``{% include "components/form_field.html" %}`` and never repeat widget markup.
"""

from __future__ import annotations

from typing import Any

from django import forms

_CHECK_WIDGETS = (forms.CheckboxInput, forms.RadioSelect, forms.CheckboxSelectMultiple)
_SELECT_WIDGETS = (forms.Select, forms.SelectMultiple)


def widget_class(widget: forms.Widget) -> str:
    """The Bootstrap class of ``widget``: check boxes and selects have their own."""
    if isinstance(widget, _CHECK_WIDGETS):
        return "form-check-input"
    if isinstance(widget, _SELECT_WIDGETS):
        return "form-select"
    return "form-control"


def style_fields(form: forms.BaseForm) -> None:
    """Add Bootstrap's class to every widget of ``form`` (keeping classes already set)."""
    for field in form.fields.values():
        css = widget_class(field.widget)
        existing = field.widget.attrs.get("class", "")
        if css not in existing.split():
            field.widget.attrs["class"] = f"{existing} {css}".strip()


def mark_invalid(form: forms.BaseForm) -> None:
    """Give the widgets of fields with errors Bootstrap's ``is-invalid`` class."""
    for name in form.errors:
        field = form.fields.get(name)
        if field is not None and "is-invalid" not in field.widget.attrs.get("class", ""):
            field.widget.attrs["class"] = f"{field.widget.attrs.get('class', '')} is-invalid"


class StyledFormMixin:
    """Styles a form's widgets on creation and flags its invalid ones after validation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)

    def full_clean(self) -> None:
        super().full_clean()
        mark_invalid(self)


class StyledForm(StyledFormMixin, forms.Form):
    """A plain styled form: the base form of the staff lists' filter sets."""
