"""Every URL × every persona × hostile values: no answer is a 5xx, and a refused form
writes nothing (issue 8).

The endpoints are discovered, not listed: the URL patterns come from ``get_resolver()``;
their path parameters are filled with the pks of real objects (and the slugs that the
pages themselves link to); the GET parameters of an endpoint are those its pages' GET
forms carry, plus the ones views read straight from ``request.GET``; the fields of a
POST endpoint are those of the ``<form>``s that post to it on any page, plus the fields
of the view's ``form_class``. Each parameter and field is then sent alone with each
hostile value, so that one invalid field cannot hide what another would do.

It runs on PostgreSQL too (``DATABASE_URL``), where a NUL byte is refused by the
database rather than by Python.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from django.apps import apps
from django.contrib.auth.tokens import default_token_generator
from django.db import connection
from django.test import Client
from django.urls import NoReverseMatch, Resolver404, URLPattern, URLResolver, get_resolver, reverse
from django.urls import resolve as resolve_path
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from automation.models import RunTrigger, TaskRun
from billing import orders
from billing.models import TaxRate
from customers import signup
from delivery.models import Server, ServerGroup
from products.choices import BillingCycle
from products.models import Product
from services.choices import ServiceStatus
from services.models import BulkOperation
from tests.factories import ProductPriceFactory, ServiceFactory, StaffFactory

#: Sent to every parameter or field at once: what each field's own validation meets.
HOSTILE_VALUES = [
    "\x00",
    "a\x00b",
    "-1",
    "0",
    "9" * 40,
    "0001-01-01",
    "9999-12-31",
    "x" * 10_000,
    "<script>alert(1)</script>",
    "²",
]
#: Sent to each filter and field alone, the others valid, to reach what runs once the
#: fields validate (``clean()``, filters, date arithmetic, the database): the families
#: that got through before (NUL, numbers and dates out of range). Few, for speed: a
#: form page renders in tens of milliseconds.
PER_FIELD_VALUES = ["a\x00b", "9" * 40, "0001-01-01", "9999-12-31"]
#: A formset's rows after the first run the same code as the first: fuzzed all at once only.
LATER_FORMSET_ROW = re.compile(r"-[1-9][0-9]*-")
#: Fields that the test client does not check or that carry no input.
NOT_FUZZED = {"csrfmiddlewaretoken"}
#: Read by views straight from ``request.GET`` rather than through a form (grep
#: ``request.GET``); sent to every endpoint, since a page may start reading one any day.
DIRECT_GET_PARAMETERS = (
    "q",
    "page",
    "cursor",
    "per_page",
    "format",
    "fragment",
    "polling",
    "state",
    "step",
    "module",
    "server",
    "customer",
    "product",
    "next",
)
#: The apps whose tables a refused form must leave untouched.
OUR_APPS = ("customers", "products", "delivery", "services", "billing", "automation")
#: Written on purpose when a form is refused: sign-in attempts are audited.
AUDIT_MODELS = {"StaffActivity"}
#: Columns that change by themselves (signing the persona in again).
VOLATILE_COLUMNS = {"last_login"}
#: Which world object fills ``<pk>``, by the first word found in the URL name.
PK_SOURCES = (
    "bulk",
    "service",
    "customer",
    "product",
    # Before "server": a server group's pages are named server_group_*.
    "group",
    "server",
    "staff",
    "invoice",
    "order",
    "tax",
    "run",
)
#: Path parameters filled from the pages' own links (a tab's key, an action's name) when
#: the world has none; anything else fails the test.
SLUG_PARAMETERS = {"key", "action"}
PERSONAS = ["anonymous", "customer", "other_customer", "plain_staff", "support_user", "admin_user"]


# Discovering the URL patterns ------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A URL pattern: its reversible name (or literal path) and its path parameters."""

    name: str
    parameters: tuple[str, ...]
    route: str


def walk(patterns: list[Any], namespace: str = "", prefix: str = "") -> Iterator[Endpoint]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace) if part)
            yield from walk(pattern.url_patterns, inner, route)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            parameters = tuple(pattern.pattern.converters)
            yield Endpoint(name or "/" + route, parameters, route)


def endpoints() -> list[Endpoint]:
    return list(walk(get_resolver().url_patterns))


# Reading forms and links out of pages ----------------------------------------------------


@dataclass
class Form:
    method: str
    action: str
    fields: dict[str, list[str]] = field(default_factory=dict)


