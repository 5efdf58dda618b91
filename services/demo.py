"""Demo data for ``manage.py seed_demo``: logins, a catalogue, servers and services.

Two sets of data, made two ways on purpose:

* The *base seed* (``seed_base``) is what a person clicks through after ``make run``:
  staff and customer logins, permission groups, products, servers and about a hundred
  services. Every service is created and moved through ``services.lifecycle``, so each
  one has the history, renewals and timestamps that real use would have left.
* The *bench rows* (``add_bench_data``) are fixtures for benchmarks: many customers and
  services written with ``bulk_create`` in their final status, with no history. They are
  the one place outside the lifecycle that writes a status, because replaying the
  lifecycle for 100,000 services would take an hour instead of seconds.

Both use ``random.Random(RANDOM_SEED)`` so that the demo looks the same on every machine.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify

from customers.models import Customer, User
from delivery.choices import ServerStatus
from delivery.models import Server
from delivery.registry import get_module, module_choices
from products.choices import CYCLE_MONTHS, WEEK_DAYS, BillingCycle
from products.cycles import first_expiration
from products.models import Product, ProductPrice

from . import lifecycle
from .choices import CancelWhen, EventSource, ServiceStatus
from .models import Service, ServiceEvent

S = ServiceStatus
C = BillingCycle
RANDOM_SEED = 42
#: The module of the demo catalogue and its services: the only one that touches no server,
#: so seeding never calls out to a real panel.
DEMO_MODULE = "manual"
PERMISSION_APPS = ("customers", "products", "delivery", "services")
BULK_BATCH_SIZE = 5000


# Logins and people ---------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    role: str
    email: str
    password: str


ADMIN = Login("staff", "admin@example.com", "admin")
SUPPORT = Login("support", "support@example.com", "support")
CUSTOMER_PASSWORD = "demo"


@dataclass(frozen=True)
class Person:
    email: str
    first_name: str
    last_name: str
    country: str
    language: str
    phone: str
    city: str
    postcode: str
    address: str
    company: str = ""


PEOPLE = (
    Person(
        "alice@example.com", "Alice", "Walker", "GB", "en", "+44 20 7946 0018",
        "London", "EC1A 1BB", "14 Long Lane",
    ),
    Person(
        "bob@example.com", "Bob", "Schneider", "DE", "de", "+49 30 901820",
        "Berlin", "10115", "Invalidenstraße 42", company="Schneider Gaming GmbH",
    ),
    Person(
        "carol@example.com", "Carol", "Díaz", "ES", "es", "+34 612 345 678",
        "Madrid", "28013", "Calle Mayor 7",
    ),
    Person(
        "david@example.com", "David", "Lefèvre", "FR", "fr", "+33 4 72 00 12 34",
        "Lyon", "69002", "12 rue de la République", company="Lefèvre Web SARL",
    ),
    Person(
        "erin@example.com", "Erin", "Brooks", "US", "en", "+1 512 555 0147",
        "Austin", "78701", "600 Congress Ave", company="Brooks Studio LLC",
    ),
)  # fmt: skip
#: Alice is the login printed for the client area, so she holds most of the services.
CUSTOMER_WEIGHTS = (4, 2, 2, 1, 1)
LOGINS = (ADMIN, SUPPORT, Login("customer", PEOPLE[0].email, CUSTOMER_PASSWORD))


# Catalogue and servers -----------------------------------------------------------------


@dataclass(frozen=True)
class ProductSpec:
    name: str
    description: str
    #: cycle -> (price, setup fee)
    prices: dict[str, tuple[str, str]]
    is_active: bool = True


CATALOGUE = (
    ProductSpec(
        "Minecraft Server 4 GB",
        "4 GB of RAM, unlimited slots, daily backups.",
        {C.MONTHLY: ("8.00", "0"), C.QUARTERLY: ("22.50", "0"), C.ANNUALLY: ("80.00", "0")},
    ),
    ProductSpec(
        "Minecraft Server 8 GB",
        "8 GB of RAM for modpacks, daily backups.",
        {C.MONTHLY: ("15.00", "0"), C.SEMI_ANNUALLY: ("84.00", "0"), C.ANNUALLY: ("150.00", "0")},
    ),
    ProductSpec(
        "Minecraft Server 2 GB (legacy)",
        "No longer sold; existing servers keep running.",
        {C.MONTHLY: ("5.00", "0")},
        is_active=False,
    ),
    ProductSpec(
        "TeamSpeak 3 – 50 slots",
        "A voice server for 50 people.",
        {C.WEEKLY: ("1.20", "0"), C.MONTHLY: ("4.00", "0"), C.ANNUALLY: ("40.00", "0")},
    ),
    ProductSpec(
        "Web Hosting Starter",
        "10 GB SSD, 5 e-mail accounts, free certificate.",
        {
            C.MONTHLY: ("3.99", "0"),
            C.ANNUALLY: ("39.90", "0"),
            C.BIENNIALLY: ("74.90", "0"),
            C.TRIENNIALLY: ("99.90", "0"),
        },
    ),
    ProductSpec(
        "Web Hosting Pro",
        "50 GB SSD, unlimited e-mail accounts, staging site.",
        {C.MONTHLY: ("7.99", "4.99"), C.ANNUALLY: ("79.90", "0"), C.BIENNIALLY: ("149.90", "0")},
    ),
    ProductSpec(
        "VPS SSD 2",
        "2 vCPU, 4 GB RAM, 80 GB SSD, one IPv4.",
        {
            C.MONTHLY: ("12.00", "5.00"),
            C.QUARTERLY: ("34.00", "5.00"),
            C.SEMI_ANNUALLY: ("66.00", "0"),
            C.ANNUALLY: ("120.00", "0"),
        },
    ),
    ProductSpec(
        "VPS SSD 4",
        "4 vCPU, 8 GB RAM, 160 GB SSD, one IPv4.",
        {C.MONTHLY: ("22.00", "5.00"), C.ANNUALLY: ("220.00", "0"), C.TRIENNIALLY: ("594.00", "0")},
    ),
    ProductSpec(
        "WordPress Installation & Migration",
        "We move your site and set WordPress up for you, once.",
        {C.ONE_TIME: ("49.00", "0")},
    ),
)


@dataclass(frozen=True)
class ServerSpec:
    name: str
    hostname: str
    max_accounts: int | None
    status: str = ServerStatus.ACTIVE


SERVERS = (
    ServerSpec("EU Node 1", "node1.eu.demo-hosting.example", 500),
    ServerSpec("EU Node 2", "node2.eu.demo-hosting.example", 250),
    ServerSpec("Legacy Node", "legacy.demo-hosting.example", 60, ServerStatus.HIDDEN),
)

#: The share of services that are custom (no product).
CUSTOM_SHARE = 0.07
CUSTOM_SERVICES = (
    ("Dedicated server – Ryzen 9 7950X", Decimal("89.00")),
    ("Managed backups 500 GB", Decimal("12.00")),
    ("Custom game server (ARK)", Decimal("24.00")),
)
SUSPEND_REASONS = (
    "Unpaid invoice.",
    "Abuse report: outgoing spam.",
    "High CPU usage affecting other customers.",
)
CANCEL_REASONS = ("Moving to another provider.", "No longer needed.", "Ordered by mistake.")
STAFF_NOTES = ("VIP customer.", "Asked for a discount at renewal.", "Migrated from the old panel.")


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
    roles: dict[str, QuerySet[Permission]] = {
        "Administrator": panel,
        "Support (read-only)": view,
        "Billing": view | change_service,
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
        language=person.language,
    )


def _create_products(note: Callable[[str], None]) -> list[Product]:
    """The demo catalogue, plus one product per other module that needs no configuration.

    Returns the catalogue only: services are made on the manual module alone.
    """
    catalogue = [_create_product(spec, DEMO_MODULE, {}) for spec in CATALOGUE]
    for key, label in module_choices():
        if key == DEMO_MODULE:
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
        _create_product(spec, key, config)
    return catalogue


def _create_product(spec: ProductSpec, module: str, config: dict) -> Product:
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
Step = Callable[["_ServiceSeeder", Service], Service]


def _deliver(seeder: _ServiceSeeder, service: Service) -> Service:
    return lifecycle.deliver(service, notify=False, **seeder.staff)


def _suspend(seeder: _ServiceSeeder, service: Service) -> Service:
    reason = seeder.rng.choice(SUSPEND_REASONS)
    return lifecycle.suspend(service, reason=reason, notify=False, **seeder.staff)


def _unsuspend(seeder: _ServiceSeeder, service: Service) -> Service:
    return lifecycle.unsuspend(service, reason="Paid, thank you.", notify=False, **seeder.staff)


def _expire(seeder: _ServiceSeeder, service: Service) -> Service:
    return lifecycle.expire(service, actor=None, source=EventSource.AUTOMATION, notify=False)


def _renew(seeder: _ServiceSeeder, service: Service) -> Service:
    return lifecycle.renew(service, notify=False, **seeder.staff)


def _shift_expiration(seeder: _ServiceSeeder, service: Service) -> Service:
    return lifecycle.shift_expiration(
        service, days=7, reason="A week offered after an outage.", **seeder.staff
    )


def _cancel_now(seeder: _ServiceSeeder, service: Service) -> Service:
    reason = seeder.rng.choice(CANCEL_REASONS)
    return lifecycle.cancel(
        service, when=CancelWhen.NOW, reason=reason, notify=False, **seeder.staff
    )


def _cancel_at_end(seeder: _ServiceSeeder, service: Service) -> Service:
    reason = seeder.rng.choice(CANCEL_REASONS)
    return lifecycle.cancel(
        service, when=CancelWhen.END_OF_PERIOD, reason=reason, notify=False, **seeder.staff
    )


def _terminate(seeder: _ServiceSeeder, service: Service) -> Service:
    return lifecycle.terminate(
        service, reason="Terms of service violation.", notify=False, **seeder.staff
    )


def _terminate_after_grace(seeder: _ServiceSeeder, service: Service) -> Service:
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
                    service = step(self, service)

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
        started = self.now - dt.timedelta(days=self.rng.uniform(0, _period_days(cycle) - 1))
        return first_expiration(started, cycle)


def _period_days(cycle: str) -> int:
    """The rough length of one cycle in days, for spreading dates (not for billing)."""
    return WEEK_DAYS if cycle == C.WEEKLY else CYCLE_MONTHS[cycle] * 30


# Bench rows ----------------------------------------------------------------------------

FIRST_NAMES = ("Liam", "Emma", "Noah", "Olivia", "Lucas", "Mia", "Hugo", "Léa", "Jonas", "Sofia")
LAST_NAMES = ("Smith", "Müller", "García", "Dubois", "Rossi", "Novak", "Jensen", "Silva")
COUNTRIES = ("FR", "DE", "ES", "GB", "US", "IT", "NL", "BE", "PL", "PT")
#: How often each status and cycle appears among bench rows, roughly as in production.
STATUS_WEIGHTS = {S.PENDING: 3, S.ACTIVE: 62, S.SUSPENDED: 6, S.EXPIRED: 5}
STATUS_WEIGHTS |= {S.CANCELLED: 12, S.TERMINATED: 12}
CYCLE_WEIGHTS = {C.WEEKLY: 2, C.MONTHLY: 50, C.QUARTERLY: 10, C.SEMI_ANNUALLY: 6}
CYCLE_WEIGHTS |= {C.ANNUALLY: 22, C.BIENNIALLY: 4, C.TRIENNIALLY: 3, C.ONE_TIME: 3}


@dataclass(frozen=True)
class _Offer:
    """Something a bench service can be: a product's price for a cycle, or a custom one."""

    product_id: int | None
    module: str
    name: str
    price: Decimal
    initial_price: Decimal


