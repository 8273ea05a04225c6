"""The JSON API, route by route, through uvicorn and against DynamoDB Local."""

from __future__ import annotations

import base64
import datetime

import httpx
import pytest

from sample_app.models import bind
from sample_app.settings import Settings
from tests.sample_app.conftest import assert_problem, create_link, unique

# ---- health -------------------------------------------------------------------------------------------------


def test_health_reports_the_table_status(client: httpx.Client, module_links_settings: Settings) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    table = {"name": module_links_settings.links_table, "status": "ACTIVE"}
    assert response.json() == {"status": "ok", "table": table}


# ---- POST /links ------------------------------------------------------------------------------------------


def test_create_returns_the_link_with_location_and_etag(client: httpx.Client, base_url: str) -> None:
    before = datetime.datetime.now(datetime.UTC)
    response = client.post("/links", json={"url": "https://example.com/a/long/page?x=1"})

    assert response.status_code == 201
    link = response.json()
    code = link["code"]
    assert set(link) == {"code", "url", "short_url", "clicks", "version", "created_at", "expires_at"}
    assert link["expires_at"] is None
    assert len(code) == 8
    assert link["url"] == "https://example.com/a/long/page?x=1"
    assert link["short_url"] == f"{base_url}/r/{code}"
    assert (link["clicks"], link["version"]) == (0, 1)
    assert before <= datetime.datetime.fromisoformat(link["created_at"]) <= datetime.datetime.now(datetime.UTC)
    assert response.headers["Location"] == f"{base_url}/links/{code}"
    assert response.headers["ETag"] == '"1"'
    assert client.get(response.headers["Location"]).json() == link


def test_create_with_a_custom_code(client: httpx.Client) -> None:
    code = unique("my-Link_1")
    link = create_link(client, "http://example.com", code=code)

    assert link["code"] == code
    assert client.get(f"/links/{code}").json()["url"] == "http://example.com"


def test_create_with_a_taken_code_is_409_and_keeps_the_first(client: httpx.Client) -> None:
    code = unique("taken")
    create_link(client, "https://example.com/first", code=code)

    response = client.post("/links", json={"url": "https://example.com/second", "code": code})

    assert_problem(response, 409, f"{code!r} is taken")
    assert client.get(f"/links/{code}").json()["url"] == "https://example.com/first"


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b'{"url": "https://example.com",}', b"\xff\xfe", b"{'url': 'https://example.com'}"],
    ids=["empty", "truncated", "trailing-comma", "not-utf8", "single-quotes"],
)
def test_create_with_invalid_json_is_400(client: httpx.Client, body: bytes) -> None:
    response = client.post("/links", content=body, headers={"Content-Type": "application/json"})

    assert_problem(response, 400, "not valid JSON")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/file", "must be an http or https URL"),
        ("javascript:alert(1)", "must be an http or https URL"),
        ("mailto:someone@example.com", "must be an http or https URL"),
        ("example.com/page", "must be an http or https URL"),
        ("https://", "must name a host"),
        ("https:///path", "must name a host"),
        ("https://example.com:99999/", "is not a valid URL"),
        ("https://[::1/", "is not a valid URL"),
        ("https://example.com/a b", "must not contain spaces"),
        ("https://example.com/\r\nSet-Cookie: a=b", "must not contain spaces or control characters"),
        ("https://bücher.example/", "must be ASCII"),
        ("https://example.com/" + "a" * 2048, "at most 2048 characters"),
        ("", "must be a non-empty string"),
        (42, "must be a non-empty string"),
        (None, "must be a non-empty string"),
    ],
)
def test_create_with_an_invalid_url_is_422(client: httpx.Client, url: object, reason: str) -> None:
    response = client.post("/links", json={"url": url})

    problem = assert_problem(response, 422, reason)
    assert problem["errors"] == [{"pointer": "/url", "detail": problem["errors"][0]["detail"]}]
    assert reason in problem["errors"][0]["detail"]


