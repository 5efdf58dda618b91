"""Every page of both areas, read in French, holds no English sentence.

``test_translations.py`` checks that the templates' text is marked and the catalogue
complete; this walk also catches what the templates only print: labels, choices, help
texts and messages written in Python and never marked. Each page of the staff and client
areas (discovered as the accessibility walk does) and the sign-in pages are read by a
French-speaking persona; the visible text and the attributes a reader hears, less the
world's own data (names, addresses, e-mails: what a person typed is not translated),
must contain no English word of ``ENGLISH``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db.models import CharField, Model, TextField
from django.test import Client
from django.urls import Resolver404
from django.urls import resolve as resolve_path

from billing.models import InvoiceLine
from customers.models import Customer, User
from delivery.models import Server, ServerGroup
from products.models import Product
from services.models import Service, ServiceEvent
from tests.pages import pages_of
from tests.test_hostile_input import build_world

pytestmark = pytest.mark.django_db

#: Words of English that no French sentence of the panel holds.
ENGLISH_WORDS = """the your and with this has have been not from was will are you is of to for
    if yes no which when what would should must into only than then these after before because
    while each every other save delete search select never its also more here there show see
    all any new edit view back next previous paid until since by at"""
ENGLISH = frozenset(ENGLISH_WORDS.split())
WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
#: An e-mail address or a host name: typed by someone, or made by the panel, never prose.
ADDRESS = re.compile(r"\S+@\S+|\b[\w-]+(?:\.[\w-]+)+\b")
#: Elements whose content is no prose.
HIDDEN = ("script", "style", "template", "code")
#: The attributes a screen reader reads or a browser shows.
READ_ATTRIBUTES = ("title", "alt", "placeholder", "aria-label")
#: What people typed: shown as they typed it, in no language of the panel's.
DATA_FIELDS: dict[type[Model], tuple[str, ...]] = {
    Service: ("name", "notes", "last_delivery_error"),
    Product: ("name", "description"),
    Customer: (
        "first_name",
        "last_name",
        "company",
        "address_line1",
        "address_line2",
        "city",
        "notes",
    ),
    User: ("email", "full_name"),
    Server: ("name", "hostname"),
    ServerGroup: ("name",),
    ServiceEvent: ("reason", "error"),
    InvoiceLine: ("description",),
}


class VisibleText(HTMLParser):
    """The text of a page a reader sees or hears: data outside scripts and code (a column's
    or a status's name, typed as the panel reads it), and read attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self._hidden += 1
        values = dict(attrs)
        self.parts += [values[name] or "" for name in READ_ATTRIBUTES if name in values]
        for name in ("href", "hx-get"):
            if values.get(name):
                self.links.append(values[name] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def typed_data() -> list[str]:
    """Every value people typed in the world, longest first (a name inside another)."""
    values: set[str] = set()
    for model, names in DATA_FIELDS.items():
        fields = [
            f.name
            for f in model._meta.fields
            if f.name in names and isinstance(f, CharField | TextField)
        ]
        for row in model._default_manager.values_list(*fields):
            values.update(value for value in row if value)
    return sorted(values, key=len, reverse=True)


def english_on(html: str, data: list[str]) -> tuple[list[str], list[str]]:
    """The English phrases of a page (each text holding an English word), and its links."""
    parser = VisibleText()
    parser.feed(html)
    found = []
    for part in parser.parts:
        text = " ".join(part.split())
        for value in data:
            text = text.replace(value, " ")
        text = ADDRESS.sub(" ", text)
        if any(word.lower() in ENGLISH for word in WORD.findall(text)):
            found.append(text.strip())
    return found, parser.links


def tab_pages(links: list[str], area: str, seen: set[Any]) -> list[str]:
    """The pages ``links`` lead to whose URL takes a key (a service's tab): one per key."""
    pages = []
    for link in links:
        path = link.split("?")[0].split("#")[0]
        if not path.startswith(f"/{area}/"):
            continue
        try:
            match = resolve_path(path)
        except Resolver404:
            continue
        shape = (match.view_name, match.kwargs.get("key"))
        if shape[1] is not None and shape not in seen:
            seen.add(shape)
            pages.append(path)
    return pages


def walk(client: Client, urls: list[str], area: str) -> tuple[dict[str, list[str]], int]:
    """Read ``urls`` (and the tabs they link to) in French: English found per page."""
    data = typed_data()
    found: dict[str, list[str]] = {}
    read = 0
    queue, seen = list(urls), set[Any]()
    while queue:
        url = queue.pop(0)
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="fr")
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        read += 1
        english, links = english_on(response.content.decode(), data)
        if english:
            found[url] = english
        queue += tab_pages(links, area, seen)
    return found, read


def test_every_page_reads_in_french(customer, other_customer, admin_user, make_service):
    world = build_world(customer, other_customer, admin_user, make_service)
    Customer.objects.filter(pk=customer.pk).update(language="fr")
    User.objects.filter(pk=admin_user.pk).update(language="fr")
    found: dict[str, list[str]] = {}
    read = 0
    for area, user in (("admin", admin_user), ("client", customer.user)):
        client = Client()
        client.force_login(user)
        english, count = walk(client, pages_of(area, world), area)
        found |= english
        read += count
    public = ["/admin/login/", "/client/login/", "/client/signup/", "/client/password-reset/"]
    english, count = walk(Client(), public, "client")
    found |= english
    read += count

    assert read > 60, "the walk read too few pages to prove anything"
    report = "\n".join(f"{url}: {texts}" for url, texts in sorted(found.items()))
    assert not found, f"English on {len(found)} French pages:\n{report}"
