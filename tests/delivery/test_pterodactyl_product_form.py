"""The product form of the Pterodactyl module offers the panel's own eggs and locations."""

from __future__ import annotations

import socket

from delivery.models import Server
from delivery.modules.pterodactyl.forms import PterodactylProductForm
from products.forms import ProductForm
from tests.delivery.pterodactyl_setup import config
from tests.factories import ProductFactory


def test_the_staff_form_offers_the_panels_eggs_and_locations(fake, panel_server):
    product = ProductFactory(module="pterodactyl", module_config=config(fake))

    form = ProductForm(instance=product).settings_form

    html = str(form)
    assert '<optgroup label="Minecraft">' in html
    assert f'<option value="{fake.ids["egg"]}" selected>Paper</option>' in html
    assert f'value="{fake.ids["location"]}" selected' in html
    assert f"As {panel_server.name} lists them." in html
    assert fake.received("GET", "/api/application/nests")


def test_the_nest_follows_from_the_egg_chosen(fake, panel_server):
    data = {
        "module": "pterodactyl",
        **{f"config-{name}": value for name, value in config(fake).items() if name != "nest"},
        "config-environment": '{"MINECRAFT_VERSION": "1.21"}',
    }
    data = {key: value for key, value in data.items() if value is not None}

    form = ProductForm(data=data).settings_form

    assert form.is_valid(), form.errors
    assert form.cleaned_data["nest"] == fake.ids["nest"]
    assert form.cleaned_data["egg"] == fake.ids["egg"]


def test_with_no_panel_answering_the_form_asks_for_the_ids_and_says_why(db):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    Server.objects.create(
        name="gone panel",
        module="pterodactyl",
        hostname="127.0.0.1",
        port=closed_port,
        credentials={"scheme": "http", "application_key": "ptla_x", "client_key": "ptlc_y"},
    )

    form = ProductForm(initial={"module": "pterodactyl"}).settings_form

    assert form.fields["egg"].__class__.__name__ == "IntegerField"
    assert "gone panel could not list its eggs" in form.fields["egg"].help_text


def test_a_stored_configuration_is_checked_without_asking_any_panel(fake, panel_server):
    form = PterodactylProductForm(data=config(fake))

    assert form.is_valid(), form.errors
    assert fake.received("GET", "/api/application/nests") == []