def test_create_lists_every_invalid_member(client: httpx.Client) -> None:
    response = client.post("/links", json={"code": "no spaces", "clicks": 5, "a/b~c": 1})

    problem = assert_problem(response, 422)
    assert problem["errors"] == [
        {"pointer": "/clicks", "detail": "is not a known member"},
        {"pointer": "/a~1b~0c", "detail": "is not a known member"},
        {"pointer": "/url", "detail": "is required"},
        {"pointer": "/code", "detail": "must be 1 to 64 letters, digits, '-' or '_' (or be left out for a random one)"},
    ]


@pytest.mark.parametrize("body", [b"[]", b'"https://example.com"', b"1", b"null"])
def test_create_with_json_that_is_not_an_object_is_422(client: httpx.Client, body: bytes) -> None:
    assert_problem(client.post("/links", content=body), 422, "must be a JSON object")


@pytest.mark.parametrize("code", ["", "a" * 65, "has space", "slash/", "hash#", "ünï", 7])
def test_create_with_an_invalid_code_is_422(client: httpx.Client, code: object) -> None:
    response = client.post("/links", json={"url": "https://example.com", "code": code})

    assert assert_problem(response, 422)["errors"][0]["pointer"] == "/code"


def test_a_body_over_16_kib_is_413(client: httpx.Client) -> None:
    response = client.post("/links", json={"url": "https://example.com/?" + "a" * 17_000})

    assert_problem(response, 413)


# ---- GET /links/{code} ------------------------------------------------------------------------------------


def test_get_returns_the_link_and_its_etag(client: httpx.Client) -> None:
    link = create_link(client)

    response = client.get(f"/links/{link['code']}")

    assert response.status_code == 200
    assert response.json() == link
    assert response.headers["ETag"] == '"1"'


@pytest.mark.parametrize("code", ["absent", "not%20a%20code", "%23hash"])
def test_get_of_an_absent_link_is_404(client: httpx.Client, code: str) -> None:
    assert_problem(client.get(f"/links/{code}"), 404, "There is no link with the code")


def test_an_unknown_route_and_method_are_problems_too(client: httpx.Client) -> None:
    assert_problem(client.get("/nothing/here"), 404, "Nothing here: GET /nothing/here.")
    response = client.put("/links/abc", json={})
    assert_problem(response, 405, "/links/abc does not accept PUT.")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE"}


# ---- GET /links -------------------------------------------------------------------------------------------


def test_pages_cover_every_link_once(empty_client: httpx.Client) -> None:
    client = empty_client
    created = {create_link(client, f"https://example.com/{n}")["code"] for n in range(5)}
    # An idempotency record shares the table, and must never show up as a link.
    response = client.post("/links", json={"url": "https://example.com/5"}, headers={"Idempotency-Key": "k"})
    created.add(response.json()["code"])

    seen: list[str] = []
    sizes: list[int] = []
    cursor = None
    while True:
        params = {"limit": "2"} if cursor is None else {"limit": "2", "cursor": cursor}
        response = client.get("/links", params=params)
        assert response.status_code == 200
        page = response.json()
        sizes.append(len(page["links"]))
        seen += [link["code"] for link in page["links"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert sizes == [2, 2, 2]
    assert sorted(seen) == sorted(created)


def test_a_cursor_names_a_link_never_an_idempotency_record(empty_client: httpx.Client) -> None:
    client = empty_client
    for n in range(4):
        client.post("/links", json={"url": f"https://example.com/{n}"}, headers={"Idempotency-Key": f"secret-{n}"})

    cursor = None
    for _ in range(4):
        params = {"limit": "1"} if cursor is None else {"limit": "1", "cursor": cursor}
        page = client.get("/links", params=params).json()
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert "secret" not in base64.urlsafe_b64decode(cursor + "==").decode()


def test_the_default_page_size_is_20(empty_client: httpx.Client, links_settings: Settings) -> None:
    client = empty_client
    models = bind(links_settings)
    with models.link.batch_write() as batch:
        for n in range(21):
            batch.save(
                models.link(
                    code=f"code{n}",
                    url="https://example.com",
                    created_at=datetime.datetime.now(datetime.UTC),
                    version=1,
                )
            )

    first = client.get("/links").json()
    second = client.get("/links", params={"cursor": first["next_cursor"]}).json()

    assert (len(first["links"]), len(second["links"]), second["next_cursor"]) == (20, 1, None)


def test_an_empty_table_is_one_empty_page(empty_client: httpx.Client) -> None:
    assert empty_client.get("/links").json() == {"links": [], "next_cursor": None}


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "2.5", ""])
def test_an_invalid_limit_is_400(client: httpx.Client, limit: str) -> None:
    assert_problem(client.get("/links", params={"limit": limit}), 400, "limit must be a whole number from 1 to 100")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "eyJhZnRlciI6",  # a cut one
        _b64(b"plain text"),
        _b64(b'["after", "abc"]'),
        _b64(b'{"after": 5}'),
        _b64(b'{"after": ""}'),
        _b64(b'{"after": "abc", "limit": 1000}'),
        _b64(b'{"code": {"S": "abc"}}'),
        _b64(b'{"after": "idempotency#key"}'),
    ],
)
def test_a_tampered_cursor_is_400(client: httpx.Client, cursor: str) -> None:
    assert_problem(client.get("/links", params={"cursor": cursor}), 400, "cursor is not one this API returned")


