"""Customers' VAT numbers and legal identifiers: read, checked, and trusted (issue 17, point 3).

Three steps, each in one place:

1. **When a number is entered** (the client-area profile, the staff customer form),
   ``normalise`` compacts it (no spaces, dots or dashes; upper case), adds the country's
   prefix when it was left out, and checks its format and check digit with python-stdnum
   (``stdnum.eu.vat``). A wrong number is refused in the form with the reason, and so is a
   number of another country than the customer's. Greece's VAT prefix is ``EL`` (not its
   ISO code ``GR``): either is read, ``EL`` is stored. Northern Ireland's ``XI`` numbers
   belong to customers in the United Kingdom.

   Numbers from outside the EU (GB, CH, NO, ...) are checked with python-stdnum's module
   for that country when it has one (``stdnum.gb.vat``, ``stdnum.ch.vat``,
   ``stdnum.no.mva``...) and kept in the form it gives (with the country prefix if one was
   typed); a country without one (the United States has no VAT) has its number kept as
   typed, compacted, and marked "not checked".
   No reverse charge rests on them (``billing.taxes`` applies it to EU customers only), so
   refusing what we cannot check would only stop a customer from printing their number.

2. **The optional VIES check** (the switch ``customers.vies_check``, off by default, that
   staff turn on at /admin/automation/settings/): a changed EU number is checked online by
   the task ``customers.tasks.check_vat_number``, queued once the change is committed
   (``queue_check``); staff can ask again from the customer's page. ``check_with_vies``
   stores the answer on the customer, with its date and why (``customers.vies``).

3. **Whether the number passes** (``number_passes``), which ``billing.taxes`` asks before
   the reverse charge: with VIES on, only a number VIES said is valid; with it off, any
   number whose format and check digit are right, unless VIES said it is invalid.

Legal identifiers (SIREN or SIRET) are checked for French customers (``normalise_legal_id``);
other countries' are kept as typed, compacted: their registers number companies too
differently for one rule.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from functools import partial
from typing import cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django_countries import countries
from stdnum import exceptions as stdnum_errors
from stdnum.eu import vat as eu_vat
from stdnum.fr import siren, siret
from stdnum.util import get_cc_module

from automation import options

from . import vies
from .choices import VatStatus
from .models import Customer

VIES_CHECK = "customers.vies_check"

#: Marks the texts shown to users and read at module level: translated when shown (lazy
#: strings held as ``str``).
_ = cast(Callable[[str], str], gettext_lazy)

#: The EU member states by ISO 3166 code (python-stdnum's list, with Greece as GR and
#: without Northern Ireland's XI, which is not a country).
EU_MEMBER_STATES = frozenset(
    ("GR" if code == "gr" else code.upper()) for code in eu_vat.MEMBER_STATES if code != "xi"
)
#: VAT prefixes that are not the ISO code of their country.
PREFIX_COUNTRY = {"EL": "GR", "XI": "GB"}

#: Why stdnum refused a number, said to the person who typed it.
REASONS: dict[type[stdnum_errors.ValidationError], str] = {
    stdnum_errors.InvalidChecksum: _("the check digit is wrong"),
    stdnum_errors.InvalidLength: _("it has the wrong number of characters"),
    stdnum_errors.InvalidFormat: _("it is not written the way this country's numbers are"),
    stdnum_errors.InvalidComponent: _("a part of it is not one this country's numbers use"),
}
ONLY_LETTERS_AND_DIGITS = _("Write the number with letters and digits only, e.g. DE123456789.")
NO_COUNTRY = _("Choose the country first: a VAT number is checked against its country's rules.")


def country_name(code: str) -> str:
    return str(countries.name(code)) or code


def vat_prefix(country: str) -> str:
    """The prefix of ``country``'s VAT numbers: its ISO code, except Greece's ``EL``."""
    return "EL" if country == "GR" else country


def compact(raw: str) -> str:
    """``raw`` without spaces and the usual separators, in upper case."""
    return re.sub(r"[\s.\-/,:]", "", raw or "").upper()


def stated_country(number: str) -> str | None:
    """The country a compacted number names with its first two letters, if they name one."""
    head = number[:2]
    if not head.isalpha():
        return None
    head = PREFIX_COUNTRY.get(head, head)
    return head if head in countries else None


def _reason(error: stdnum_errors.ValidationError) -> str:
    for kind, reason in REASONS.items():
        if isinstance(error, kind):
            return str(reason)
    return gettext("it cannot be read as one")


def _validate_for(number: str, country: str) -> str | None:
    """``number`` checked as a VAT number of ``country``, in its stored form; None when no
    check exists for that country. Raises stdnum's ``ValidationError``."""
    if country in EU_MEMBER_STATES:
        prefix = vat_prefix(country)
        if not number.startswith((prefix, country)):
            number = prefix + number
        return prefix + eu_vat.validate(number)[2:]
    if country == "GB" and number.startswith("XI"):
        return eu_vat.validate(number)
    module = get_cc_module(country, "vat")
    if module is None:
        return None
    checked = str(module.validate(number))
    # Some modules drop the country prefix (GB980780684 -> 980780684): keep it if typed.
    if number.startswith(country) and not checked.startswith(country):
        checked = country + checked
    return checked


