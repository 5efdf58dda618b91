"""Template helpers of the staff service list.

The list is the page staff open most, and at a million services its SQL takes a few
milliseconds: what it costs is Python, most of it the template engine (docs/performance.md,
"The anchor"). The helpers here write the same HTML as the template code they replace,
in plain Python:

* ``service_rows``: the table's rows, as Django's own admin writes its changelist rows
  (``items_for_result``). In the template language each row cost about half a
  millisecond: two ``{% url %}``, three ``{% blocktranslate %}``, an ``{% include %}`` and
  some twenty variable lookups, filters and ``get_FOO_display`` calls.
* ``status_tabs`` and ``sort_headers``: the tabs and the column headers, each a link made
  by ``querystring`` (``clientxcms.links``); in the template language, 40 microseconds a tab.
* ``render_widget``: a filter form's widget, from the context Django's widget builds
  (``Widget.get_context``: the same attributes, values and options, errors and ARIA
  included), written without rendering Django's widget templates (``input.html``,
  ``select.html``, an ``attrs.html`` include per option): the list's 14 widgets took a
  third of the page's rendering. Any other widget falls back to Django's rendering.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.forms.boundfield import BoundField, BoundWidget
from django.urls import reverse
from django.utils import dateformat, numberformat, timezone
from django.utils.formats import get_format, localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from clientxcms.links import querystring
from customers.models import full_name
from products.choices import BillingCycle
from services.choices import STATUS_BADGES, ServiceStatus

register = template.Library()


@register.simple_tag
def days_left(expires_at: dt.datetime | None) -> SafeString | str:
    """ "in 12 days", "today" or "3 days ago", counted in calendar days of the local zone.

    Calendar days rather than 24-hour periods, so that a service expiring tomorrow
    morning reads "in 1 day" in the evening as staff expect.
    """
    if expires_at is None:
        return ""
    return _days_left(timezone.localdate(expires_at), timezone.localdate())


def _days_left(day: dt.date, today: dt.date) -> SafeString:
    # An f-string rather than format_html: the rows write some twenty of these a page.
    days = (day - today).days
    if days == 0:
        css, text = "text-warning-emphasis", _("today")
    elif days < 0:
        css = "text-danger"
        text = ngettext("%(count)s day ago", "%(count)s days ago", -days) % {"count": -days}
    else:
        css = "text-warning-emphasis" if days <= 7 else "text-body-secondary"
        text = ngettext("in %(count)s day", "in %(count)s days", days) % {"count": days}
    return mark_safe(f'<span class="{css}">{_escape(text)}</span>')  # noqa: S308 - escaped


# The rows ---------------------------------------------------------------------------------

#: A service id no database reaches: the detail URL is reversed once with it, then each
#: row's id is put in its place.
_URL_SENTINEL = 987654321987654321


def _detail_url(context: template.Context) -> Any:
    """``pk -> the service's detail URL``, as ``{% url 'admin:service_detail' pk=pk %}``
    gives it (the same current app), reversing once per page rather than once per row."""
    request = context.get("request")
    current_app = None
    if request is not None:
        current_app = getattr(request, "current_app", None)
        if current_app is None and request.resolver_match is not None:
            current_app = request.resolver_match.namespace

    def url(pk: int) -> str:
        return reverse("admin:service_detail", kwargs={"pk": pk}, current_app=current_app)

    sample = url(_URL_SENTINEL)
    parts = sample.split(str(_URL_SENTINEL))
    if len(parts) != 2:
        return url
    before, after = (conditional_escape(part) for part in parts)
    return lambda pk: f"{before}{pk}{after}"


def _escape(value: Any) -> str:
    """``conditional_escape`` without its wrappers (a few microseconds a value, a dozen
    values a row): ``value`` as HTML, escaped unless it is already safe.

    Plain text is told apart first by its type: asking it for ``__html__`` raises and
    formats an AttributeError inside ``hasattr``, which cost more than the escaping."""
    if type(value) is str:
        return html.escape(value)
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(str(value))


#: The characters ``django.utils.dateformat`` formats (unless escaped with a backslash),
#: and those of them that read only the day, not the time or the time zone.
_FORMAT_CHARACTERS = frozenset("aAbcdDeEfFgGhHiIjlLmMnNoOPrsStTuUwWyYzZ")
_DAY_CHARACTERS = frozenset("bdDEFjlLmMnNoStwWyYz")


def _reads_only_the_day(date_format: str) -> bool:
    escaped = False
    for character in date_format:
        if escaped:
            escaped = False
        elif character == "\\":
            escaped = True
        elif character in _FORMAT_CHARACTERS and character not in _DAY_CHARACTERS:
            return False
    return True


@functools.lru_cache(maxsize=4096)
def _format_day(day: dt.date, date_format: str, language: str | None) -> str:
    """``day`` in ``date_format`` (month names in ``language``): the list shows a few
    thousand distinct days at most, and Django takes some 15 microseconds to format one."""
    return dateformat.format(day, date_format)


def _date_formatter(zone: dt.tzinfo) -> Callable[[dt.datetime], str]:
    """``value -> {{ value|date:"DATE_FORMAT" }}`` in the time zone ``zone``, the format and
    language looked up once for a page's rows; each day formatted once (``_format_day``)
    when the locale's format reads only the day, as every locale's ``DATE_FORMAT`` does."""
    date_format = get_format("DATE_FORMAT")
    if not _reads_only_the_day(date_format):
        return lambda value: dateformat.format(value.astimezone(zone), date_format)
    language = get_language()
    return lambda value: _format_day(value.astimezone(zone).date(), date_format, language)


def _status_badge(status: str, label: Any) -> str:
    """A status's badge in the rows: its colour, and its label."""
    colour = STATUS_BADGES.get(status) or "secondary"
    border = " border border-secondary-subtle" if colour == "light" else ""
    return (
        f'<span class="badge text-bg-{_escape(colour)}{border}" data-status="{_escape(status)}">'
        f"{_escape(label)}</span>"
    )


