"""``manage.py seed_demo``: load the demo data once, add bench rows on demand, print logins.

``make run`` calls it on every start, so a second run adds nothing and only prints the
logins again. The data itself is built in ``demo.seed``, ``demo.billing``,
``demo.pterodactyl`` (the game panel, when its fake panel answers), ``demo.proxmox`` (the
VPS node, when its fake Proxmox VE answers) and ``demo.bench``.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo import bench, billing, catalogue, proxmox, pterodactyl, seed
from demo.panels import PanelSeed


class Command(BaseCommand):
    help = (
        "Load the demo data (staff and customer logins, products, servers, services, "
        "invoices) unless it is already there; --services N bulk-inserts N more services "
        "for benchmarks."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--services",
            type=int,
            default=0,
            metavar="N",
            help="Also bulk-insert N services, without history, for benchmarks.",
        )
        parser.add_argument(
            "--customers",
            type=int,
            metavar="M",
            help="Bulk-insert M customers with logins (default with --services: N / 20).",
        )
        parser.add_argument(
            "--pterodactyl-url",
            default=pterodactyl.demo_url(),
            metavar="URL",
            help="The (fake) Pterodactyl panel of the demo's game servers (default: "
            f"${pterodactyl.URL_VARIABLE}, else {catalogue.PTERODACTYL_URL}).",
        )
        parser.add_argument(
            "--pterodactyl-wait",
            type=float,
            default=0.0,
            metavar="SECONDS",
            help="Wait this long for that panel to answer (make run starts it just before).",
        )
        parser.add_argument(
            "--proxmox-url",
            default=proxmox.demo_url(),
            metavar="URL",
            help="The (fake) Proxmox VE node of the demo's VPS (default: "
            f"${proxmox.URL_VARIABLE}, else {catalogue.PROXMOX_URL}).",
        )
        parser.add_argument(
            "--proxmox-wait",
            type=float,
            default=0.0,
            metavar="SECONDS",
            help="Wait this long for that node to answer (make run starts it just before).",
        )

    def handle(
        self,
        *args: Any,
        services: int,
        customers: int | None,
        pterodactyl_url: str,
        pterodactyl_wait: float,
        proxmox_url: str,
        proxmox_wait: float,
        **options: Any,
    ) -> None:
        if customers is None:
            customers = max(services // 20, 1) if services else 0
        if services < 0 or customers < 0:
            raise CommandError("--services and --customers take a number of 0 or more.")
        if services and not customers:
            raise CommandError("Bench services need at least one bench customer (--customers).")

        self._seed_base()
        self._seed_billing()
        self._seed_pterodactyl(pterodactyl_url, pterodactyl_wait)
        self._seed_proxmox(proxmox_url, proxmox_wait)
        if services or customers:
            self._add_bench_data(services, customers)
        self._print_logins()
        self._print_totals()

    def _seed_base(self) -> None:
        if seed.demo_data_exists():
            self.stdout.write(
                f"Demo data already loaded ({catalogue.ADMIN.email} exists): skipped."
            )
            return
        started = time.perf_counter()
        seed.seed_base(note=lambda message: self.stdout.write(self.style.WARNING(message)))
        elapsed = time.perf_counter() - started
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded in {elapsed:.1f} s."))

    def _seed_billing(self) -> None:
        """Separate from the base seed, so that a database seeded before billing existed
        gets its invoices on the next ``make run``."""
        if billing.billing_data_exists():
            self.stdout.write("Billing demo data already loaded (invoices exist): skipped.")
            return
        billing.seed_billing(note=lambda message: self.stdout.write(self.style.WARNING(message)))
        self.stdout.write(self.style.SUCCESS("Billing demo data loaded."))

    def _seed_pterodactyl(self, url: str, wait: float) -> None:
        """The game panel's server, product and delivered service."""
        result = pterodactyl.seed_pterodactyl(url=url, wait=wait, note=self._warn)
        self._report_panel("Game panel", url, result, "the panel's other servers")

    def _seed_proxmox(self, url: str, wait: float) -> None:
        """The VPS node's server, product and delivered VPS."""
        result = proxmox.seed_proxmox(url=url, wait=wait, note=self._warn)
        self._report_panel("VPS node", url, result, "the node's other VMs")

    def _warn(self, message: str) -> None:
        self.stdout.write(self.style.WARNING(message))

    def _report_panel(
        self,
        what: str,
        url: str,
        result: PanelSeed,
        others: str,
    ) -> None:
        """What a panel's seeding did; skipped with a word when the panel is not there, as
        the rest of the demo does not need it."""
        if result.skipped:
            self._warn(f"{what} demo skipped: {result.skipped}")
            return
        if result.done:
            made = "; ".join(result.done)
            self.stdout.write(self.style.SUCCESS(f"{what} demo at {url}: {made}."))
        else:
            self.stdout.write(f"{what} demo already loaded ({url}).")
        if result.service is not None:
            service = result.service
            state = service.operation_label if service.operation else service.status
            self.stdout.write(
                f"  {service.name}: service #{service.pk} ({state}); the import page lists "
                f"{others}."
            )

    def _add_bench_data(self, services: int, customers: int) -> None:
        started = time.perf_counter()
        result = bench.add_bench_data(services, customers)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Added {result.services} bench services and {result.customers} bench "
                f"customers in {elapsed:.1f} s."
            )
        )

    def _print_logins(self) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING("\nLogins"))
        for login in catalogue.LOGINS:
            self.stdout.write(f"  {login.role:<9} {login.email} / {login.password}")
        others = ", ".join(person.email for person in catalogue.PEOPLE[1:])
        self.stdout.write(f"  (also {others} / {catalogue.CUSTOMER_PASSWORD})")

    def _print_totals(self) -> None:
        counts = ", ".join(f"{count} {name}" for name, count in seed.totals().items())
        self.stdout.write(f"\nIn the database: {counts}.")
