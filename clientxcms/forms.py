"""What every staff form shares: Bootstrap's classes on its widgets.

Forms set the classes once here so that templates render a field with
``{% include "components/form_field.html" %}`` and never repeat widget markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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


if TYPE_CHECKING:
    # The mixin is always mixed into a form: say so to the type checker only.
    _FormBase = forms.BaseForm
else:
    _FormBase = object


class StyledFormMixin(_FormBase):
    """Styles a form's widgets on creation and flags its invalid ones after validation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)

    def full_clean(self) -> None:
        super().full_clean()
        mark_invalid(self)


class StyledForm(StyledFormMixin, forms.Form):
    """A plain styled form: the base form of the staff lists' filter sets."""


def choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    """``form.fields[name]`` as the choice field it is, so its choices can be set."""
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField), f"{name} is not a choice field"
    return field


def model_choice_field(form: forms.BaseForm, name: str) -> forms.ModelChoiceField:
    """``form.fields[name]`` as the model choice field it is, so its queryset can be set."""
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField), f"{name} is not a model choice field"
    return field