class PageParser(HTMLParser):
    """The forms (their fields with default values) and the link targets of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: set[str] = set()
        self._form: Form | None = None
        self._select: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {key: value or "" for key, value in attrs}
        for key in ("href", "action", "hx-get", "hx-post"):
            if attr.get(key):
                self.links.add(attr[key])
        if tag == "form":
            self._form = Form(attr.get("method", "get").lower(), attr.get("action", ""))
            self.forms.append(self._form)
            return
        if self._form is None or not attr.get("name") and tag != "option":
            return
        values = self._form.fields
        if tag == "input":
            kind = attr.get("type", "text").lower()
            if kind in {"submit", "button", "image", "reset", "file"}:
                values.setdefault(attr["name"], [])
                if kind == "submit" and "value" in attr:
                    values[attr["name"]] = [attr["value"]]
                return
            if kind in {"checkbox", "radio"}:
                values.setdefault(attr["name"], [])
                if "checked" in attr:
                    values[attr["name"]].append(attr.get("value", "on"))
                return
            values[attr["name"]] = [attr.get("value", "")]
        elif tag == "select":
            self._select, self._first_option = attr["name"], None
            values.setdefault(attr["name"], [])
        elif tag == "option" and self._select:
            value = attr.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in attr:
                values[self._select].append(value)
        elif tag == "textarea":
            self._textarea = attr["name"]
            values[attr["name"]] = [""]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select" and self._form is not None and self._select:
            if not self._form.fields[self._select] and self._first_option is not None:
                self._form.fields[self._select] = [self._first_option]
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea:
            self._form.fields[self._textarea] = [data.strip("\n")]


def resolve(url: str, base: str) -> tuple[str, dict[str, Any]] | None:
    """The URL name and path parameters of a link found on ``base``, if it is ours."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or url.startswith(("#", "data:", "javascript:")):
        return None
    path = parts.path or urlsplit(base).path
    if not path.startswith("/"):
        return None
    try:
        match = resolve_path(path)
    except Resolver404:
        return None
    return match.view_name, match.kwargs


# The world and the personas --------------------------------------------------------------


def build_world(customer: Any, other_customer: Any, admin_user: Any, make_service: Any) -> dict:
    """One object of each kind, Bob's services in every status that offers other actions."""
    services = {
        status: make_service(status)
        for status in (
            ServiceStatus.ACTIVE,
            ServiceStatus.PENDING,
            ServiceStatus.SUSPENDED,
            ServiceStatus.EXPIRED,
        )
    }
    active = services[ServiceStatus.ACTIVE]
    ProductPriceFactory(product=active.product)
    # The product places its services in a group holding the world's server.
    group = ServerGroup.objects.create(name="Nodes", module="test", warn_at_percent=80)
    Server.objects.filter(pk=active.server_id).update(group=group)
    Product.objects.filter(pk=active.product_id).update(server_group=group)
    ServiceFactory(customer=other_customer, product=active.product)
    operation = BulkOperation.objects.create(
        action="suspend", service_ids=[active.pk], created_by=admin_user
    )
    order = orders.place_order(
        customer,
        items=[orders.ItemSpec(product=active.product, billing_cycle=BillingCycle.MONTHLY)],
        actor=None,
        notify=False,
    )
    return {
        "services": list(services.values()),
        "service": active,
        "customer": customer,
        "product": active.product,
        "server": active.server,
        "group": group,
        "bulk": operation,
        "order": order,
        "invoice": order.invoice,
        "tax": TaxRate.objects.create(country="FR", rate=20),
        "staff": StaffFactory(email="colleague@example.com"),
        # A run of a periodic task, for its page.
        "run": TaskRun.objects.create(task="services.expire", trigger=RunTrigger.STAFF),
        # A valid password-reset link of Bob's, as the e-mail that staff send holds.
        "slugs": {
            "uidb64": urlsafe_base64_encode(force_bytes(customer.user.pk)),
            "token": default_token_generator.make_token(customer.user),
            "gateway": "bank_transfer",
            # A genuine sign-up link of Bob's (already confirmed: the page says so), and a
            # genuine link changing his login address.
            "confirm_token": signup.signup_token_generator.make_token(customer.user),
            "email_token": signup.make_email_change_token(customer.user, "bob.new@example.com"),
            # The catalogue's product page.
            "slug": active.product.slug,
        },
    }


