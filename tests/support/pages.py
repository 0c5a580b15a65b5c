"""A test client helper that reads pages the way a user does.

``get_page`` checks the status, parses the HTML, and hands back a ``Page`` that knows the title,
the main heading and the GOV.UK error summary, so each test reads like a user's step.
"""

from __future__ import annotations

from dataclasses import dataclass

from bs4 import BeautifulSoup
from flask.testing import FlaskClient
from werkzeug.test import TestResponse


@dataclass
class Page:
    response: TestResponse
    soup: BeautifulSoup

    @property
    def title(self) -> str:
        return self.soup.title.get_text(strip=True) if self.soup.title else ""

    @property
    def h1(self) -> str:
        heading = self.soup.find("h1")
        return heading.get_text(" ", strip=True) if heading else ""

    @property
    def text(self) -> str:
        main = self.soup.find("main") or self.soup
        return " ".join(main.get_text(" ", strip=True).split())

    @property
    def errors(self) -> list[str]:
        """The messages in the GOV.UK error summary, in order."""
        summary = self.soup.select_one(".govuk-error-summary")
        if summary is None:
            return []
        return [item.get_text(" ", strip=True) for item in summary.select("li")]

    @property
    def error_links(self) -> list[str]:
        """Where each message in the error summary leads (``#field-id``)."""
        summary = self.soup.select_one(".govuk-error-summary")
        return [a["href"] for a in summary.select("li a")] if summary else []

    def link(self, text: str) -> str:
        for anchor in self.soup.find_all("a"):
            if anchor.get_text(" ", strip=True) == text:
                return anchor["href"]
        raise AssertionError(f"no link {text!r} on {self.title!r}")


def version_on(page: Page, action: str = "") -> str:
    """The version the form posting to ``action`` sends back: what its user read."""
    form = page.soup.find("form", action=action)
    assert form is not None, f"no form posting to {action!r} on {page.title!r}"
    return form.find("input", {"name": "version"})["value"]


def get_page(client: FlaskClient, url: str, *, status: int = 200) -> Page:
    response = client.get(url)
    assert response.status_code == status, (
        f"GET {url}: expected {status}, got {response.status_code}"
    )
    return _page(response)


def post_page(client: FlaskClient, url: str, data: dict, *, status: int = 200) -> Page:
    """Send a form (multipart, so it may carry files) and read the page that answers it."""
    response = client.post(url, data=data, content_type="multipart/form-data")
    assert response.status_code == status, (
        f"POST {url}: expected {status}, got {response.status_code}"
    )
    return _page(response)


def _page(response: TestResponse) -> Page:
    assert response.mimetype == "text/html"
    page = Page(response, BeautifulSoup(response.get_data(as_text=True), "html.parser"))
    # Every page says where you are: its own title, then the service's name.
    assert page.title.endswith("Pledge Tracker"), page.title
    assert page.soup.find("main", id="main-content") is not None
    return page
