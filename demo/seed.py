"""The base seed of ``manage.py seed_demo``: what a person clicks through after ``make run``.

Staff and customer logins, permission groups, products, servers and about a hundred
services. Every service is created and moved through ``services.lifecycle``, so each one
has the history, renewals and timestamps that real use would have left.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify

from billing.models import BalanceEntry, Invoice, Order, Payment
from customers.models import Customer, User
from delivery.models import Server
from delivery.registry import get_module, module_choices
from products.choices import BillingCycle
from products.cycles import first_expiration
from products.models import Product, ProductPrice
from services import lifecycle
from services.choices import CancelWhen, EventSource
from services.models import Service, ServiceEvent

from .catalogue import (
    ADMIN,
    CANCEL_REASONS,
    CATALOGUE,
    CUSTOM_SERVICES,
    CUSTOM_SHARE,
    CUSTOMER_PASSWORD,
    CUSTOMER_WEIGHTS,
    DEMO_MODULE,
    PEOPLE,
    PROXMOX_MODULE,
    PTERODACTYL_MODULE,
    RANDOM_SEED,
    SERVERS,
    STAFF_NOTES,
    SUPPORT,
    SUSPEND_REASONS,
    Person,
    ProductSpec,
    ServerSpec,
    period_days,
)

C = BillingCycle
PERMISSION_APPS = ("customers", "products", "delivery", "services", "billing")


# Base seed -----------------------------------------------------------------------------


def demo_data_exists() -> bool:
    """The base seed is taken to be loaded when its staff login exists."""
    return User.objects.filter(email=ADMIN.email).exists()


def seed_base(*, note: Callable[[str], None]) -> None:
    """Load the logins, groups, catalogue, servers and lifecycle-made services.

    One transaction, so that an interrupted seed leaves nothing half made and the next
    run starts again. (The lifecycle asks callers not to wrap several operations in one
    transaction, as a module failure's record would be rolled back with it; here undoing
    everything is what we want, and the manual module never fails.) The demo's history
    is made up, so no operation e-mails the demo customers (``notify=False``).
    """
    with transaction.atomic():
        groups = _create_groups()
        admin = User.objects.create_superuser(ADMIN.email, ADMIN.password, full_name="Ada Admin")
        support = User.objects.create_user(
            SUPPORT.email, SUPPORT.password, full_name="Sam Support", is_staff=True
        )
        support.groups.add(groups["Support (read-only)"])
        customers = [_create_customer(person) for person in PEOPLE]
        products = _create_products(note)
        servers = [_create_server(spec) for spec in SERVERS]
        _ServiceSeeder(admin, customers, products, servers).run()


def _create_groups() -> dict[str, Group]:
    """The staff roles of DESIGN.md §1, each with its permissions over the panel's apps."""
    panel = Permission.objects.filter(content_type__app_label__in=PERMISSION_APPS)
    view = panel.filter(codename__startswith="view_")
    change_service = panel.filter(content_type__app_label="services", codename="change_service")
    billing = panel.filter(content_type__app_label="billing")
    roles: dict[str, QuerySet[Permission]] = {
        "Administrator": panel,
        "Support (read-only)": view,
        "Billing": view | change_service | billing,
    }
    groups = {}
    for name, permissions in roles.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions)
        groups[name] = group
    return groups


def _create_customer(person: Person) -> Customer:
    user = User.objects.create_user(
        person.email, CUSTOMER_PASSWORD, full_name=f"{person.first_name} {person.last_name}"
    )
    return Customer.objects.create(
        user=user,
        first_name=person.first_name,
        last_name=person.last_name,
        company=person.company,
        phone=person.phone,
        address_line1=person.address,
        city=person.city,
        postcode=person.postcode,
        country=person.country,
        vat_number=person.vat_number,
        language=person.language,
    )


def _create_products(note: Callable[[str], None]) -> list[Product]:
    """The demo catalogue, plus one product per other module that needs no configuration.

    Returns the catalogue only: services are made on the manual module alone. The
    Pterodactyl product is configured from its panel's lists by ``demo.pterodactyl``, the
    Proxmox VE one with its node by ``demo.proxmox``.
    """
    catalogue = [create_product(spec, DEMO_MODULE, {}) for spec in CATALOGUE]
    for key, label in module_choices():
        if key in (DEMO_MODULE, PTERODACTYL_MODULE, PROXMOX_MODULE):
            continue
        try:
            config = get_module(key).clean_product_config({})
        except ValidationError:
            note(f"No demo product for the {label} module: it needs a configuration.")
            continue
        spec = ProductSpec(
            f"{label} Starter",
            f"An example product of the {label} module.",
            {C.MONTHLY: ("9.99", "0"), C.ANNUALLY: ("99.90", "0")},
        )
        create_product(spec, key, config)
    return catalogue