# ---- PATCH /links/{code} ----------------------------------------------------------------------------------


def test_patch_with_the_current_etag_updates_and_bumps_the_version(client: httpx.Client) -> None:
    link = create_link(client, "https://example.com/old")

    response = client.patch(
        f"/links/{link['code']}", json={"url": "https://example.com/new"}, headers={"If-Match": '"1"'}
    )

    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'
    assert response.json() == {**link, "url": "https://example.com/new", "version": 2}
    assert client.get(f"/links/{link['code']}").json() == response.json()


def test_patch_with_a_stale_etag_is_412_and_changes_nothing(client: httpx.Client) -> None:
    link = create_link(client, "https://example.com/old")
    code = link["code"]
    client.patch(f"/links/{code}", json={"url": "https://example.com/v2"}, headers={"If-Match": '"1"'})

    response = client.patch(f"/links/{code}", json={"url": "https://example.com/lost"}, headers={"If-Match": '"1"'})

    assert_problem(response, 412, "is at version 2")
    assert response.headers["ETag"] == '"2"'
    assert client.get(f"/links/{code}").json()["url"] == "https://example.com/v2"


def test_patch_without_if_match_is_428(client: httpx.Client) -> None:
    link = create_link(client)

    response = client.patch(f"/links/{link['code']}", json={"url": "https://example.com/new"})

    assert_problem(response, 428, "If-Match")
    assert client.get(f"/links/{link['code']}").json()["url"] == link["url"]


@pytest.mark.parametrize(
    ("if_match", "status"),
    [
        ("*", 200),
        ('"7", "1"', 200),
        ('W/"1"', 412),
        ('"abc"', 412),
        ('"2"', 412),
        ("1", 400),
        ('"1', 400),
        ('"1", 2', 400),
    ],
)
def test_patch_if_match_forms(client: httpx.Client, if_match: str, status: int) -> None:
    link = create_link(client)

    response = client.patch(
        f"/links/{link['code']}", json={"url": "https://example.com/new"}, headers={"If-Match": if_match}
    )

    assert response.status_code == status, response.text
    expected_url = "https://example.com/new" if status == 200 else link["url"]
    assert client.get(f"/links/{link['code']}").json()["url"] == expected_url


