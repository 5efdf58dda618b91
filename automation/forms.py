"""The settings form: one field per registered option, built from the registry."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext as _

from clientxcms.forms import StyledForm, style_fields

from . import options
from .options import Kind, Option


def field_name(option: Option) -> str:
    """A form field's name for ``option`` (a key's dots would not survive templates)."""
    return option.key.replace(".", "__")


class NumbersField(forms.CharField):
    """Whole numbers separated by commas ("-7, -3, 1"), each within the option's bounds."""

    def __init__(self, *, minimum: int, maximum: int, **kwargs: Any) -> None:
        self.minimum, self.maximum = minimum, maximum
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(str(number) for number in value)
        return value

    def to_python(self, value: Any) -> list[int]:  # type: ignore[override]  # a list, not text
        text = super().to_python(value) or ""
        numbers = []
        for part in filter(None, (piece.strip() for piece in text.split(","))):
            try:
                number = int(part)
            except ValueError:
                raise forms.ValidationError(
                    _("%(value)s is not a whole number.") % {"value": repr(part)}
                ) from None
            if not self.minimum <= number <= self.maximum:
                raise forms.ValidationError(
                    _("%(number)s is outside %(minimum)s to %(maximum)s.")
                    % {"number": number, "minimum": self.minimum, "maximum": self.maximum}
                )
            numbers.append(number)
        return sorted(set(numbers))


def _field(option: Option) -> forms.Field:
    common: dict[str, Any] = {"label": option.label, "help_text": option.help_text}
    if option.kind is Kind.SWITCH:
        return forms.BooleanField(required=False, **common)
    if option.kind is Kind.NUMBERS:
        return NumbersField(
            minimum=option.minimum, maximum=option.maximum, required=False, **common
        )
    return forms.IntegerField(min_value=option.minimum, max_value=option.maximum, **common)


class OptionsForm(StyledForm):
    """Every option, with its current value; ``save`` records what changed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.options = options.registered()
        kwargs["initial"] = {field_name(option): options.get(option.key) for option in self.options}
        super().__init__(*args, **kwargs)
        for option in self.options:
            self.fields[field_name(option)] = _field(option)
        style_fields(self)  # the fields were added after StyledForm styled the form's own

    def groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        """The bound fields under their group's heading, in the registry's order."""
        grouped: dict[str, list[forms.BoundField]] = {}
        for option in self.options:
            grouped.setdefault(option.group, []).append(self[field_name(option)])
        return list(grouped.items())

    def save(self, *, actor: Any) -> list[Option]:
        """Store every changed value with its history; the options that changed."""
        return [
            option
            for option in self.options
            if options.change(option.key, self.cleaned_data[field_name(option)], actor=actor)
        ]