def fill(endpoint: Endpoint, world: dict) -> dict[str, Any] | None:
    """Path parameters for ``endpoint`` from the world; None when a slug is needed."""
    kwargs: dict[str, Any] = {}
    for parameter in endpoint.parameters:
        if parameter == "pk":
            source = next((word for word in PK_SOURCES if word in endpoint.name), None)
            if source is None:
                raise AssertionError(f"{endpoint.name}: teach this test whose <pk> it takes")
            kwargs["pk"] = world[source].pk
        elif parameter in world["slugs"]:
            kwargs[parameter] = world["slugs"][parameter]
        elif parameter in SLUG_PARAMETERS:
            return None
        else:
            raise AssertionError(f"{endpoint.route}: teach this test to fill <{parameter}>")
    return kwargs


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of our tables, to tell whether a request wrote anything.

    Read with one plain SELECT per table rather than through the ORM: the walk takes two
    snapshots around each of thousands of POSTs, and building model values was half the
    time of the whole test."""
    with connection.cursor() as cursor:
        rows = {}
        for label, sql in _snapshot_queries():
            cursor.execute(sql)
            rows[label] = cursor.fetchall()
        return rows


@functools.cache
def _snapshot_queries() -> list[tuple[str, str]]:
    """``(model label, SELECT of its columns but the volatile ones, in key order)``."""
    quote = connection.ops.quote_name
    queries = []
    for app in OUR_APPS:
        with contextlib.suppress(LookupError):
            for model in apps.get_app_config(app).get_models():
                if model.__name__ in AUDIT_MODELS:
                    continue
                meta = model._meta
                columns = ", ".join(
                    quote(f.column) for f in meta.concrete_fields if f.name not in VOLATILE_COLUMNS
                )
                queries.append(
                    (
                        meta.label,
                        f"SELECT {columns} FROM {quote(meta.db_table)} "
                        f"ORDER BY {quote(meta.pk.column)}",
                    )
                )
    return queries


# The walk --------------------------------------------------------------------------------


@dataclass
class Walk:
    """A persona's client, the forms found, and the failures seen."""

    client: Client
    relogin: Any
    failures: list[str] = field(default_factory=list)
    requests: int = 0

    def send(self, method: str, url: str, data: dict[str, Any]) -> bool:
        """Send one request and record what went wrong; whether the persona got in."""
        # A GET must not write either, but only POSTs are compared: half the queries.
        before = snapshot() if method == "post" else None
        try:
            if method == "get":
                response = self.client.get(url, data)
            else:
                response = self.client.post(url, data)
        except Exception as exc:  # noqa: BLE001 - every failure is reported at the end
            self.failures.append(f"{method.upper()} {url} {_short(data)}: {exc!r}")
            return True
        finally:
            self.requests += 1
        if response.status_code >= 500:
            self.failures.append(f"{method.upper()} {url} {_short(data)}: {response.status_code}")
        succeeded = method == "post" and response.status_code in {301, 302, 303}
        if before is not None and not succeeded and snapshot() != before:
            self.failures.append(f"{method.upper()} {url} {_short(data)}: wrote while refusing")
        if any(word in url for word in ("/login/", "/logout/")):
            self.relogin()
        return not _shut_out(response)


def _shut_out(response: Any) -> bool:
    """Refused before any input is read: no access, no such object, or no such method."""
    if response.status_code in {403, 404, 405}:
        return True
    return response.status_code == 302 and "/login/" in response.get("Location", "")


def _short(data: dict[str, Any]) -> str:
    return repr(
        {k: (v[:20] + "…" if isinstance(v, str) and len(v) > 20 else v) for k, v in data.items()}
    )[:200]


def crawl(client: Client, urls: list[str]) -> tuple[list[tuple[str, Form]], set[str]]:
    """The forms of every page in ``urls`` (with the page they are on) and their links."""
    forms: list[tuple[str, Form]] = []
    links: set[str] = set(urls)
    for url in urls:
        response = client.get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = PageParser()
        parser.feed(response.content.decode())
        forms.extend((url, form) for form in parser.forms)
        links.update(link for link in parser.links if link.startswith("/"))
    return forms, links


def view_form_fields(url: str) -> set[str]:
    """The fields of the view's ``form_class``, when it declares one and it builds bare."""
    view_class = getattr(resolve_path(urlsplit(url).path).func, "view_class", None)
    form_class = getattr(view_class, "form_class", None)
    if form_class is None:
        return set()
    try:
        form = form_class()
    except Exception:  # noqa: BLE001 - forms needing arguments are read from the page instead
        return set()
    return {form.add_prefix(name) for name in form.fields}


@pytest.fixture
def world(customer, other_customer, admin_user, make_service):
    return build_world(customer, other_customer, admin_user, make_service)


