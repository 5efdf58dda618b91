"""``{% querystring %}`` from ``{% load links %}`` (clientxcms/links.py) writes what Django's
built-in tag writes, for every kind of change a template asks of it."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.http import QueryDict
from django.template import Context, RequestContext, Template
from django.template.defaulttags import querystring as djangos_querystring
from django.test import RequestFactory
from django.urls import NoReverseMatch, clear_url_caches, resolve, reverse, set_script_prefix
from django.utils import translation

from clientxcms import links

QUERIES = [
    "",
    "status=active",
    "status=active&status=suspended&q=Dubois",
    "q=caf%C3%A9+cr%C3%A8me&sort=-expires&cursor=abc%3D%3D",
    "q=a%26b%3Dc%2Bd%25&empty=&per_page=50",
    "cursor=only",
]
CHANGES = [
    {},
    {"cursor": None},
    {"status": "pending", "cursor": None},
    {"sort": "-price", "cursor": None},
    {"per_page": 100, "cursor": None},
    {"status": ["active", "expired"]},
    {"status": []},
    {"format": "csv", "cursor": None, "per_page": None},
    {"q": "<script>&\"'é ☃"},
    {"missing": None},
]


def context_for(query: str) -> Context:
    return Context({"request": RequestFactory().get(f"/admin/services/?{query}")})


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("changes", CHANGES, ids=repr)
def test_it_writes_what_django_writes(query, changes):
    context = context_for(query)
    # Django's is a template tag function: the context is its request's.
    context.request = context["request"]

    assert links.querystring(context, **changes) == djangos_querystring(context, **changes)


@pytest.mark.parametrize("changes", CHANGES, ids=repr)
def test_a_query_dict_given_is_changed_as_django_changes_it(changes):
    context = context_for("ignored=1")
    context.request = context["request"]
    given = QueryDict("a=1&a=2&b=%C3%A9")

    ours = links.querystring(context, given, **changes)

    assert ours == djangos_querystring(context, given, **changes)
    assert given.urlencode() == "a=1&a=2&b=%C3%A9"  # left as it was


def test_it_never_changes_the_request_s_parameters():
    context = context_for("status=active&cursor=x")
    context.request = context["request"]

    links.querystring(context, status=["pending"], cursor=None, q="new")

    assert list(context.request.GET.lists()) == [("status", ["active"]), ("cursor", ["x"])]


@pytest.mark.parametrize(
    "tag",
    [
        "{% querystring %}",
        "{% querystring cursor=None %}",
        "{% querystring status='pending' per_page=size cursor=None %}",
        "{% querystring q=term %}",
        "{% querystring per_page=size as url %}[{{ url }}]",
    ],
)
def test_in_a_template_it_is_escaped_and_used_as_the_built_in(tag):
    request = RequestFactory().get("/admin/services/?status=active&q=a%26b&cursor=c")
    values = {"size": 50, "term": "<b>&"}

    ours = Template("{% load links %}" + tag).render(RequestContext(request, values))
    djangos = Template(tag).render(RequestContext(request, values))

    assert ours == djangos


def test_loading_links_puts_it_in_the_built_in_s_place():
    loaded = Template("{% load links %}{% querystring cursor=None %}").nodelist[-1]
    built_in = Template("{% querystring cursor=None %}").nodelist[-1]

    assert loaded.func is links.querystring
    assert built_in.func is djangos_querystring


def test_the_templates_that_write_query_strings_load_it():
    """Each template with a ``{% querystring %}`` loads ``links`` (else Django's, slower,
    would write its links)."""
    from pathlib import Path

    from django.conf import settings

    folders = [Path(folder) for folder in settings.TEMPLATES[0]["DIRS"]]
    using = [
        path
        for folder in folders
        for path in folder.rglob("*.html")
        if "{% querystring" in path.read_text()
    ]
    assert using, "no template writes a query string: this test looks in the wrong place"
    loads_links = re.compile(r"{%\s*load\s[^%]*\blinks\b[^%]*%}")
    for path in using:
        before_first_use = path.read_text().split("{% querystring")[0]
        assert loads_links.search(before_first_use), path


# Keyset pages ------------------------------------------------------------------------------


def page_of(number: int, *, previous: bool, following: bool) -> SimpleNamespace:
    return SimpleNamespace(
        number=number,
        has_previous=previous,
        has_next=following,
        previous_cursor="p.prev" if previous else None,
        next_cursor="n.next" if following else None,
    )


def pages_html(page: SimpleNamespace, target: str = "", query: str = "status=active&cursor=c"):
    request = RequestFactory().get(f"/admin/services/?{query}")
    return links.keyset_pages(RequestContext(request), page, target)


def test_a_lone_page_has_no_page_links():
    assert pages_html(page_of(1, previous=False, following=False)) == ""


def test_a_middle_page_links_first_previous_and_next_keeping_the_filters():
    written = pages_html(page_of(3, previous=True, following=True))

    assert re.findall(r'href="([^"]*)" rel="(\w+)"', written) == [
        ("?status=active", "first"),
        ("?status=active&amp;cursor=p.prev", "prev"),
        ("?status=active&amp;cursor=n.next", "next"),
    ]
    assert '<span class="page-link">Page 3</span>' in written
    assert 'aria-current="page"' in written
    assert "disabled" not in written
    assert "hx-get" not in written


def test_the_first_page_disables_first_and_previous_and_the_last_disables_next():
    first = pages_html(page_of(1, previous=False, following=True))
    last = pages_html(page_of(4, previous=True, following=False))

    assert re.findall(r'rel="(\w+)"', first) == ["next"]
    assert first.count('class="page-item disabled"') == 2
    assert re.findall(r'rel="(\w+)"', last) == ["first", "prev"]
    assert last.count('class="page-item disabled"') == 1
    assert "Next" in last.split('class="page-item disabled"')[1]


def test_with_a_target_each_link_is_followed_by_htmx_into_it():
    written = pages_html(page_of(2, previous=True, following=True), target="#service-results")

    assert written.count('hx-target="#service-results" hx-push-url="true"') == 3
    assert 'href="?status=active" rel="first" hx-get="?status=active"' in written


def test_the_links_read_in_the_page_s_language():
    with translation.override("fr"):
        written = pages_html(page_of(2, previous=True, following=True))

    assert "Début" in written
    assert "Précédent" in written
    assert "Suivant" in written
    assert 'aria-label="Pages"' in written


# URLs --------------------------------------------------------------------------------------


def render_both(source: str, request=None, **values) -> tuple[str, str]:
    """``source`` rendered with the kept ``{% url %}`` and with Django's."""
    request = request or RequestFactory().get("/admin/services/")
    ours = Template("{% load links %}" + source).render(RequestContext(request, values))
    djangos = Template(source).render(RequestContext(request, values))
    return ours, djangos


