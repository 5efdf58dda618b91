"""Staff forms of the delivery app: servers, their groups, and the module settings that
products share.

A product and a server each have a type (a delivery module) and settings that only
that module understands: a product's configuration, a server's credentials. The module
declares a form for them (``product_form``, ``server_form``); ``ModuleSettingsForm``
renders it beside the model's own fields with a prefix and validates both together.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext_lazy as _

from clientxcms.forms import StyledFormMixin, mark_invalid, model_choice_field, style_fields

from .models import Server, ServerGroup
from .modules.base import DeliveryModule
from .registry import UnknownModule, get_module, module_choices

SETTINGS_INVALID = _("Correct the errors in the settings of the module.")
#: Credential widgets that offer a fixed set of values, and so may show the stored one;
#: every other credential field becomes an empty password input.
CHOICE_WIDGETS = (
    forms.CheckboxInput,
    forms.Select,
    forms.SelectMultiple,
    forms.RadioSelect,
    forms.CheckboxSelectMultiple,
)
KEEP_SECRET_HELP = _("Stored, and never shown again. Leave empty to keep it.")


def module_field() -> forms.ChoiceField:
    """The type of a product or a server: one of the registered delivery modules."""
    return forms.ChoiceField(
        label=_("Type"), choices=module_choices, help_text=_("The delivery module.")
    )


class ModuleSettingsForm(StyledFormMixin, forms.ModelForm):
    """A model form with a ``module`` key and settings that the module's own form validates.

    The module's form (``settings_form``) is built for the type being submitted, or the
    stored one, with ``settings_prefix``. Its values are put on the instance, whose
    ``clean()`` has the module check them once more: the errors it finds are collected
    on a hidden field named after ``settings_field``, because a model form refuses
    errors for a field it does not have.
    """

    settings_field: ClassVar[str]
    settings_prefix: ClassVar[str]
    module = module_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[self.settings_field] = forms.Field(
            required=False, disabled=True, widget=forms.HiddenInput
        )
        self.chosen_module = self._chosen_module()
        self.settings_form = (
            self.build_settings_form(self.chosen_module) if self.chosen_module else None
        )
        if self.settings_form is not None:
            style_fields(self.settings_form)

    def _chosen_module(self) -> DeliveryModule | None:
        if self.is_bound:
            key = self.data.get(self.add_prefix("module"))
        else:
            key = self.initial.get("module") or self.instance.module
        try:
            return get_module(key) if key else None
        except UnknownModule:
            return None

    def build_settings_form(self, module: DeliveryModule) -> forms.Form | None:
        """The module's settings form, bound to the submitted data when there is some."""
        raise NotImplementedError

    def settings_values(self) -> dict[str, Any]:
        """The settings to store, from the valid ``settings_form``."""
        assert self.settings_form is not None
        return dict(self.settings_form.cleaned_data)

    def is_stored_module(self, module: DeliveryModule) -> bool:
        """Whether ``module`` is the type already saved, whose settings are kept."""
        return bool(self.instance.pk) and module.key == self.instance.module

    @property
    def settings_errors(self) -> list[str]:
        """Errors in the settings as a whole, which the module found beyond its form's own.

        None while the settings form has errors: those are shown by their fields.
        """
        if self.settings_form is not None and self.settings_form.errors:
            return []
        return [str(error) for error in self.errors.get(self.settings_field, [])]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean() returns, typed as never None
        if self.chosen_module is None or cleaned.get("module") != self.chosen_module.key:
            return cleaned  # the type itself is wrong: its field says so
        if self.settings_form is None:
            values: dict[str, Any] = {}
        elif self.settings_form.is_valid():
            values = self.settings_values()
        else:
            mark_invalid(self.settings_form)
            self.add_error(self.settings_field, SETTINGS_INVALID)
            return cleaned
        setattr(self.instance, self.settings_field, values)
        return cleaned


class ServerForm(ModuleSettingsForm):
    """A server, with its credentials write-only.

    Credentials are never rendered: every field of the module's form becomes an empty
    password input, and one left empty keeps the stored value. Only choices and check
    boxes, which hold no free-form secret, show what is stored.
    """

    settings_field = "credentials"
    settings_prefix = "credentials"
    #: The stored credentials (of the stored type only), and the fields that hide them.
    stored: dict[str, Any]
    write_only: list[str]

    class Meta:
        model = Server
        fields = ["name", "module", "hostname", "port", "max_accounts", "status", "group"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_choice_field(self, "group").empty_label = _("No group")

    def build_settings_form(self, module: DeliveryModule) -> forms.Form | None:
        if module.server_form is None:
            return None
        self.stored = dict(self.instance.credentials) if self.is_stored_module(module) else {}
        data = self.data if self.is_bound else None
        form = module.server_form(data=data, prefix=self.settings_prefix)
        self.write_only = [
            name
            for name, field in form.fields.items()
            if not isinstance(field.widget, CHOICE_WIDGETS)
        ]
        form.initial = {k: v for k, v in self.stored.items() if k not in self.write_only}
        for name in self.write_only:
            field = form.fields[name]
            attrs = {k: v for k, v in field.widget.attrs.items() if k != "value"}
            field.widget = forms.PasswordInput(
                attrs={**attrs, "autocomplete": "new-password"}, render_value=False
            )
            if self.stored.get(name) not in (None, ""):
                field.required = False
                field.help_text = KEEP_SECRET_HELP
        return form

    def settings_values(self) -> dict[str, Any]:
        values = super().settings_values()
        for name in self.write_only:
            if values.get(name) in (None, "") and name in self.stored:
                values[name] = self.stored[name]
        return values


class ServerGroupForm(StyledFormMixin, forms.ModelForm):
    """A group of servers: its name, type, placement strategy and warning threshold.

    Its servers join it from their own form (a server belongs to one group at most); the
    model refuses a type that its servers do not share.
    """

    module = module_field()

    class Meta:
        model = ServerGroup
        fields = ["name", "module", "strategy", "warn_at_percent"]
