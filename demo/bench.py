"""The bench rows of ``manage.py seed_demo --services N``: fixtures for benchmarks.

Many customers and services written with ``bulk_create`` in their final status, with no
history. They are the one place outside the lifecycle that writes a status, because
replaying the lifecycle for 100,000 services would take an hour instead of seconds.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from customers.models import Customer, User
from delivery.choices import ServerStatus
from delivery.models import Server
from delivery.registry import get_module
from products.choices import BillingCycle
from products.models import ProductPrice
from services.choices import ServiceStatus
from services.models import Service

from .catalogue import (
    CUSTOM_SERVICES,
    CUSTOM_SHARE,
    CUSTOMER_PASSWORD,
    DEMO_MODULE,
    RANDOM_SEED,
    SUSPEND_REASONS,
    period_days,
)

S = ServiceStatus
C = BillingCycle
BULK_BATCH_SIZE = 5000


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
    pairs: list[tuple[str, str]] = [
        (s, c) for s in S for c in C if (s, c) != (S.EXPIRED, C.ONE_TIME)
    ]
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
        created_at = expires_at - dt.timedelta(days=rng.uniform(1, min(period_days(cycle), 730)))
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
    ahead = min(period_days(cycle), 400)
    termination = settings.SERVICE_TERMINATION_DAYS
    spans: dict[str, tuple[float, float]] = {
        S.ACTIVE: (1, ahead),
        S.SUSPENDED: (1, ahead),
        S.EXPIRED: (-termination, 0),
        S.CANCELLED: (-60, ahead),
        S.TERMINATED: (-60, -termination),
    }
    return now + dt.timedelta(days=rng.uniform(*spans[status]))
