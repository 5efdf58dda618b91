"""Find the text of a template that is not marked for translation.

A page or an e-mail is translated only where its words go through ``{% translate %}``,
``{% blocktranslate %}`` or ``_("…")``: a word typed straight into the HTML stays English
on a French page. This module reads a template as Django's lexer does, replaces every
tag, variable and comment by a placeholder, and reports what is left that a reader sees:
the text between HTML tags, the attributes read aloud or shown (``title``, ``alt``,
``placeholder``, ``aria-label``…), and the quoted words handed to a tag (``{% include …
with title="Services" %}``) without ``_()``.

Words that are the same in every language (the product's name, the panels', acronyms)
are allowed by ``UNTRANSLATED_WORDS``. Run it on a folder to list what is left::

    .venv/bin/python -m tests.translation_check templates/services
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from django.template.base import Lexer, TokenType

#: Names and acronyms written the same in English and French.
UNTRANSLATED_WORDS = frozenset(
    {
        "ClientXCMS",
        "Pterodactyl",
        "Proxmox",
        "VE",
        "Stripe",
        "Factur-X",
        "CSV",
        "XLSX",
        "PDF",
        "XML",
        "JSON",
        "API",
        "URL",
        "HTTP",
        "HTTPS",
        "IP",
        "IPv4",
        "IPv6",
        "ID",
        "UUID",
        "IBAN",
        "BIC",
        "SIREN",
        "SIRET",
        "VIES",
        "TOTP",
        "CPU",
        "RAM",
        "MiB",
        "GiB",
        "MB",
        "GB",
        "vCPU",
        "SEPA",
        "EN",
        "FR",
        "OK",
        "Celery",
        "Redis",
        "PostgreSQL",
        "SQLite",
    }
)

#: Attributes whose value a reader sees or hears.
READ_ATTRIBUTES = frozenset(
    {"title", "alt", "placeholder", "aria-label", "aria-description", "aria-roledescription"}
)

#: Stands for a tag, a variable or a comment: not text a translator could see.
PLACEHOLDER = "\ue000"
WORD = re.compile(r"[^\W\d_][\w'’.-]*", re.UNICODE)
#: Quoted words in a tag: ``title="Services"``. ``_("Services")`` is marked.
TAG_LITERAL = re.compile(r"""(?<![\w(])(["'])([A-Z][a-z][^"']*)\1""")
#: Tags whose quoted arguments are names (of templates, URLs, libraries), not text.
NAME_TAGS = frozenset({"extends", "load", "url", "static", "include", "cycle", "now", "firstof"})
#: Blocks whose content is not a page's text: a translator sees it through their tag.
SKIPPED_BLOCKS = {"blocktranslate": "endblocktranslate", "blocktrans": "endblocktrans"}
SKIPPED_BLOCKS |= {"comment": "endcomment", "verbatim": "endverbatim"}
#: Template blocks that hold a CSS class or an icon's name, never text.
NAME_BLOCKS = frozenset({"body_class", "icon"})


@dataclass(frozen=True)
class Untranslated:
    """A piece of text nobody translates: where it is and what it says."""

    path: Path
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text!r}"


def needs_translation(text: str) -> bool:
    """Whether ``text`` holds a word that differs between languages."""
    words = WORD.findall(text.replace(PLACEHOLDER, " "))
    return any(word.strip(".'’-") not in UNTRANSLATED_WORDS for word in words)


def _literals_in_tag(contents: str) -> Iterator[str]:
    """The unmarked, sentence-like quoted strings of a tag's contents."""
    name, _, rest = contents.partition(" ")
    if name in ("translate", "trans"):
        return
    if name in NAME_TAGS:
        # The first argument is a name; only ``with x="…"`` arguments may be text.
        rest = rest.partition(" with ")[2] if name == "include" else ""
    for match in TAG_LITERAL.finditer(rest):
        if needs_translation(match.group(2)):
            yield match.group(2)


class _TextCollector(HTMLParser):
    """Collects the data and the read attributes of an HTML document, with their line."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._raw_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._raw_depth += 1
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value and needs_translation(value):
                self.found.append((self.getpos()[0], value))
        if tag == "input" and dict(attrs).get("type") in ("submit", "button", "reset"):
            value = dict(attrs).get("value") or ""
            if needs_translation(value):
                self.found.append((self.getpos()[0], value))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._raw_depth:
            self._raw_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._raw_depth and needs_translation(data):
            self.found.append((self.getpos()[0], " ".join(data.split())))


def untranslated_in(path: Path) -> list[Untranslated]:
    """Every piece of unmarked text of the template at ``path``."""
    source = path.read_text(encoding="utf-8")
    visible: list[str] = []
    found: list[Untranslated] = []
    skip_until: str | None = None
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split(" ", 1)[0]
            if skip_until is not None:
                if name == skip_until:
                    skip_until = None
            elif name in SKIPPED_BLOCKS:
                skip_until = SKIPPED_BLOCKS[name]
            elif name == "block" and token.contents.split()[1] in NAME_BLOCKS:
                skip_until = "endblock"
            else:
                found += [
                    Untranslated(path, token.lineno or 0, text)
                    for text in _literals_in_tag(token.contents)
                ]
            visible.append(PLACEHOLDER)
        elif token.token_type == TokenType.TEXT and skip_until is None:
            visible.append(token.contents)
        else:
            # Django's tags and variables hold no newline; a skipped block's text keeps its
            # lines so that the lines reported after it stay right.
            visible.append(PLACEHOLDER + "\n" * token.contents.count("\n"))
    document = "".join(visible)
    if path.suffix == ".html":
        collector = _TextCollector()
        collector.feed(document)
        collector.close()
        found += [Untranslated(path, line, text) for line, text in collector.found]
    else:
        for number, line in enumerate(document.splitlines(), start=1):
            if needs_translation(line):
                found.append(Untranslated(path, number, line.strip()))
    return sorted(found, key=lambda item: item.line)


def templates_under(root: Path) -> list[Path]:
    """The templates (HTML pages and text e-mails) under ``root``."""
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix in (".html", ".txt"))


def main(argv: list[str]) -> int:
    """Print the unmarked text under each folder given; exit 1 when there is some."""
    found = [
        item
        for root in argv
        for path in templates_under(Path(root))
        for item in untranslated_in(path)
    ]
    for item in found:
        print(item)
    print(f"{len(found)} unmarked", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
