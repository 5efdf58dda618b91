"""Links that keep the list's parameters: ``{% querystring %}`` and keyset pages' links.

``{% querystring %}`` is written as Django writes it, without copying the request's
parameters.

Django's tag (``django.template.defaulttags.querystring``) deep-copies the ``QueryDict``
and encodes every parameter again for each link it writes: about 17 microseconds a
link, and the staff service list writes some twenty (status tabs, sort headers, page
sizes, pages, export). This one reads the parameters as they are, changes a plain dict
of lists and encodes once. For what templates give it (text, numbers, lists of them,
``None``), its output is Django's, character for character: tests/test_links.py holds the
two side by side.

Templates get it with ``{% load links %}``, which puts it in the place of the built-in
tag of the same name (a library loaded by name wins over the built-ins); Python code
calls ``querystring`` directly.

``{% keyset_pages page %}``: the first, previous and next links of a keyset page.

``{% url %}``, in the built-in's place too, keeps each URL it reverses without arguments:
Django reverses it on every render, 50 to 150 thousand instructions each, and a staff list
page writes a dozen (the layout's links, the list's actions, its forms' targets).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from django import template
from django.http import QueryDict
from django.template import Context, RequestContext
from django.template.base import Parser, Token
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url
from django.urls import (
    NoReverseMatch,
    URLResolver,
    get_resolver,
    get_script_prefix,
    get_urlconf,
    reverse,
)
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag(takes_context=True)
def querystring(context: RequestContext, query_dict: QueryDict | None = None, **kwargs: Any) -> str:
    """The query string of ``query_dict`` (the request's by default) with ``kwargs`` set:
    a value replaces, a list of values replaces with each, ``None`` removes."""
    if query_dict is None:
        query_dict = context.request.GET
    params = dict(query_dict.lists())
    for key, value in kwargs.items():
        if value is None:
            params.pop(key, None)
        elif isinstance(value, Iterable) and not isinstance(value, str):
            params[key] = list(value)
        else:
            params[key] = [value]
    if not params and not query_dict:
        return ""
    return "?" + urlencode([(key, value) for key, values in params.items() for value in values])


@register.simple_tag(takes_context=True)
def keyset_pages(context: RequestContext, page: Any, target: str = "") -> SafeString:
    """First, previous and next links of ``page`` (``services.pagination.KeysetPage``,
    ``delivery.callpages.CallPage``), with no page count: counting every row is what keyset
    pages avoid. Nothing when it is the only page. ``target``: the CSS selector of the
    element htmx swaps, if any.

    Written in Python rather than as an included template, which cost the staff list 0.7M
    of its 32M instructions a page.
    """
    if not (page.has_previous or page.has_next):
        return mark_safe("")

    def link(cursor: str | None, rel: str, text: str) -> str:
        url = conditional_escape(querystring(context, cursor=cursor))
        htmx = ""
        if target:
            htmx = f' hx-get="{url}" hx-target="{conditional_escape(target)}" hx-push-url="true"'
        return (
            f'<li class="page-item"><a class="page-link" href="{url}" rel="{rel}"{htmx}>'
            f"{text}</a></li>"
        )

    def disabled(text: str) -> str:
        return f'<li class="page-item disabled"><span class="page-link">{text}</span></li>'

    # Translated outside the f-strings, where makemessages finds them.
    texts = {"first": _("First"), "previous": _("Previous"), "next": _("Next")}
    escaped = {name: conditional_escape(text) for name, text in texts.items()}
    first = f'<i class="bi bi-chevron-double-left" aria-hidden="true"></i> {escaped["first"]}'
    previous = f'<i class="bi bi-chevron-left" aria-hidden="true"></i> {escaped["previous"]}'
    following = f'{escaped["next"]} <i class="bi bi-chevron-right" aria-hidden="true"></i>'
    number = _("Page %(number)s") % {"number": localize(page.number)}
    pages = _("Pages")
    items = (
        [link(None, "first", first), link(page.previous_cursor, "prev", previous)]
        if page.has_previous
        else [disabled(first), disabled(previous)]
    )
    items.append(
        f'<li class="page-item active" aria-current="page"><span class="page-link">'
        f"{conditional_escape(number)}</span></li>"
    )
    items.append(
        link(page.next_cursor, "next", following) if page.has_next else disabled(following)
    )
    return mark_safe(  # noqa: S308 - every value is escaped
        f'<nav aria-label="{conditional_escape(pages)}">'
        f'<ul class="pagination pagination-sm mb-0">{"".join(items)}</ul></nav>'
    )


# URLs --------------------------------------------------------------------------------------

#: Each URL configuration's URLs reversed without arguments, by view name, current app,
#: script prefix and language: as many as the templates name. Keyed by the resolver, which
#: Django replaces when the URLs change (``clear_url_caches``), so that a changed
#: configuration is never answered from an old one.
_kept: weakref.WeakKeyDictionary[URLResolver, dict[tuple[Any, ...], str]] = (
    weakref.WeakKeyDictionary()
)


def kept_reverse(view_name: str, current_app: str | None) -> str:
    """``reverse(view_name, current_app=current_app)``, reversed once and then kept."""
    urls = _kept.setdefault(get_resolver(get_urlconf()), {})
    key = (view_name, current_app, get_script_prefix(), get_language())
    url = urls.get(key)
    if url is None:
        url = urls[key] = reverse(view_name, current_app=current_app)
    return url


class KeptURLNode(URLNode):
    """``{% url %}``: Django's, except that a URL without arguments is reversed once."""

    def render(self, context: Context) -> str:
        if self.args or self.kwargs:
            return str(super().render(context))
        url = ""
        try:
            url = kept_reverse(self.view_name.resolve(context), _current_app(context))
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


def _current_app(context: Any) -> Any:
    """The current app as Django's ``{% url %}`` reads it: the request's, else its URL's
    namespace."""
    try:
        return context.request.current_app
    except AttributeError:
        try:
            return context.request.resolver_match.namespace
        except AttributeError:
            return None


@register.tag
def url(parser: Parser, token: Token) -> KeptURLNode:
    """``{% url 'name' args... [as var] %}``, parsed as Django parses it."""
    node = django_url(parser, token)
    return KeptURLNode(node.view_name, node.args, node.kwargs, node.asvar)