@dataclass(frozen=True)
class _RowTexts:
    """What the rows of a page say alike: badges, cycles and the catalogue's sentences."""

    badges: dict[str, str]
    cycles: dict[str, str]
    select: str
    view: str
    error_title: str
    error_label: str
    cancel_title: str
    cancel_label: str
    custom: str
    never: str


@functools.lru_cache(maxsize=16)
def _row_texts(language: str | None) -> _RowTexts:
    """The rows' texts in ``language``, the active one: written once per language for the
    life of the process, as Django reads its catalogues once (the 15 translations and 13
    badges and cycles were 0.1 ms of every page)."""
    esc = _escape
    return _RowTexts(
        badges={value: _status_badge(value, label) for value, label in ServiceStatus.choices},
        cycles={value: esc(label) for value, label in BillingCycle.choices},
        select=_("Select %(name)s"),
        view=_('View<span class="visually-hidden"> service #%(pk)s %(name)s</span>'),
        error_title=_("Delivery error: %(error)s"),
        error_label=esc(_("Delivery error")),
        cancel_title=_("Cancellation scheduled for %(date)s"),
        cancel_label=esc(_("Cancellation scheduled")),
        custom=esc(_("Custom service")),
        never=esc(_("Never")),
    )


def _number_formatter() -> Callable[[Any], str]:
    """``value -> localize(value)`` for a number, the locale's separators and grouping
    looked up once a page rather than three times a number."""
    language = get_language()
    separator, grouping, thousands = (
        get_format(name, language, use_l10n=True)
        for name in ("DECIMAL_SEPARATOR", "NUMBER_GROUPING", "THOUSAND_SEPARATOR")
    )
    return lambda value: numberformat.format(
        value, separator, None, grouping, thousands, use_l10n=True
    )