def create_product(spec: ProductSpec, module: str, config: dict) -> Product:
    product = Product.objects.create(
        name=spec.name,
        slug=slugify(spec.name),
        description=spec.description,
        module=module,
        module_config=config,
        is_active=spec.is_active,
    )
    ProductPrice.objects.bulk_create(
        ProductPrice(product=product, cycle=cycle, price=Decimal(price), setup_fee=Decimal(fee))
        for cycle, (price, fee) in spec.prices.items()
    )
    return product


def _create_server(spec: ServerSpec) -> Server:
    return Server.objects.create(
        name=spec.name,
        module=DEMO_MODULE,
        hostname=spec.hostname,
        credentials=get_module(DEMO_MODULE).clean_server_credentials({}),
        max_accounts=spec.max_accounts,
        status=spec.status,
    )


# Lifecycle-made services ---------------------------------------------------------------

#: One step of a story: a lifecycle operation applied to the service by the seeder.
Step = Callable[["_ServiceSeeder", Service], lifecycle.Outcome]


def _deliver(seeder: _ServiceSeeder, service: Service) -> lifecycle.Outcome:
    return lifecycle.deliver(service, notify=False, **seeder.staff)


def _suspend(seeder: _ServiceSeeder, service: Service) -> lifecycle.Outcome:
    reason = seeder.rng.choice(SUSPEND_REASONS)
    return lifecycle.suspend(service, reason=reason, notify=False, **seeder.staff)


def _unsuspend(seeder: _ServiceSeeder, service: Service) -> lifecycle.Outcome:
    return lifecycle.unsuspend(service, reason="Paid, thank you.", notify=False, **seeder.staff)


def _expire(seeder: _ServiceSeeder, service: Service) -> lifecycle.Outcome:
    return lifecycle.expire(service, actor=None, source=EventSource.AUTOMATION, notify=False)


def _renew(seeder: _ServiceSeeder, service: Service) -> lifecycle.Outcome:
    return lifecycle.renew(service, notify=False, **seeder.staff)


def _shift_expiration(seeder: _ServiceSeeder, service: Service) -> lifecycle.Outcome:
    return lifecycle.shift_expiration(
        service, days=7, reason="A week offered after an outage.", **seeder.staff
    )


def _cancel_now(seeder: _ServiceSeeder, service: Service) -> lifecycle.Outcome:
    reason = seeder.rng.choice(CANCEL_REASONS)
    return lifecycle.cancel(
        service, when=CancelWhen.NOW, reason=reason, notify=False, **seeder.staff
    )


def _cancel_at_end(seeder: _ServiceSeeder, service: Service) -> lifecycle.Outcome:
    reason = seeder.rng.choice(CANCEL_REASONS)
    return lifecycle.cancel(
        service, when=CancelWhen.END_OF_PERIOD, reason=reason, notify=False, **seeder.staff
    )


def _terminate(seeder: _ServiceSeeder, service: Service) -> lifecycle.Outcome:
    return lifecycle.terminate(
        service, reason="Terms of service violation.", notify=False, **seeder.staff
    )


def _terminate_after_grace(seeder: _ServiceSeeder, service: Service) -> lifecycle.Outcome:
    return lifecycle.terminate(
        service,
        actor=None,
        source=EventSource.AUTOMATION,
        reason="Not renewed within the grace period.",
        notify=False,
    )


@dataclass(frozen=True)
class Story:
    """A kind of demo service: how many, when it expires at creation, what happens to it.

    ``expiry`` is "none" (set on delivery), "future", "recent" (within the renewal grace
    period) or "old" (past the termination delay). Stories that expire, renew or schedule
    a cancellation need a recurring cycle (``recurring``), and ``max_renewals`` set to the
    number of renewals leaves the service at its limit.
    """

    count: int
    expiry: str
    steps: tuple[Step, ...]
    recurring: bool = False
    max_renewals: int | None = None