def test_patch_of_an_absent_link_is_404(client: httpx.Client) -> None:
    code = unique("absent")
    for if_match in ('"1"', "*", 'W/"1"'):
        response = client.patch(f"/links/{code}", json={"url": "https://example.com"}, headers={"If-Match": if_match})
        assert_problem(response, 404, f"There is no link with the code {code!r}")

    assert client.get(f"/links/{code}").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "pointer"),
    [
        ({"url": "ftp://example.com"}, 422, "/url"),
        ({}, 422, "/url"),
        ({"url": "https://example.com", "code": "other"}, 422, "/code"),
        ({"url": "https://example.com", "clicks": 0}, 422, "/clicks"),
    ],
)
def test_patch_with_an_invalid_body_is_422(
    client: httpx.Client, body: dict[str, object], status: int, pointer: str
) -> None:
    link = create_link(client)

    response = client.patch(f"/links/{link['code']}", json=body, headers={"If-Match": '"1"'})

    assert assert_problem(response, status)["errors"][0]["pointer"] == pointer
    assert client.get(f"/links/{link['code']}").json() == link


def test_patch_with_invalid_json_is_400(client: httpx.Client) -> None:
    link = create_link(client)

    response = client.patch(f"/links/{link['code']}", content=b"{url:", headers={"If-Match": '"1"'})

    assert_problem(response, 400, "not valid JSON")


def test_clicks_do_not_change_the_version(client: httpx.Client) -> None:
    link = create_link(client)
    for _ in range(3):
        client.get(f"/r/{link['code']}")

    response = client.patch(
        f"/links/{link['code']}", json={"url": "https://example.com/new"}, headers={"If-Match": '"1"'}
    )

    assert response.status_code == 200
    assert (response.json()["clicks"], response.json()["version"]) == (3, 2)


# ---- DELETE /links/{code} ---------------------------------------------------------------------------------


def test_delete_is_204_and_the_link_is_gone(client: httpx.Client) -> None:
    link = create_link(client)

    response = client.delete(f"/links/{link['code']}")

    assert response.status_code == 204
    assert response.content == b""
    assert_problem(client.get(f"/links/{link['code']}"), 404)
    assert_problem(client.get(f"/r/{link['code']}"), 404)


def test_delete_honours_if_match(client: httpx.Client) -> None:
    link = create_link(client)
    code = link["code"]

    stale = client.delete(f"/links/{code}", headers={"If-Match": '"2"'})
    assert_problem(stale, 412, "is at version 1")
    assert client.get(f"/links/{code}").status_code == 200

    assert client.delete(f"/links/{code}", headers={"If-Match": '"1"'}).status_code == 204
    assert client.get(f"/links/{code}").status_code == 404


def test_delete_of_an_absent_link_is_404(client: httpx.Client) -> None:
    code = unique("absent")
    assert_problem(client.delete(f"/links/{code}"), 404)
    assert_problem(client.delete(f"/links/{code}", headers={"If-Match": '"1"'}), 404)
    assert_problem(client.delete(f"/links/{code}", headers={"If-Match": "*"}), 404)


# ---- GET /r/{code} ----------------------------------------------------------------------------------------


def test_redirect_is_307_to_the_target_and_counts_the_click(client: httpx.Client) -> None:
    link = create_link(client, "https://example.com/target?q=1#part")

    for expected_clicks in (1, 2):
        response = client.get(f"/r/{link['code']}")
        assert response.status_code == 307
        assert response.headers["Location"] == "https://example.com/target?q=1#part"
        assert client.get(f"/links/{link['code']}").json()["clicks"] == expected_clicks


def test_redirect_of_an_absent_code_is_404_and_creates_nothing(client: httpx.Client) -> None:
    code = unique("absent")
    assert_problem(client.get(f"/r/{code}"), 404, f"There is no link with the code {code!r}")

    assert client.get(f"/links/{code}").status_code == 404


def test_a_chunked_body_over_16_kib_is_413(client: httpx.Client) -> None:
    # No Content-Length: the limit applies while the body streams in.
    response = client.post("/links", content=iter([b'{"url": "https://example.com/?', b"a" * 17_000, b'"}']))

    assert_problem(response, 413, "over 16 KiB")
