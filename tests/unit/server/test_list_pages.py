"""Paged listings, the one piece behind the tool, resource, template and prompt lists: page
boundaries, the 2026-07-28 hints on every page, and which cursors open a page."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import pytest
from msgspec import UnsetType

from proto import (
    Implementation,
    InvalidParamsError,
    ListPromptsResult,
    Prompt,
    ResultMeta,
)
from server.list_pages import ListPages, ListResult, ListSettings, listing_digest

META = ResultMeta(server_info=Implementation(name="x", version="1"))


def _render(version: str, names: Sequence[str], next_cursor: str | UnsetType) -> ListResult:
    return ListPromptsResult(prompts=[Prompt(name=n) for n in names], next_cursor=next_cursor)


def _pages(
    count: int, page_size: int, *, method: str = "prompts/list", suffix: str = ""
) -> ListPages[str]:
    names = [f"p{i:02d}{suffix}" for i in range(count)]
    return ListPages(
        method,
        names,
        digest=listing_digest([Prompt(name=n) for n in names]),
        render=_render,
        settings=ListSettings(page_size=page_size, ttl_ms=500, meta=META),
    )


def _walk(pages: ListPages[str], version: str) -> list[dict[str, Any]]:
    walked = [json.loads(pages.result(version))]
    while "nextCursor" in walked[-1]:
        walked.append(json.loads(pages.result(version, walked[-1]["nextCursor"])))
    return walked


@pytest.mark.parametrize("version", ["2025-03-26", "2025-11-25", "2026-07-28"])
def test_pages_cover_every_entry_once_in_order(version: str) -> None:
    walked = _walk(_pages(7, 3), version)
    assert [[p["name"] for p in page["prompts"]] for page in walked] == [
        ["p00", "p01", "p02"],
        ["p03", "p04", "p05"],
        ["p06"],
    ]
    assert "nextCursor" not in walked[-1]


def test_handshake_pages_carry_no_hints() -> None:
    for page in _walk(_pages(5, 2), "2025-11-25"):
        assert set(page) <= {"prompts", "nextCursor"}


def test_every_modern_page_carries_the_same_cache_hints() -> None:
    walked = _walk(_pages(5, 2), "2026-07-28")
    assert len(walked) == 3
    for page in walked:
        assert (page["resultType"], page["ttlMs"], page["cacheScope"]) == (
            "complete",
            500,
            "public",
        )
        assert page["_meta"] == {
            "io.modelcontextprotocol/serverInfo": {"name": "x", "version": "1"}
        }


@pytest.mark.parametrize(("count", "size"), [(3, 3), (3, 100), (0, 1)])
def test_a_list_that_fits_one_page_has_no_cursor(count: int, size: int) -> None:
    listing = json.loads(_pages(count, size).result("2025-11-25"))
    assert len(listing["prompts"]) == count
    assert "nextCursor" not in listing


def test_cursors_are_opaque_and_the_same_in_every_revision() -> None:
    cursor = json.loads(_pages(7, 3).result("2026-07-28"))["nextCursor"]
    assert cursor.isascii() and "=" not in cursor and "p03" not in cursor
    assert json.loads(_pages(7, 3).result("2025-06-18"))["nextCursor"] == cursor
    assert cursor == _pages(7, 3).cursor(3)


def test_a_cursor_works_on_a_front_with_another_page_size() -> None:
    """Fronts of one deployment may differ in configuration: a cursor names a position."""
    cursor = json.loads(_pages(7, 3).result("2026-07-28"))["nextCursor"]
    other = _pages(7, 2)
    assert other.page_start(cursor) == 3
    page = json.loads(other.result("2026-07-28", cursor))
    assert [p["name"] for p in page["prompts"]] == ["p03", "p04"]


def test_a_cursor_from_another_deployment_is_refused() -> None:
    """A redeploy between two pages: the next page would mix two lists."""
    cursor = _pages(7, 3).cursor(3)
    assert _pages(7, 3, suffix="-changed").page_start(cursor) is None


def test_a_cursor_of_another_list_is_refused_even_with_the_same_entries() -> None:
    """The digests of two lists could only coincide by construction (two empty lists), but
    a cursor names its method, so one list never opens another's page."""
    prompts = _pages(7, 3, method="prompts/list")
    tools = _pages(7, 3, method="tools/list")
    assert tools.page_start(prompts.cursor(3)) is None
    assert prompts.page_start(prompts.cursor(3)) == 3


def _forged(tag: str, position: str) -> str:
    return base64.urlsafe_b64encode(f"{tag}{position}".encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("", id="empty"),
        pytest.param("not base64!", id="garbage"),
        pytest.param("YWJj", id="base64-without-tag"),
        pytest.param("x" * 200, id="too-long"),
        pytest.param("@0", id="position-0"),
        pytest.param("@7", id="past-the-end"),
        pytest.param("@-1", id="negative"),
        pytest.param("@٣", id="non-ascii-digit"),
        pytest.param("@3 ", id="trailing-space"),
        pytest.param("@", id="no-position"),
    ],
)
def test_cursors_this_list_did_not_issue_are_refused(cursor: str) -> None:
    pages = _pages(7, 3)
    if cursor.startswith("@"):
        tag = base64.urlsafe_b64decode(pages.cursor(3) + "==")[:-1].decode()
        cursor = _forged(tag, cursor[1:])
    assert pages.page_start(cursor) is None
    with pytest.raises(InvalidParamsError, match=r"prompts/list.*list again without a cursor"):
        pages.result("2025-11-25", cursor)


def test_pages_are_built_once() -> None:
    pages = _pages(7, 3)
    cursor = pages.cursor(3)
    assert pages.result("2026-07-28", cursor) is pages.result("2026-07-28", cursor)
    assert pages.result("2026-07-28") is pages.page("2026-07-28", 0)
    assert pages.result("2025-11-25") is not pages.result("2026-07-28")


def test_the_digest_is_of_the_entries_in_order() -> None:
    one, two = Prompt(name="a"), Prompt(name="b")
    assert listing_digest([one, two]) == listing_digest([one, two])
    assert listing_digest([one, two]) != listing_digest([two, one])
    assert len(listing_digest([])) == 64
