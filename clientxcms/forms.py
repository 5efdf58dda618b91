"""What every staff form shares: Bootstrap's classes on its widgets.

Forms set the classes once here so that templates render a field with
``{% include "components/form_field.html" %}`` and never repeat widget markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django import forms
from django.forms.boundfield import BoundField

_CHECK_WIDGETS = (forms.CheckboxInput, forms.RadioSelect, forms.CheckboxSelectMultiple)
_SELECT_WIDGETS = (forms.Select, forms.SelectMultiple)


def widget_class(widget: forms.Widget) -> str:
    """The Bootstrap class of ``widget``: check boxes and selects have their own."""
    if isinstance(widget, _CHECK_WIDGETS):
        return "form-check-input"
    if isinstance(widget, _SELECT_WIDGETS):
        return "form-select"
    return "form-control"


def style_widgets(fields: Iterable[forms.Field]) -> None:
    """Add Bootstrap's class to the widget of each of ``fields`` (keeping classes already
    set)."""
    for field in fields:
        css = widget_class(field.widget)
        existing = field.widget.attrs.get("class", "")
        if css not in existing.split():
            field.widget.attrs["class"] = f"{existing} {css}".strip()


def style_fields(form: forms.BaseForm) -> None:
    """Add Bootstrap's class to every widget of ``form`` (keeping classes already set)."""
    style_widgets(form.fields.values())


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


class InvalidMarkingBoundField(BoundField):
    """A field of a form, whose widget is given Bootstrap's ``is-invalid`` class as it is
    rendered when the field has errors (what ``mark_invalid`` writes on the widget).

    The widget itself is left as it is, so that forms may share their fields
    (``services.filters.SharedFields``).
    """

    def build_widget_attrs(
        self, attrs: dict[str, Any], widget: forms.Widget | None = None
    ) -> dict[str, Any]:
        attrs = super().build_widget_attrs(attrs, widget)
        if self.name in self.form.errors:
            classes = str(attrs.get("class", (widget or self.field.widget).attrs.get("class", "")))
            if "is-invalid" not in classes:
                attrs["class"] = f"{classes} is-invalid"
        return attrs


class StyledFormMixin(_FormBase):
    """Styles a form's widgets on creation; its invalid ones are flagged as they are
    rendered (``InvalidMarkingBoundField``)."""

    bound_field_class = InvalidMarkingBoundField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)


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