@pytest.fixture
def crawled(client, world, admin_user, customer):
    """The pages of both areas as seen by those allowed in: every form, every link."""
    pages = []
    for endpoint in endpoints():
        if not endpoint.parameters:
            with contextlib.suppress(NoReverseMatch):
                pages.append(reverse(endpoint.name) if ":" in endpoint.name else endpoint.name)
        elif (kwargs := fill(endpoint, world)) is not None:
            pages.append(reverse(endpoint.name, kwargs=kwargs))
    pages += [reverse("admin:service_detail", args=[s.pk]) for s in world["services"]]
    pages += [reverse("client:service_detail", args=[s.pk]) for s in world["services"]]
    # An open tab: its actions' forms (a module's buttons) are on it, not on the details page.
    pages += [
        reverse(f"{area}:service_tab", args=[world["service"].pk, "overview"])
        for area in ("admin", "client")
    ]
    step2 = {"step": "2", "customer": world["customer"].pk, "product": world["product"].pk}
    pages.append(f"{reverse('admin:service_create')}?{urlencode({**step2, 'module': 'test'})}")
    pages.append(
        f"{reverse('admin:service_import')}?"
        f"{urlencode({**step2, 'module': 'test', 'server': world['server'].pk})}"
    )
    forms, links = [], set()
    for user in (admin_user, customer.user):
        client.force_login(user)
        found_forms, found_links = crawl(client, pages)
        forms += found_forms
        links |= found_links
    client.logout()
    return forms, links


def targets(world: dict, forms: list[tuple[str, Form]], links: set[str]) -> dict[str, dict]:
    """Every concrete URL to attack, with its GET parameters and POST fields."""
    found: dict[str, dict] = {}

    def entry(url: str) -> dict:
        return found.setdefault(url, {"get": set(DIRECT_GET_PARAMETERS), "post": {}})

    for link in links:
        if resolve(link, link) is not None:
            entry(urlsplit(link).path)
    for page, form in forms:
        url = urlsplit(form.action).path or urlsplit(page).path
        if resolve(url, page) is None:
            continue
        if form.method == "get":
            entry(url)["get"] |= set(form.fields)
        else:
            for name, values in form.fields.items():
                entry(url)["post"].setdefault(name, values)
    for endpoint in endpoints():
        kwargs = fill(endpoint, world) if endpoint.parameters else {}
        if kwargs is None:
            continue
        url = (
            endpoint.name
            if endpoint.name.startswith("/")
            else reverse(endpoint.name, kwargs=kwargs)
        )
        entry(url)
    for url, spec in found.items():
        for name in view_form_fields(url):
            spec["post"].setdefault(name, [""])
        spec["post"].setdefault("next", [""])
    return one_per_shape(found)


def one_per_shape(found: dict[str, dict]) -> dict[str, dict]:
    """One URL per view and slug (the details of one service, not of each), with the
    parameters and fields found on all of them: the same code would answer each."""
    kept: dict[tuple, tuple[str, dict]] = {}
    for url in sorted(found):
        match = resolve_path(url)
        shape = (
            match.view_name,
            tuple(sorted((k, v) for k, v in match.kwargs.items() if k != "pk")),
        )
        if shape not in kept:
            kept[shape] = (url, {"get": set(), "post": {}})
        spec = kept[shape][1]
        spec["get"] |= found[url]["get"]
        for name, values in found[url]["post"].items():
            spec["post"].setdefault(name, values)
    return dict(kept.values())


@pytest.mark.parametrize("persona", PERSONAS)
def test_no_hostile_input_ends_in_a_5xx_or_a_write(request, client, world, crawled, persona):
    forms, links = crawled
    found = targets(world, forms, links)
    covered = {resolve_path(url).view_name for url in found}
    every = {e.name for e in endpoints() if not e.name.startswith("/")}
    assert every <= covered, f"no URL found for {sorted(every - covered)}"

    def relogin() -> None:
        if persona != "anonymous":
            user = request.getfixturevalue(persona)
            client.force_login(getattr(user, "user", user))

    relogin()
    walk_ = Walk(client, relogin)
    for url, spec in sorted(found.items()):
        # Parameters read straight from request.GET do not hide one another: all at once.
        # A persona shut out of the page gets only these: nothing reads the rest.
        let_in = [
            walk_.send("get", url, dict.fromkeys(DIRECT_GET_PARAMETERS, value))
            for value in HOSTILE_VALUES
        ]
        if any(let_in):
            # A filter form applies nothing once one field is invalid: each filter alone.
            for parameter in sorted(spec["get"] - set(DIRECT_GET_PARAMETERS)):
                for value in PER_FIELD_VALUES:
                    walk_.send("get", url, {parameter: value})
        baseline = {k: v for k, v in spec["post"].items() if k not in NOT_FUZZED}
        let_in = [
            walk_.send("post", url, dict.fromkeys(baseline, value)) for value in HOSTILE_VALUES
        ]
        if not any(let_in):
            continue
        for name in sorted(name for name in baseline if not LATER_FORMSET_ROW.search(name)):
            for value in PER_FIELD_VALUES:
                walk_.send("post", url, {**baseline, name: value})

    # Every endpoint is reached with each value at least (and far more where let in).
    assert walk_.requests >= 2 * len(found) * len(HOSTILE_VALUES)
    assert not walk_.failures, "\n".join(walk_.failures[:40])
