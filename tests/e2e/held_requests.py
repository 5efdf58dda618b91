"""Requests a browser test holds back, to see the page as it is before their answer comes."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, Request, Route


class HeldRequests:
    """Holds the requests to ``url`` (a glob) that ``held(request)`` picks; lets the others
    through. ``release_one()`` waits for the one held, then lets it go on."""

    def __init__(self, page: Page, url: str, held: Callable[[Request], bool]) -> None:
        self.page = page
        self.held = held
        self.routes: list[Route] = []
        page.route(url, self._route)

    def _route(self, route: Route) -> None:
        if self.held(route.request):
            self.routes.append(route)  # answered once the test has seen the page without it
        else:
            route.continue_()

    def release_one(self) -> None:
        for _ in range(100):
            if self.routes:
                break
            self.page.wait_for_timeout(50)
        assert len(self.routes) == 1
        self.routes.pop().continue_()
