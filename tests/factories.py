"""factory-boy factories for every model; tests build what they need from these."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from billing.models import CompanyProfile
from customers.models import Customer, User
from delivery.models import Server
from products.choices import BillingCycle
from products.models import Product, ProductPrice
from services.choices import ServiceStatus
from services.models import Service

DEFAULT_PASSWORD = "correct horse battery staple"

#: The seller of the tests: a French company with every detail its Factur-X (EN 16931)
#: invoices need (issue 17), so that invoices issue; a test about a missing detail blanks it.
#: No bank details: the tests of the bank transfer gateway set them.
COMPANY = {
    "name": "Hosting SAS",
    "address": "1 rue du Serveur\n75001 Paris",
    "country": "FR",
    "vat_number": "FR11123456782",
    "legal_identifier": "123456782",
    "legal_identifier_scheme": "0002",
    "email": "billing@hosting.example",
}
#: Its bank details (an e-invoice needs none: the payment means are optional).
BANK_DETAILS = "IBAN FR76 3000 6000 0112 3456 7890 189 · BIC AGRIFRPP"


def complete_company(**fields: object) -> CompanyProfile:
    """The company profile filled in as ``COMPANY`` (with ``fields`` over it), saved."""
    profile = CompanyProfile.current()
    for name, value in {**COMPANY, **fields}.items():
        setattr(profile, name, value)
    profile.save()
    return profile


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def save_password(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()  # type: ignore[attr-defined]  # self is the User built, not the factory


class StaffFactory(UserFactory):
    email = factory.Sequence(lambda n: f"staff{n}@example.com")
    is_staff = True


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    user = factory.SubFactory(UserFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    country = "FR"


class ServerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Server

    name = factory.Sequence(lambda n: f"node{n}")
    module = "manual"
    hostname = factory.Sequence(lambda n: f"node{n}.example.net")
    credentials: factory.declarations.BaseDeclaration = factory.LazyFunction(dict)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    module = "manual"


class ProductPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductPrice

    product = factory.SubFactory(ProductFactory)
    cycle = BillingCycle.MONTHLY
    price = Decimal("9.99")


class ServiceFactory(factory.django.DjangoModelFactory):
    """A service row as stored; use the lifecycle to move it between statuses."""

    class Meta:
        model = Service

    name = factory.Sequence(lambda n: f"Service {n}")
    customer = factory.SubFactory(CustomerFactory)
    product = factory.SubFactory(ProductFactory)
    module = factory.LazyAttribute(lambda o: o.product.module if o.product else "manual")
    status = ServiceStatus.PENDING
    price = Decimal("9.99")
    initial_price = Decimal("9.99")
    billing_cycle = BillingCycle.MONTHLY
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))


class FakeServerFactory(ServerFactory):
    """A server of the test module; ``fail="create,suspend"`` makes those operations raise
    an error that is not retryable, ``fail_retryable="suspend"`` one that is."""

    class Params:
        fail = ""
        fail_retryable = ""

    module = "test"
    credentials = factory.LazyAttribute(
        lambda o: {
            "api_key": "secret-api-key-123",
            "fail": o.fail,
            "fail_retryable": o.fail_retryable,
        }
    )
