"""The demo's fixed data: its logins, people, catalogue, servers and the reasons and notes
its services carry. ``demo.seed`` and ``demo.bench`` make rows from it.

Everything random in the demo draws from ``random.Random(RANDOM_SEED)``, so that it
looks the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from delivery.choices import ServerStatus
from products.choices import CYCLE_MONTHS, WEEK_DAYS, BillingCycle

C = BillingCycle
RANDOM_SEED = 42
#: The module of the demo catalogue and its services: the only one that touches no server,
#: so seeding never calls out to a real panel.
DEMO_MODULE = "manual"


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
    #: A business's VAT number: Bob's, in another EU country than the company's, makes
    #: his invoices reverse-charged.
    vat_number: str = ""


PEOPLE = (
    Person(
        "alice@example.com", "Alice", "Walker", "GB", "en", "+44 20 7946 0018",
        "London", "EC1A 1BB", "14 Long Lane",
    ),
    Person(
        "bob@example.com", "Bob", "Schneider", "DE", "en", "+49 30 901820",
        "Berlin", "10115", "Invalidenstraße 42", company="Schneider Gaming GmbH",
        vat_number="DE136695976",
    ),
    Person(
        "carol@example.com", "Carol", "Díaz", "ES", "en", "+34 612 345 678",
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


# The game panel of the demo (demo.pterodactyl) ------------------------------------------

PTERODACTYL_MODULE = "pterodactyl"
#: Where ``make run`` starts the fake Pterodactyl panel of the tests; ``DEMO_PTERODACTYL_URL``
#: (set by ``make run`` from ``PTERODACTYL_PORT``) overrides it.
PTERODACTYL_URL = "http://127.0.0.1:8091"
#: The fake panel's fixed demo keys (``tests/fakes/pterodactyl/state.py``; a test checks
#: they agree). They open nothing but that fake.
PTERODACTYL_APPLICATION_KEY = "ptla_fakeapp0001" + "Zk9yVGVzdHNPbmx5QXBwbGljYXRpb24x"
PTERODACTYL_CLIENT_KEY = "ptlc_fakeclt0001" + "Zk9yVGVzdHNPbmx5Q2xpZW50S2V5MDAx"
PTERODACTYL_SERVER = "Game panel (demo)"
#: The game-server product, made for the fake's nest, egg and location of these names.
PTERODACTYL_PRODUCT = ProductSpec(
    "Minecraft — Paper 4 GB",
    "A Paper server with 4 GB of RAM on the game panel: installed and started for you.",
    {C.MONTHLY: ("9.00", "0"), C.QUARTERLY: ("25.50", "0"), C.ANNUALLY: ("90.00", "0")},
)
PTERODACTYL_NEST, PTERODACTYL_EGG = "Minecraft", "Paper"
PTERODACTYL_LIMITS = {
    "memory": 4096,
    "swap": 0,
    "disk": 20480,
    "cpu": 200,
    "io": 500,
    "databases": 1,
    "backups": 2,
    "allocations": 1,
}


# The VPS node of the demo (demo.proxmox) ------------------------------------------------

PROXMOX_MODULE = "proxmox"
#: Where ``make run`` starts the fake Proxmox VE of the tests; ``DEMO_PROXMOX_URL`` (set by
#: ``make run`` from ``PROXMOX_PORT``) overrides it.
PROXMOX_URL = "http://127.0.0.1:8092"
#: The fake's API token and its fixed secret (``tests/fakes/proxmox/state.py``; a test
#: checks they agree). They open nothing but that fake.
PROXMOX_TOKEN_ID = "clientxcms@pve!billing"
PROXMOX_TOKEN_SECRET = "6f1c2a9e-4b7d-4e3a-9f20-8c5d1b7e3a41"
PROXMOX_SERVER = "VPS node (demo)"
#: The VPS product: a clone of the fake's Debian 12 cloud-init template (9000 on ``pve1``,
#: its copy 9001 on ``pve2``), on the least loaded node.
PROXMOX_PRODUCT = ProductSpec(
    "VPS Cloud 2",
    "2 vCPU, 2 GB RAM, 20 GB disk, Debian 12: a virtual machine made and started for you.",
    {C.MONTHLY: ("10.00", "0"), C.QUARTERLY: ("28.50", "0"), C.ANNUALLY: ("100.00", "0")},
)
PROXMOX_VM = {
    "node": "",
    "template": 9000,
    "full_clone": True,
    "storage": "local-lvm",
    "cores": 2,
    "memory": 2048,
    "disk": 20,
    "bridge": "vmbr0",
}

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


def period_days(cycle: str) -> int:
    """The rough length of one cycle in days, for spreading dates (not for billing)."""
    return WEEK_DAYS if cycle == C.WEEKLY else CYCLE_MONTHS[cycle] * 30