def normalise(raw: str, country: str) -> str:
    """The VAT number ``raw`` of a customer in ``country`` as it is stored, or Django's
    ``ValidationError`` saying what is wrong with it (module docstring, step 1)."""
    number = compact(raw)
    if not number:
        return ""
    if not re.fullmatch(r"[A-Z0-9]{2,32}", number):
        raise ValidationError(ONLY_LETTERS_AND_DIGITS, code="vat_characters")
    if not country:
        raise ValidationError(NO_COUNTRY, code="vat_no_country")
    stated = stated_country(number)
    try:
        checked = _validate_for(number, country)
    except stdnum_errors.ValidationError as error:
        if stated is not None and stated != country:
            # Read as a number of the customer's country it fails, and it names another.
            raise ValidationError(
                gettext(
                    "This VAT number is from %(stated)s, but the country given is "
                    "%(country)s: a business's VAT number is from its own country."
                )
                % {"stated": country_name(stated), "country": country_name(country)},
                code="vat_wrong_country",
            ) from error
        raise ValidationError(
            gettext("This is not a valid VAT number for %(country)s: %(reason)s.")
            % {"country": country_name(country), "reason": _reason(error)},
            code="vat_invalid",
        ) from error
    return number if checked is None else checked


def format_check(number: str, country: str) -> bool | None:
    """Whether ``number`` passes the format and check-digit test of ``country``; None when
    no such test exists for that country."""
    try:
        return _validate_for(compact(number), country) is not None or None
    except stdnum_errors.ValidationError:
        return False


def is_valid(number: str, country: str) -> bool:
    """Whether ``number`` passes the format and check-digit test of ``country``."""
    return format_check(number, country) is True


def normalise_legal_id(raw: str, country: str) -> str:
    """A legal identifier as stored: a French one must be a SIREN (9 digits) or a SIRET
    (14) with a right check digit; others are kept as typed, compacted."""
    number = compact(raw)
    if not number:
        return ""
    if not re.fullmatch(r"[A-Z0-9]{1,32}", number):
        raise ValidationError(
            gettext("Write the identifier with letters and digits only."),
            code="legal_id_characters",
        )
    if country != "FR":
        return number
    module = siret if len(number) == 14 else siren
    try:
        return str(module.validate(number))
    except stdnum_errors.ValidationError as error:
        raise ValidationError(
            gettext("This is not a valid SIREN (9 digits) or SIRET (14 digits): %(reason)s.")
            % {"reason": _reason(error)},
            code="legal_id_invalid",
        ) from error


# Status ----------------------------------------------------------------------------------