@pytest.mark.parametrize(
    "source",
    [
        "{% url 'admin:service_list' %}",
        "{% url 'admin:service_detail' pk=7 %}",
        "{% url 'admin:service_detail' 7 %}",
        "{% url 'admin:service_list' as target %}[{{ target }}]",
        "{% url 'no-such-view' as target %}[{{ target }}]",
        "{% url name %}",
    ],
)
def test_the_kept_url_tag_writes_what_django_writes(source):
    ours, djangos = render_both(source, name="admin:service_export")

    assert ours == djangos


def test_an_unknown_url_without_as_is_still_an_error():
    with pytest.raises(NoReverseMatch):
        render_both("{% url 'no-such-view' %}")


def test_the_current_app_is_the_request_s_namespace_as_django_reads_it():
    request = RequestFactory().get("/admin/services/")
    request.resolver_match = resolve("/admin/services/")

    assert render_both("{% url 'admin:home' %}", request) == ("/admin/", "/admin/")


def test_a_url_without_arguments_is_reversed_once_per_script_prefix(monkeypatch):
    calls = []

    def counting(*args, **kwargs):
        calls.append(args)
        return reverse(*args, **kwargs)

    monkeypatch.setattr(links, "reverse", counting)
    clear_url_caches()  # a new resolver: nothing kept from other tests
    template = Template("{% load links %}{% url 'admin:bulk_list' %}")
    context = RequestContext(RequestFactory().get("/"))

    assert template.render(context) == template.render(context) == "/admin/services/bulk/history/"
    assert len(calls) == 1
    try:
        set_script_prefix("/panel/")
        assert template.render(context) == "/panel/admin/services/bulk/history/"
    finally:
        set_script_prefix("/")
    assert len(calls) == 2
    clear_url_caches()
    assert template.render(context) == "/admin/services/bulk/history/"
    assert len(calls) == 3