@register.simple_tag(takes_context=True)
def service_rows(context: template.Context, services: Iterable[Any], can_bulk: bool) -> SafeString:
    """The ``<tr>`` of each service of the list (``services/admin/_table.html``).

    Each service is a row of values named as the view's ``LIST_FIELDS``. Every value is
    escaped; the texts are the catalogue's.
    """
    esc = _escape
    detail_url = _detail_url(context)
    # What many rows share is written once: the texts, the currencies.
    texts = _row_texts(get_language())
    badges, cycles, select, view = texts.badges, texts.cycles, texts.select, texts.view
    error_title, error_label = texts.error_title, texts.error_label
    cancel_title, cancel_label = texts.cancel_title, texts.cancel_label
    custom, never = texts.custom, texts.never
    currency = functools.cache(esc)
    # The time zone read once, not once per date (a context variable each time).
    zone = timezone.get_current_timezone()
    today = timezone.localdate(timezone=zone)
    date = _date_formatter(zone)
    # Rows that expire the same day say the same "in N days".
    days_left = functools.cache(lambda day: _days_left(day, today))
    # And the same prices read the same.
    number = _number_formatter()
    price = functools.cache(lambda value: esc(number(value)))
    rows = []
    for service in services:
        pk = service["id"]
        name = esc(service["name"])
        url = detail_url(pk)
        checkbox = ""
        if can_bulk:
            label = select % {"name": name}
            checkbox = (
                f'<td class="checkbox-cell"><input class="form-check-input" type="checkbox" '
                f'name="ids" value="{pk}" aria-label="{label}"></td>'
            )
        flags = ""
        if service["last_delivery_error"]:
            error = esc(Truncator(service["last_delivery_error"]).chars(120))
            title = error_title % {"error": error}
            flags += (
                f'<i class="bi bi-exclamation-octagon-fill text-danger ms-1" title="{title}" '
                f'aria-label="{error_label}"></i>'
            )
        if service["cancel_at"]:
            title = cancel_title % {"date": esc(date(service["cancel_at"]))}
            flags += (
                f'<i class="bi bi-calendar-x text-warning-emphasis ms-1" title="{title}" '
                f'aria-label="{cancel_label}"></i>'
            )
        customer = full_name(service["customer__first_name"], service["customer__last_name"])
        product = service["product__name"]
        product_cell = (
            esc(product)
            if product is not None
            else f'<span class="text-body-secondary fst-italic">{custom}</span>'
        )
        server = service["server__name"]
        server_cell = (
            esc(server) if server is not None else '<span class="text-body-secondary">—</span>'
        )
        status = service["status"]
        badge = badges.get(status) or _status_badge(status, status)
        expires_at = service["expires_at"]
        if expires_at:
            expires = (
                f"{esc(date(expires_at))}"
                f'<div class="small">'
                f"{days_left(expires_at.astimezone(zone).date())}</div>"
            )
        else:
            expires = f'<span class="text-body-secondary">{never}</span>'
        cycle = service["billing_cycle"]
        rows.append(
            f'<tr data-service="{pk}">{checkbox}'
            f'<td class="text-body-secondary font-monospace small">#{pk}</td>'
            f'<td class="fw-semibold name-cell"><a href="{url}" class="link-body-emphasis '
            f'link-underline-opacity-0 link-underline-opacity-75-hover">{name}</a>{flags}</td>'
            f'<td class="customer-cell"><div>{esc(customer)}</div>'
            f'<div class="small text-body-secondary">{esc(service["customer__user__email"])}'
            f"</div></td>"
            f"<td>{product_cell}</td>"
            f"<td>{server_cell}</td>"
            f"<td>{badge}</td>"
            f'<td class="text-end text-nowrap">{price(service["price"])} '
            f"{currency(service['currency'])}"
            f'<div class="small text-body-secondary">{cycles.get(cycle) or esc(cycle)}</div></td>'
            f'<td class="text-nowrap">{expires}</td>'
            f'<td class="text-nowrap text-body-secondary small">{esc(date(service["created_at"]))}'
            f"</td>"
            f'<td class="text-end"><a href="{url}" class="btn btn-sm btn-outline-primary '
            f'text-nowrap" data-view-service>{view % {"pk": pk, "name": name}}</a></td>'
            f"</tr>"
        )
    return mark_safe("\n".join(rows))  # noqa: S308 - every value above is escaped


@register.simple_tag(takes_context=True)
def sort_headers(
    context: template.RequestContext,
    columns: dict[str, Any],
    sort: str,
    target: str = "",
    end: str = "",
) -> SafeString:
    """The ``<th>`` of each of ``columns`` (``services.filters.SORT_COLUMNS``), in order,
    each sorting the list by its key; ``end``: the key of the column aligned to the end.
    One tag for the row: nine tags, each resolving ``columns.<key>.label``, cost 0.3M
    more of a page's 32.8M instructions."""
    return mark_safe(  # noqa: S308 - sort_header escapes
        "\n".join(
            sort_header(context, key, column.label, sort, target, "end" if key == end else "")
            for key, column in columns.items()
        )
    )