STORIES = (
    Story(10, "none", ()),
    Story(3, "none", (_cancel_now,)),
    Story(21, "future", (_deliver,)),
    Story(6, "future", (_deliver, _renew), recurring=True),
    Story(4, "future", (_deliver, _cancel_at_end), recurring=True),
    Story(3, "future", (_deliver, _suspend, _unsuspend)),
    Story(4, "recent", (_deliver, _expire, _renew), recurring=True),
    Story(2, "future", (_deliver, _shift_expiration), recurring=True),
    Story(3, "future", (_deliver, _renew, _renew), recurring=True, max_renewals=2),
    Story(9, "future", (_deliver, _suspend)),
    Story(8, "recent", (_deliver, _expire), recurring=True),
    Story(3, "recent", (_deliver, _suspend, _expire), recurring=True),
    Story(8, "future", (_deliver, _cancel_now)),
    Story(3, "recent", (_deliver, _expire, _cancel_now), recurring=True),
    Story(7, "future", (_deliver, _terminate)),
    Story(5, "old", (_deliver, _expire, _terminate_after_grace), recurring=True),
    Story(1, "future", (_deliver, _renew), recurring=True, max_renewals=12),
)
RECURRING = [cycle for cycle in C if cycle != C.ONE_TIME]


@dataclass
class _ServiceSeeder:
    """Creates the services of every story for the demo customers, through the lifecycle."""

    admin: User
    customers: list[Customer]
    products: list[Product]
    servers: list[Server]
    rng: random.Random = field(default_factory=lambda: random.Random(RANDOM_SEED))
    now: dt.datetime = field(default_factory=timezone.now)

    staff: dict[str, Any] = field(init=False)
    offers: dict[str, list[ProductPrice]] = field(init=False)

    def __post_init__(self) -> None:
        self.staff = {"actor": self.admin, "source": EventSource.ADMIN}
        self.offers = defaultdict(list)
        prices = ProductPrice.objects.filter(product__in=self.products).select_related("product")
        for price in prices:
            self.offers[price.cycle].append(price)

    def run(self) -> None:
        for story in STORIES:
            cycles = RECURRING if story.recurring else list(C)
            start = self.rng.randrange(len(cycles))
            for n in range(story.count):
                service = self._create(story, cycles[(start + n) % len(cycles)])
                for step in story.steps:
                    service = step(self, service).service

    def _create(self, story: Story, cycle: str) -> Service:
        offers = self.offers[cycle]
        if offers and self.rng.random() > CUSTOM_SHARE:
            offer = self.rng.choice(offers)
            product, name = offer.product, offer.product.name
            price, initial_price = offer.price, offer.price + offer.setup_fee
        else:
            product = None
            name, price = self.rng.choice(CUSTOM_SERVICES)
            initial_price = price
        return lifecycle.create(
            **self.staff,
            customer=self.rng.choices(self.customers, weights=CUSTOMER_WEIGHTS)[0],
            product=product,
            module=DEMO_MODULE,
            server=self.rng.choice(self.servers) if self.rng.random() < 0.4 else None,
            name=name,
            notes=self.rng.choice(STAFF_NOTES) if self.rng.random() < 0.15 else "",
            price=price,
            initial_price=initial_price,
            billing_cycle=cycle,
            expires_at=self._expiration(story.expiry, cycle),
            max_renewals=story.max_renewals,
        )

    def _expiration(self, expiry: str, cycle: str) -> dt.datetime | None:
        """An expiration date for a story: one-time services have none."""
        if expiry == "none" or cycle == C.ONE_TIME:
            return None
        if expiry == "recent":
            days = self.rng.uniform(0.5, settings.SERVICE_RENEWAL_GRACE_DAYS - 1)
            return self.now - dt.timedelta(days=days)
        if expiry == "old":
            days = settings.SERVICE_TERMINATION_DAYS + self.rng.uniform(1, 30)
            return self.now - dt.timedelta(days=days)
        started = self.now - dt.timedelta(days=self.rng.uniform(0, period_days(cycle) - 1))
        return first_expiration(started, cycle)


# Totals --------------------------------------------------------------------------------


def totals() -> dict[str, int]:
    """Row counts printed after seeding."""
    return {
        "users": User.objects.count(),
        "customers": Customer.objects.count(),
        "products": Product.objects.count(),
        "servers": Server.objects.count(),
        "services": Service.objects.count(),
        "service events": ServiceEvent.objects.count(),
        "invoices": Invoice.objects.count(),
        "payments": Payment.objects.count(),
        "orders": Order.objects.count(),
        "balance entries": BalanceEntry.objects.count(),
    }