CUSTOM_OFFERS = [_Offer(None, DEMO_MODULE, name, price, price) for name, price in CUSTOM_SERVICES]


@dataclass(frozen=True)
class BenchResult:
    customers: int
    services: int


def add_bench_data(services: int, customers: int) -> BenchResult:
    """Bulk-insert ``customers`` customers with logins and ``services`` services.

    Rows are written in their final status with ``bulk_create``, without history: they
    are benchmark fixtures, and only their shape matters. They respect every database
    constraint of the services: one-time services never expire, renewals stay within
    their maximum, ``external_id`` stays empty so no two live services share a resource.
    Server capacity (``max_accounts``) is a placement rule of delivery, not a constraint,
    and is ignored. E-mails carry a prefix unique to the run, so running it again adds
    more. Relies on ``bulk_create`` returning primary keys (PostgreSQL, SQLite 3.35+).
    """
    rng = random.Random(RANDOM_SEED)
    now = timezone.now()
    with transaction.atomic():
        customer_ids = _bulk_customers(customers, rng, now)
        offers = _offers_by_cycle()
        servers = _servers_by_module()
        rows = _bench_services(services, customer_ids, offers, servers, rng, now)
        for batch in _batches(rows, BULK_BATCH_SIZE):
            Service.objects.bulk_create(batch, batch_size=BULK_BATCH_SIZE)
    return BenchResult(customers=len(customer_ids), services=services)


