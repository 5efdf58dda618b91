"""Finding customers by what staff type: a name, a company, an e-mail address or an id.

Customers own their search (DESIGN.md §3): the customer list's filter and the customer
picker of the service-creation page both read it from here.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from clientxcms.text import clean_search_term

from .models import Customer

#: How many customers one search returns: enough to pick from, never the whole table.
CUSTOMER_SEARCH_LIMIT = 20


def word_condition(word: str) -> Q:
    """Customers with ``word`` in one of their names, their company or their e-mail."""
    return (
        Q(first_name__icontains=word)
        | Q(last_name__icontains=word)
        | Q(company__icontains=word)
        | Q(user__email__icontains=word)
    )


def search_customers(query: str) -> QuerySet[Customer]:
    """Customers whose name, company or e-mail contains every word of ``query``, or its id.

    Bounded by ``CUSTOMER_SEARCH_LIMIT`` so that a search costs the same with a thousand
    customers as with a million.
    """
    customers = Customer.objects.select_related("user").order_by("last_name", "first_name", "id")
    query = clean_search_term(query)
    words = query.split()
    if not words:
        return customers[:CUSTOMER_SEARCH_LIMIT]
    condition = Q()
    for word in words:
        condition &= word_condition(word)
    digits = query.lstrip("#")
    # ASCII digits only: "²".isdigit() is true but int() refuses it.
    if digits.isascii() and digits.isdigit():
        condition |= Q(pk=int(digits))
    return customers.filter(condition)[:CUSTOMER_SEARCH_LIMIT]