def sort_header(
    context: template.RequestContext,
    key: str,
    label: Any,
    sort: str,
    target: str = "",
    align: str = "",
) -> SafeString:
    """A column's ``<th>`` that sorts the list by ``?sort=key``: a first click sorts
    ascending, a second descending, and the cursor is dropped (page one). ``target``: the
    element htmx swaps."""
    descending = f"-{key}"
    if sort == key:
        url = querystring(context, sort=descending, cursor=None)
        state, icon = ' aria-sort="ascending"', "bi-caret-up-fill"
    else:
        url = querystring(context, sort=key, cursor=None)
        state, icon = "", "bi-chevron-expand sort-idle"
        if sort == descending:
            state, icon = ' aria-sort="descending"', "bi-caret-down-fill"
    url = conditional_escape(url)
    css = f" text-{_escape(align)}" if align else ""
    active = " active" if state else ""
    htmx = ""
    if target:
        htmx = f' hx-get="{url}" hx-target="{_escape(target)}" hx-push-url="true"'
    return mark_safe(  # noqa: S308 - every value is escaped
        f'<th scope="col" class="text-nowrap{css}"{state}>'
        f'<a href="{url}" class="sort-link{active}"{htmx}>{_escape(label)} '
        f'<i class="bi {icon}" aria-hidden="true"></i></a></th>'
    )


@register.simple_tag(takes_context=True)
def status_tabs(context: template.RequestContext, tabs: Iterable[dict[str, Any]]) -> SafeString:
    """The status tabs' ``<li>`` (``services/admin/list.html``): each links to its status's
    first page, the other parameters kept, with its count. As template code, the seven
    tabs' ``{% querystring %}``, ``{% if %}`` and lookups cost 0.4 ms, here 0.28."""
    items = []
    for tab in tabs:
        status = tab["status"]
        url = conditional_escape(querystring(context, status=status, cursor=None))
        current, badge = "", "text-bg-light border"
        if tab["active"]:
            current, badge = ' active" aria-current="page', "text-bg-primary"
        items.append(
            f'<li class="nav-item"><a class="nav-link{current}" href="{url}" '
            f'data-status-tab="{_escape(status or "all")}">{_escape(tab["label"])} '
            f'<span class="badge rounded-pill {badge} ms-1">{_escape(intcomma(tab["count"]))}'
            f"</span></a></li>"
        )
    return mark_safe("\n".join(items))  # noqa: S308 - every value above is escaped


@register.simple_tag(takes_context=True)
def page_size_links(
    context: template.RequestContext, sizes: Iterable[int], current: int, target: str
) -> SafeString:
    """ "Per page: 25 50 100": the current size in bold, each other a link to the first page
    at that size, the other parameters kept, swapped into ``target`` by htmx. (As template
    code, a loop with a ``{% querystring %}`` per size: 0.4M of 30M instructions a page.)"""
    links = []
    for size in sizes:
        if size == current:
            links.append(f'<strong class="text-body">{size}</strong>')
            continue
        url = conditional_escape(querystring(context, per_page=size, cursor=None))
        links.append(
            f'<a href="{url}" hx-get="{url}" hx-target="{_escape(target)}" hx-push-url="true">'
            f"{size}</a>"
        )
    label = _escape(_("Per page:"))
    return mark_safe(f"{label} {' '.join(links)}")  # noqa: S308 - every value is escaped


# Widgets ----------------------------------------------------------------------------------

#: Django's widget templates that are ``input.html`` and nothing else.
_INPUT_TEMPLATES = frozenset(
    f"django/forms/widgets/{name}.html"
    for name in (
        "input",
        "text",
        "number",
        "email",
        "url",
        "search",
        "tel",
        "date",
        "datetime",
        "time",
        "hidden",
        "password",
        "checkbox",
    )
)
#: The templates of a check box or radio button among choices: ``input_option.html``,
#: which is ``input.html`` when the label is not wrapped around it (``BoundWidget.tag()``).
_CHOICE_INPUT_TEMPLATES = frozenset(
    f"django/forms/widgets/{name}_option.html" for name in ("checkbox", "radio", "input")
)
_SELECT_TEMPLATE = "django/forms/widgets/select.html"
_OPTION_TEMPLATE = "django/forms/widgets/select_option.html"


