"""The registry: built-in modules, modules from settings, and third-party entry points."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError

from delivery import registry
from delivery.modules.manual import ManualModule
from products.models import Product
from tests.fakes.modules import FakeModule


def test_builtin_and_configured_modules_are_registered():
    assert isinstance(registry.get_module("manual"), ManualModule)
    assert isinstance(registry.get_module("test"), FakeModule)
    assert ("manual", "Manual") in registry.module_choices()


def test_an_unknown_key_is_refused():
    with pytest.raises(registry.UnknownModule, match="'nope'"):
        registry.get_module("nope")


class ThirdPartyModule(ManualModule):
    key = "thirdparty"
    label = "Third party"


def test_a_module_of_an_installed_package_is_found_through_its_entry_point(monkeypatch):
    entry = EntryPoint(
        name="thirdparty",
        value="tests.delivery.test_registry:ThirdPartyModule",
        group=registry.ENTRY_POINT_GROUP,
    )
    monkeypatch.setattr(registry, "entry_points", lambda group: [entry])
    registry._registry.cache_clear()
    try:
        assert isinstance(registry.get_module("thirdparty"), ThirdPartyModule)
    finally:
        registry._registry.cache_clear()


def test_a_module_registered_under_the_wrong_key_is_a_configuration_error(settings):
    settings.DELIVERY_MODULES = {"other": "tests.fakes.modules.FakeModule"}
    try:
        with pytest.raises(ImproperlyConfigured, match="its key is 'test'"):
            registry.get_module("other")
    finally:
        registry._registry.cache_clear()


def test_product_configuration_is_validated_by_its_module(db):
    product = Product(name="VPS", slug="vps", module="test", module_config={"memory_mb": 64})
    with pytest.raises(ValidationError, match="memory_mb"):
        product.full_clean()

    product.module_config = {"memory_mb": "1024"}
    product.full_clean()
    assert product.module_config == {"memory_mb": 1024}


def test_a_module_without_configuration_refuses_some():
    with pytest.raises(ValidationError, match="takes no configuration"):
        registry.get_module("manual").clean_product_config({"x": 1})
