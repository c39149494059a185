"""A stdio connection's resource subscriptions (handshake era): a bounded, ordered set."""

from __future__ import annotations

import pytest

from proto import InvalidParamsError
from server.resource_subscriptions import ConnectionSubscriptions
from server.session_store import MAX_SUBSCRIPTIONS


async def test_a_connection_keeps_its_subscriptions_in_order_and_bounded() -> None:
    subscriptions = ConnectionSubscriptions()
    await subscriptions.add("test://b")
    await subscriptions.add("test://a")
    await subscriptions.add("test://b")
    assert subscriptions.uris == ["test://b", "test://a"]
    assert "test://a" in subscriptions and "test://c" not in subscriptions
    await subscriptions.remove("test://b")
    await subscriptions.remove("test://never")
    assert subscriptions.uris == ["test://a"]
    for n in range(MAX_SUBSCRIPTIONS - 1):
        await subscriptions.add(f"test://{n}")
    with pytest.raises(InvalidParamsError, match="Too many subscriptions"):
        await subscriptions.add("test://one-more")
    await subscriptions.add("test://a")  # already subscribed: fine
    assert len(subscriptions.uris) == MAX_SUBSCRIPTIONS