def when(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def vies_enabled() -> bool:
    return bool(options.get(VIES_CHECK))


def in_vies(customer: Customer) -> bool:
    """Whether VIES knows numbers like the customer's: EU ones, and Northern Ireland's."""
    number = customer.vat_number
    return bool(number) and (str(customer.country) in EU_MEMBER_STATES or number.startswith("XI"))


def reset_status(customer: Customer) -> None:
    """Set the status for the number ``customer`` now has (not saved): what its format
    check found, nothing of VIES yet. Called by the forms when the number or the country
    changed."""
    now = timezone.now()
    number, country = customer.vat_number, str(customer.country)
    customer.vat_checked_number = number
    customer.vat_registered_name = customer.vat_registered_address = ""
    customer.vat_checked_at = now if number else None
    passed = format_check(number, country) if number else None
    if not number:
        customer.vat_status, customer.vat_check_message = VatStatus.UNCHECKED, ""
    elif passed:
        customer.vat_status = VatStatus.FORMAT_VALID
        customer.vat_check_message = (
            f"Format and check digit valid for {country_name(country)} on {when(now)}."
        )
    elif passed is False:
        customer.vat_status = VatStatus.UNCHECKED
        customer.vat_check_message = (
            f"Not a valid VAT number for {country_name(country) or 'no country'}: "
            "no reverse charge."
        )
    else:
        customer.vat_status = VatStatus.UNCHECKED
        customer.vat_check_message = (
            f"No check exists for VAT numbers of {country_name(country) or 'no country'}: "
            "kept as given."
        )


def queue_check(customer: Customer, *, force: bool = False) -> bool:
    """Queue the VIES check of the customer's number once the transaction commits, when
    the switch is on (or ``force``: staff asked) and VIES knows such numbers."""
    if not in_vies(customer) or not (force or vies_enabled()):
        return False
    from .tasks import check_vat_number  # the task calls back into this module

    transaction.on_commit(partial(check_vat_number.delay, customer.pk, customer.vat_number))
    return True


def check_with_vies(customer_id: int, number: str) -> VatStatus | None:
    """Ask VIES about ``number`` and store the answer on the customer; None when the
    customer no longer has that number (changed since the check was queued).

    The call is made holding nothing; the answer is stored only if the number is still the
    same (a compare-and-set), so a slow answer about an old number never overwrites the
    status of a new one.
    """
    customer = Customer.objects.filter(pk=customer_id, vat_number=number).first()
    if customer is None or not in_vies(customer):
        return None
    answer = vies.check(number[:2], number[2:])
    now = timezone.now()
    if answer.status == VatStatus.VIES_VALID:
        message = f"Valid in VIES on {when(now)}."
    elif answer.status == VatStatus.VIES_INVALID:
        message = (
            f"VIES said on {when(now)} that this number is not valid ({answer.reason}): "
            "no reverse charge, VAT charged."
        )
    elif vies_enabled():
        message = f"VIES unavailable on {when(now)}: {answer.reason}; VAT charged."
    else:
        message = (
            f"VIES unavailable on {when(now)}: {answer.reason}. The VIES check is off and "
            "the format is valid: reverse charge applies."
        )
    updated = Customer.objects.filter(pk=customer_id, vat_number=number).update(
        vat_status=answer.status,
        vat_checked_number=number,
        vat_checked_at=now,
        vat_check_message=message[:300],
        vat_registered_name=answer.name,
        vat_registered_address=answer.address,
    )
    return answer.status if updated else None


def number_passes(customer: Customer) -> bool:
    """Whether the reverse charge may rest on the customer's VAT number (step 3): with the
    VIES check on, only a number VIES said is valid; with it off, a number whose format and
    check digit are right for the customer's country, unless VIES said it is invalid."""
    if not customer.vat_number:
        return False
    status = customer.current_vat_status
    if status == VatStatus.VIES_INVALID:
        return False
    if vies_enabled():
        return status == VatStatus.VIES_VALID
    return is_valid(customer.vat_number, str(customer.country))


def register() -> None:
    """Register the VIES switch with ``automation`` (from ``CustomersConfig.ready``)."""
    options.register(
        options.Option(
            key=VIES_CHECK,
            label=_("Check VAT numbers with VIES"),
            help_text=_(
                "Ask the European Commission's VIES service whether each new EU VAT number "
                "is registered. On: the reverse charge applies only to numbers VIES said "
                "are valid (VAT is charged while VIES is unavailable). Off: a number whose "
                "format and check digit are right is enough."
            ),
            default=lambda: settings.VIES_CHECK,
            kind=options.Kind.SWITCH,
            group=_("Customers"),
        )
    )