def _text(value: Any) -> str:
    """``{{ value }}`` in a widget template: localized, escaped unless already safe."""
    return _escape(localize(value))


#: ``{{ value|stringformat:'s' }}``: as text, escaped unless already safe.
_attribute = _escape


def _attrs(attrs: dict[str, Any]) -> str:
    """``django/forms/widgets/attrs.html``."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            parts.append(f" {_text(name)}")
        else:
            parts.append(f' {_text(name)}="{_attribute(value)}"')
    return "".join(parts)


def _input(widget: dict[str, Any]) -> str:
    """``django/forms/widgets/input.html``."""
    value = widget["value"]
    shown = f' value="{_attribute(value)}"' if value is not None else ""
    return (
        f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"'
        f"{shown}{_attrs(widget['attrs'])}>"
    )


def _select(widget: dict[str, Any]) -> str | None:
    """``django/forms/widgets/select.html``; None if an option has a template of its own."""
    parts = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in group_choices:
            if option["template_name"] != _OPTION_TEMPLATE:
                return None
            parts.append(
                f'\n  <option value="{_attribute(option["value"])}"{_attrs(option["attrs"])}>'
                f"{_text(option['label'])}</option>\n"  # select_option.html's last line
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


@register.simple_tag
def filter_cell(field: BoundField) -> SafeString:
    """One filter of the list's panel in its grid cell: label, widget and help text."""
    help_text = ""
    if field.help_text:
        help_text = (
            f'<div class="form-text" id="{_escape(field.auto_id)}_helptext">'
            f"{_escape(field.help_text)}</div>"
        )
    return mark_safe(  # noqa: S308 - every value is escaped
        f'<div class="col-sm-6 col-lg-3"><label class="form-label small fw-semibold" '
        f'for="{_escape(field.id_for_label)}">{_escape(field.label)}</label>'
        f"{render_widget(field)}{help_text}</div>"
    )


@register.simple_tag
def inline_checkboxes(field: BoundField) -> SafeString:
    """Each choice of ``field`` as an inline check box and its label, as the template's
    ``{% for checkbox in field %}`` loop wrote them with ``render_widget`` (the list's
    statuses: 1.4M of 33M instructions of a page as template code)."""
    boxes = [
        f'<div class="form-check form-check-inline">{render_widget(checkbox)}'
        f'<label class="form-check-label" for="{_escape(checkbox.id_for_label)}">'
        f"{_escape(checkbox.choice_label)}</label></div>"
        for checkbox in field
    ]
    # One per line, as the loop wrote them: the space between inline boxes is their gap.
    return mark_safe("\n".join(boxes))  # noqa: S308 - every value is escaped


@register.simple_tag
def render_widget(field: BoundField | BoundWidget) -> SafeString:
    """``{{ field }}`` of a bound field, or ``{{ checkbox.tag }}`` of one of its choices:
    the same HTML, written in Python for the widgets above, Django's rendering otherwise.
    """
    if isinstance(field, BoundWidget):
        if field.template_name in _CHOICE_INPUT_TEMPLATES:
            # ``tag()`` renders the choice without its label: input.html.
            return mark_safe(_input(field.data))  # noqa: S308 - escaped by _input
        return field.tag()
    widget = field.field.widget
    if widget.template_name not in _INPUT_TEMPLATES and widget.template_name != _SELECT_TEMPLATE:
        return field.as_widget()
    # What BoundField.as_widget() does before it renders the widget's template.
    if field.field.localize:
        widget.is_localized = True
    attrs = field.build_widget_attrs({}, widget)
    if field.auto_id and "id" not in widget.attrs:
        attrs.setdefault("id", field.auto_id)
    context = widget.get_context(field.html_name, field.value(), attrs)["widget"]
    if context["template_name"] in _INPUT_TEMPLATES:
        return mark_safe(_input(context))  # noqa: S308 - escaped by _input
    select = _select(context)
    if select is None:
        return field.as_widget()
    return mark_safe(select)  # noqa: S308 - escaped by _select