def _batches(rows: Iterator[Service], size: int) -> Iterator[list[Service]]:
    """Lists of ``size`` rows, so that 100,000 unsaved services never sit in memory at once."""
    while batch := list(islice(rows, size)):
        yield batch


def _bulk_customers(count: int, rng: random.Random, now: dt.datetime) -> list[int]:
    """Insert ``count`` users and their customer profiles; return the customers' ids."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    password = make_password(CUSTOMER_PASSWORD)  # hashing is slow: once for every login
    people = []
    for n in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        joined = now - dt.timedelta(days=rng.uniform(0, 730))
        user = User(
            email=f"{prefix}-{n}@example.net",
            full_name=f"{first} {last}",
            password=password,
            date_joined=joined,
        )
        people.append((user, first, last, joined))
    User.objects.bulk_create([user for user, *_ in people], batch_size=BULK_BATCH_SIZE)
    profiles = Customer.objects.bulk_create(
        [
            Customer(
                user=user,
                first_name=first,
                last_name=last,
                country=rng.choice(COUNTRIES),
                created_at=joined,
            )
            for user, first, last, joined in people
        ],
        batch_size=BULK_BATCH_SIZE,
    )
    return [profile.pk for profile in profiles]


def _offers_by_cycle() -> dict[str, list[_Offer]]:
    """Every product price that can be delivered: its module needs no server, or has one."""
    with_servers = set(Server.objects.values_list("module", flat=True).distinct())
    offers: dict[str, list[_Offer]] = {cycle: [] for cycle in C}
    for price in ProductPrice.objects.select_related("product"):
        product = price.product
        if get_module(product.module).requires_server and product.module not in with_servers:
            continue
        initial_price = price.price + price.setup_fee
        offers[price.cycle].append(
            _Offer(product.pk, product.module, product.name, price.price, initial_price)
        )
    return offers


def _servers_by_module() -> dict[str, list[int]]:
    """The servers that take services, by module: not disabled ones."""
    servers: dict[str, list[int]] = defaultdict(list)
    usable = Server.objects.exclude(status=ServerStatus.DISABLED)
    for pk, module in usable.values_list("pk", "module"):
        servers[module].append(pk)
    return servers


def _bench_services(
    count: int,
    customer_ids: Sequence[int],
    offers: dict[str, list[_Offer]],
    servers: dict[str, list[int]],
    rng: random.Random,
    now: dt.datetime,
) -> Iterator[Service]:
    """Yield unsaved services: first one of every possible (status, cycle) pair, so that
    even a small run covers them all, then a realistic mix."""
    pairs = [(s, c) for s in S for c in C if (s, c) != (S.EXPIRED, C.ONE_TIME)]
    statuses, status_weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    for n in range(count):
        if n < len(pairs):
            status, cycle = pairs[n]
        else:
            status = rng.choices(statuses, status_weights)[0]
            cycle = _bench_cycle(status, rng)
        if offers[cycle] and rng.random() > CUSTOM_SHARE:
            offer = rng.choice(offers[cycle])
        else:
            offer = rng.choice(CUSTOM_OFFERS)
        module_servers = servers.get(offer.module, [])
        server_id = rng.choice(module_servers) if module_servers and rng.random() < 0.7 else None
        yield _bench_service(status, cycle, offer, rng.choice(customer_ids), server_id, rng, now)


def _bench_cycle(status: str, rng: random.Random) -> str:
    """A billing cycle by weight; an expired service has one that expires."""
    weights = {c: w for c, w in CYCLE_WEIGHTS.items() if status != S.EXPIRED or c != C.ONE_TIME}
    return rng.choices(list(weights), list(weights.values()))[0]


def _bench_service(
    status: str,
    cycle: str,
    offer: _Offer,
    customer_id: int,
    server_id: int | None,
    rng: random.Random,
    now: dt.datetime,
) -> Service:
    """One service row whose dates agree with its status: created, delivered, then ended."""
    expires_at = _bench_expiration(status, cycle, rng, now)
    created_at = now - dt.timedelta(days=rng.uniform(1, 730))
    if expires_at is not None and created_at >= expires_at:
        created_at = expires_at - dt.timedelta(days=rng.uniform(1, min(_period_days(cycle), 730)))
    delivered = status != S.PENDING
    recurring = delivered and cycle != C.ONE_TIME
    renewal_count = rng.randint(0, 8) if recurring else 0
    limited = recurring and rng.random() < 0.05
    ended_at = created_at + (now - created_at) * rng.random()
    return Service(
        name=offer.name,
        status=status,
        module=offer.module,
        customer_id=customer_id,
        product_id=offer.product_id,
        server_id=server_id,
        price=offer.price,
        initial_price=offer.initial_price,
        billing_cycle=cycle,
        expires_at=expires_at,
        billing_anchor_day=timezone.localtime(expires_at).day if expires_at else None,
        max_renewals=renewal_count + rng.randint(0, 4) if limited else None,
        renewal_count=renewal_count,
        delivered_at=created_at if delivered else None,
        delivery_attempts=int(delivered),
        suspended_at=ended_at if status == S.SUSPENDED else None,
        suspend_reason=rng.choice(SUSPEND_REASONS) if status == S.SUSPENDED else "",
        cancelled_at=ended_at if status == S.CANCELLED else None,
        terminated_at=ended_at if status == S.TERMINATED else None,
        created_at=created_at,
    )


def _bench_expiration(
    status: str, cycle: str, rng: random.Random, now: dt.datetime
) -> dt.datetime | None:
    """Between 60 days ago and 400 days ahead, as the status implies; none for one-time."""
    if cycle == C.ONE_TIME or status == S.PENDING:
        return None
    ahead = min(_period_days(cycle), 400)
    termination = settings.SERVICE_TERMINATION_DAYS
    days = {
        S.ACTIVE: (1, ahead),
        S.SUSPENDED: (1, ahead),
        S.EXPIRED: (-termination, 0),
        S.CANCELLED: (-60, ahead),
        S.TERMINATED: (-60, -termination),
    }[status]
    return now + dt.timedelta(days=rng.uniform(*days))


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
    }
