"""The contract every delivery module follows (DESIGN.md, "Delivery modules").

A module is a class registered under a key. It talks to one kind of server: creates,
suspends, unsuspends and terminates resources, optionally lists existing ones for
import, and declares the management tabs of a service. Every operation is idempotent
(suspending a suspended resource succeeds; ``create`` uses the service's uuid as its
external reference so a retry never makes a second resource) and reports failure by
raising ``ModuleError``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_lazy

if TYPE_CHECKING:
    from delivery.models import Server


class ModuleError(Exception):
    """A module operation failed; ``retryable`` says whether trying again may succeed,
    and ``retry_after`` how many seconds the panel asked to wait first (a 429's)."""

    def __init__(
        self, message: str, *, retryable: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass
class ModuleResult:
    """What a successful operation reports: the resource id, data to keep, a message."""

    external_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    #: The panel is still working on it (an install, a clone): the lifecycle follows the
    #: operation with ``DeliveryModule.follow`` from a Celery task until it is done.
    waiting: bool = False

    def as_dict(self) -> dict[str, Any]:
        """What the history keeps: the values set (``data`` not copied: the history's JSON
        is a copy already; ``dataclasses.asdict`` copied it deeply, for every service of a
        bulk action)."""
        values = {"external_id": self.external_id, "data": self.data, "message": self.message}
        return {key: value for key, value in values.items() if value not in (None, "", {})}


@dataclass(frozen=True)
class ImportableResource:
    """An existing resource on a server that a service can be linked to."""

    id: str
    label: str
    details: dict[str, Any] = field(default_factory=dict)


class Audience(StrEnum):
    STAFF = "staff"
    CUSTOMER = "customer"


@dataclass(frozen=True)
class TabAction:
    """A button of a tab that asks the panel to do something (start, reinstall, ...).

    ``run(service)`` calls the panel; the lifecycle runs it with no lock or transaction
    held and records it in the service's history (``lifecycle.run_panel_action``).
    ``confirm`` is the question asked first when data can be lost; ``permission`` is
    what staff need on top of the tab's own (customers only need to own the service).
    """

    key: str
    label: str
    run: Callable[[Any], ModuleResult] = field(compare=False)
    confirm: str = ""
    permission: str | None = None
    style: str = "secondary"


@dataclass(frozen=True)
class Tab:
    """A management tab of a service: rendered by ``template`` with ``context(service)``.

    ``context`` returns the template's own variables (``service`` and ``tab`` are always
    there). It is where a module calls its panel, so whatever it raises is shown as an
    error panel inside the tab rather than breaking the page.
    """

    key: str
    label: str
    template: str
    order: int = 100
    permission: str | None = None
    audiences: frozenset[Audience] = frozenset({Audience.STAFF, Audience.CUSTOMER})
    context: Callable[[Any], dict[str, Any]] | None = field(default=None, compare=False)
    actions: tuple[TabAction, ...] = ()

    def action(self, key: str) -> TabAction | None:
        return next((action for action in self.actions if action.key == key), None)


class DeliveryModule(ABC):
    """Base class of delivery modules; subclasses set ``key`` and ``label``."""

    key: ClassVar[str]
    label: ClassVar[str]
    #: Whether a service of this module must be placed on a server.
    requires_server: ClassVar[bool] = True
    #: Whether creating a service delivers it at once (False: staff deliver by hand).
    delivers_automatically: ClassVar[bool] = True
    #: Whether the operations call a panel over the network. When they do, the lifecycle
    #: claims the operation, calls the module with no lock or transaction held, and then
    #: finishes it; a module that calls nothing (``manual``) is run in one transaction.
    calls_panel: ClassVar[bool] = True
    #: Form of the server credentials, of the per-product configuration, and of the options
    #: staff give each service when creating it (kept in the service's ``module_data``).
    server_form: ClassVar[type[forms.Form] | None] = None
    product_form: ClassVar[type[forms.Form] | None] = None
    service_form: ClassVar[type[forms.Form] | None] = None

    # Operations on a service's resource. Each returns a ModuleResult or raises ModuleError.
    @abstractmethod
    def create(self, service: Any) -> ModuleResult: ...

    @abstractmethod
    def suspend(self, service: Any) -> ModuleResult: ...

    @abstractmethod
    def unsuspend(self, service: Any) -> ModuleResult: ...

    @abstractmethod
    def terminate(self, service: Any) -> ModuleResult: ...

    def on_renew(self, service: Any) -> ModuleResult:
        """Called after a renewal; most modules have nothing to do."""
        return ModuleResult()

    def follow(self, service: Any, action: str) -> ModuleResult:
        """Whether an operation that answered ``waiting`` (``action``: deliver, import, ...)
        has finished on the panel: ``waiting=True`` while it works, a ModuleError when it
        failed, anything else when it is done (its data is kept on the service)."""
        return ModuleResult()

    @abstractmethod
    def test_connection(self, server: Server) -> ModuleResult: ...

    # Import of existing resources, for modules that support it.
    supports_import: ClassVar[bool] = False

    def list_importable(self, server: Server) -> list[ImportableResource]:
        raise ModuleError(
            gettext("The %(module)s module cannot import existing resources.")
            % {"module": self.label}
        )

    def import_existing(self, service: Any, resource_id: str) -> ModuleResult:
        raise ModuleError(
            gettext("The %(module)s module cannot import existing resources.")
            % {"module": self.label}
        )

    def tabs(self, service: Any, audience: Audience) -> list[Tab]:
        """The management tabs of ``service`` for ``audience``, in any order."""
        return []

    #: Keys of ``module_data`` that name a resource to its owner, the first one set wins.
    reference_keys: ClassVar[tuple[str, ...]] = ("hostname", "domain", "ip", "address")
    #: Whether the resource id on the panel means something to the customer (a server
    #: number they see in the game panel). Off by default: the client pages keep the
    #: resource id for staff unless the module says it is the customer's reference too.
    external_id_is_reference: ClassVar[bool] = False

    def display_reference(self, service: Any) -> str:
        """What tells ``service`` apart from the customer's other services of the same
        product (its hostname, address or resource id), shown in the client tables; "" when
        the module knows none. Read from the row alone: no call to a panel, no query."""
        data = service.module_data if isinstance(service.module_data, dict) else {}
        for key in self.reference_keys:
            value = data.get(key)
            if isinstance(value, str | int) and str(value).strip():
                return str(value).strip()
        return str(service.external_id or "") if self.external_id_is_reference else ""

    def product_form_kwargs(self) -> dict[str, Any]:
        """What the staff product page gives this module's ``product_form`` besides its data:
        choices read from a panel, say. Only for the page a person fills in: a stored
        configuration is validated without it (``clean_product_config``), calling nothing."""
        return {}

    # Validation of configuration entered by staff.
    def clean_product_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return _clean_with(self.product_form, config, "module_config")

    def clean_server_credentials(self, credentials: dict[str, Any]) -> dict[str, Any]:
        return _clean_with(self.server_form, credentials, "credentials")

    def clean_service_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return _clean_with(self.service_form, options, "module_data")

    #: Why a custom service (no product) cannot be made, for ``service_product_config``.
    needs_product: ClassVar[str] = cast(
        str,
        gettext_lazy(
            "A resource is made from a product's configuration: this custom service has none. "
            "Import an existing one instead."
        ),
    )

    def service_product_config(self, service: Any) -> dict[str, Any]:
        """The configuration of the service's product, checked again by the product form
        when a resource is made: it may predate a change of the form. A custom service
        (no product) has none, nor does a product whose configuration no longer passes:
        both are refused with what to do."""
        if service.product is None:
            raise ModuleError(str(self.needs_product))
        try:
            return self.clean_product_config(dict(service.product.module_config or {}))
        except ValidationError as exc:
            raise ModuleError(
                gettext("The configuration of product %(product)s is invalid: %(errors)s")
                % {"product": service.product, "errors": " ".join(exc.messages)}
            ) from exc


def _clean_with(form_class: type[forms.Form] | None, data: dict[str, Any], field_name: str) -> dict:
    """Validate ``data`` with ``form_class``; no form means the module takes no settings."""
    if form_class is None:
        if data:
            raise ValidationError({field_name: gettext("This module takes no configuration.")})
        return {}
    form = form_class(data=data)
    if not form.is_valid():
        messages = [f"{name}: {' '.join(map(str, errors))}" for name, errors in form.errors.items()]
        raise ValidationError({field_name: messages})
    return form.cleaned_data
