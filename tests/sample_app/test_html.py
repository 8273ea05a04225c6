"""GET / and its form."""

from __future__ import annotations

import datetime
from html.parser import HTMLParser

import httpx

from sample_app.models import bind
from sample_app.settings import Settings
from tests.sample_app.conftest import assert_problem, create_link, unique


class Page(HTMLParser):
    """The URLs a page points to (href, action) and its text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.text: list[str] = []
        self.inputs: dict[str, str] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.urls += [value for name, value in attrs if name in {"href", "action", "src"} and value is not None]
        if tag == "input" and attributes.get("name"):
            self.inputs[attributes["name"] or ""] = attributes.get("value") or ""

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def form(client: httpx.Client, **fields: str) -> httpx.Response:
    return client.post("/", data=fields)


def test_the_page_lists_links_and_every_url_comes_from_url_for(client: httpx.Client, base_url: str) -> None:
    link = create_link(client, 'https://example.com/?q=<b>&x="y"')
    client.get(f"/r/{link['code']}")

    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = Page(response.text)
    assert f"{base_url}/r/{link['code']}" in page.urls
    assert f"{base_url}/links/{link['code']}" in page.urls
    assert {f"{base_url}/", f"{base_url}/links", f"{base_url}/health"} <= set(page.urls)
    assert all(url.startswith(f"{base_url}/") for url in page.urls)
    # The target shows as text, escaped in the markup.
    assert 'https://example.com/?q=<b>&x="y"' in page.text
    assert "https://example.com/?q=&lt;b&gt;&amp;x=&#34;y&#34;" in response.text


def test_the_form_creates_then_redirects_back_to_the_page(client: httpx.Client, base_url: str) -> None:
    code = unique("form")

    response = form(client, url="https://example.com/from-the-form", code=code)

    assert response.status_code == 303
    assert response.headers["Location"] == f"{base_url}/"
    assert client.get(f"/links/{code}").json()["url"] == "https://example.com/from-the-form"
    assert f"{base_url}/r/{code}" in Page(client.get(response.headers["Location"]).text).urls


def test_the_form_without_a_code_draws_one(empty_client: httpx.Client) -> None:
    assert form(empty_client, url="https://example.com/random", code="").status_code == 303

    [link] = empty_client.get("/links").json()["links"]
    assert (link["url"], len(link["code"])) == ("https://example.com/random", 8)


def test_an_invalid_url_shows_the_page_with_the_error_and_what_was_typed(client: httpx.Client) -> None:
    response = form(client, url="ftp://example.com/<x>", code="mine")

    assert response.status_code == 422
    page = Page(response.text)
    assert "The URL must be an http or https URL." in page.text
    assert page.inputs == {"url": "ftp://example.com/<x>", "code": "mine"}


def test_an_invalid_code_shows_the_page_with_the_error(client: httpx.Client) -> None:
    response = form(client, url="https://example.com", code="not a code")

    assert response.status_code == 422
    assert "A code is 1 to 64 letters, digits, '-' or '_'." in Page(response.text).text


def test_a_taken_code_shows_the_page_with_the_error(client: httpx.Client) -> None:
    code = unique("taken")
    create_link(client, code=code)

    response = form(client, url="https://example.com/second", code=code)

    assert response.status_code == 409
    assert f"The code '{code}' is taken." in Page(response.text).text
    assert client.get(f"/links/{code}").json()["url"] == "https://example.com/page"


def test_a_form_that_is_not_urlencoded_is_415(client: httpx.Client) -> None:
    response = client.post("/", json={"url": "https://example.com"})

    assert_problem(response, 415, "application/x-www-form-urlencoded")


def test_more_than_50_links_make_a_next_page(empty_client: httpx.Client, links_settings: Settings) -> None:
    models = bind(links_settings)
    now = datetime.datetime.now(datetime.UTC)
    with models.link.batch_write() as batch:
        for n in range(51):
            batch.save(models.link(code=f"code{n}", url=f"https://example.com/{n}", created_at=now, version=1))

    first = Page(empty_client.get("/").text)
    [next_page] = [url for url in first.urls if "cursor=" in url]
    second = Page(empty_client.get(next_page).text)

    codes = [url.rsplit("/", 1)[1] for page in (first, second) for url in page.urls if "/r/" in url]
    assert sorted(codes) == sorted(f"code{n}" for n in range(51))
    assert not [url for url in second.urls if "cursor=" in url]


def test_an_empty_table_says_so(empty_client: httpx.Client) -> None:
    assert "No links yet." in empty_client.get("/").text
