"""The registry of delivery modules: a dict from key to module instance.

Built-in modules are listed here; a deployment adds its own with the
``DELIVERY_MODULES`` setting (key to dotted path) and third-party packages through the
``clientxcms.delivery_modules`` entry-point group.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from .modules.base import DeliveryModule

ENTRY_POINT_GROUP = "clientxcms.delivery_modules"
BUILTIN_MODULES = {
    "manual": "delivery.modules.manual.ManualModule",
    "pterodactyl": "delivery.modules.pterodactyl.PterodactylModule",
    "proxmox": "delivery.modules.proxmox.ProxmoxModule",
}


class UnknownModule(LookupError):
    """No module is registered under the key."""


@cache
def _registry() -> dict[str, DeliveryModule]:
    classes: dict[str, type] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        classes[entry_point.name] = entry_point.load()
    for key, path in {**BUILTIN_MODULES, **settings.DELIVERY_MODULES}.items():
        classes[key] = import_string(path)
    modules: dict[str, DeliveryModule] = {}
    for key, cls in classes.items():
        if not (isinstance(cls, type) and issubclass(cls, DeliveryModule)):
            raise ImproperlyConfigured(f"Delivery module {key!r} is not a DeliveryModule subclass.")
        if cls.key != key:
            raise ImproperlyConfigured(
                f"Delivery module {cls.__name__} is registered as {key!r} "
                f"but its key is {cls.key!r}."
            )
        modules[key] = cls()
    return modules


@receiver(setting_changed)
def _reset_on_settings_change(*, setting: str, **kwargs: object) -> None:
    if setting == "DELIVERY_MODULES":
        _registry.cache_clear()


def get_module(key: str) -> DeliveryModule:
    """The module registered under ``key``; raises UnknownModule otherwise."""
    try:
        return _registry()[key]
    except KeyError:
        raise UnknownModule(
            gettext("No delivery module is registered as %(key)s.") % {"key": repr(key)}
        ) from None


def module_choices() -> list[tuple[str, str]]:
    """(key, label) of every registered module, by label, for form fields."""
    return sorted(module_labels().items(), key=lambda choice: choice[1])


def module_labels() -> dict[str, str]:
    """The label of every registered module, by key: the one place labels are read from."""
    return {key: str(module.label) for key, module in _registry().items()}


def module_label(key: str) -> str:
    """The label of the module ``key``, or the key itself when no module has it any more
    (a product or service outlives the module it was made with)."""
    return module_labels().get(key, key)
