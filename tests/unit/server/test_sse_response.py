"""``EventStream``: the deferred SSE commitment of one POST, for a single request and for
a 2025-03-26 batch's responses. Driven with an in-memory ASGI ``send``; no store."""

from __future__ import annotations

import json
from typing import Any

import trio
import trio.testing

from server.sse_response import EventStream, LateDisconnectWatch, Message


class _Client:
    """The ASGI messages a client would receive, in order."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def send(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int | None:
        starts = [m for m in self.messages if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None

    def data(self) -> list[dict[str, Any]]:
        """The JSON messages of the events sent, in order."""
        body = b"".join(m["body"] for m in self.messages if m["type"] == "http.response.body")
        lines = body.decode().split("\r\n")
        return [json.loads(line[len("data: ") :]) for line in lines if line.startswith("data: ")]

    @property
    def ended(self) -> bool:
        last = self.messages[-1] if self.messages else {}
        return last.get("type") == "http.response.body" and not last.get("more_body", False)


def _response(rid: str) -> bytes:
    return b'{"jsonrpc":"2.0","id":"%s","result":{}}' % rid.encode()


_PROGRESS = b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}'


async def test_batch_responses_alone_never_commit_to_sse() -> None:
    client = _Client()
    async with trio.open_nursery() as nursery:
        stream = EventStream(client.send, nursery, keepalive_s=3600)
        await stream.respond(_response("a"), last=False)
        await stream.respond(_response("b"), last=True)
        stream.close()
    assert not stream.started and not stream.ended
    assert client.messages == []  # the caller answers with a JSON array instead


async def test_a_notification_commits_held_responses_go_first_and_the_last_ends_it() -> None:
    client = _Client()
    async with trio.open_nursery() as nursery:
        stream = EventStream(client.send, nursery, keepalive_s=3600)
        await stream.respond(_response("quick"), last=False)
        stream.notify(_PROGRESS)
        await stream.respond(_response("slow"), last=True)
        stream.close()
    assert stream.started and stream.ended
    assert client.status == 200
    ids = [m.get("id", "progress") for m in client.data()]
    assert ids == ["quick", "progress", "slow"]
    assert client.ended


async def test_a_single_request_stream_ends_with_finish() -> None:
    client = _Client()
    async with trio.open_nursery() as nursery:
        stream = EventStream(client.send, nursery, keepalive_s=3600)
        stream.notify(_PROGRESS)
        stream.close()
    assert stream.started and not stream.ended
    assert not client.ended
    await stream.finish(_response("r"))
    assert [m.get("id") for m in client.data()] == [None, "r"]
    assert client.ended


async def test_a_batch_stream_whose_last_request_was_cancelled_is_ended_by_finish() -> None:
    client = _Client()
    async with trio.open_nursery() as nursery:
        stream = EventStream(client.send, nursery, keepalive_s=3600)
        stream.notify(_PROGRESS)
        await stream.respond(_response("a"), last=False)  # the other request never answers
        stream.close()
    assert stream.started and not stream.ended
    await stream.finish(None)
    assert client.ended
    assert len(client.data()) == 2


# --- LateDisconnectWatch: a disconnect watcher started only for long calls ------------------


def _receiver(*messages: Message) -> Any:
    """An ASGI receive that hands out ``messages``, then waits forever."""
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    return receive


async def test_a_disconnect_before_the_watch_started_is_still_seen() -> None:
    async with trio.open_nursery() as nursery:
        served = trio.CancelScope()
        watch = LateDisconnectWatch(nursery, _receiver({"type": "http.disconnect"}), served)
        with served:
            watch.start()
            watch.start()  # idempotent: one watcher
            await trio.sleep_forever()
        watch.stop()
    assert served.cancelled_caught


async def test_a_watch_never_started_spawns_nothing_and_stop_is_harmless() -> None:
    async with trio.open_nursery() as nursery:
        served = trio.CancelScope()
        watch = LateDisconnectWatch(nursery, _receiver({"type": "http.disconnect"}), served)
        watch.stop()
        assert nursery.child_tasks == frozenset()
    assert not served.cancel_called


async def test_a_stopped_watch_ends_and_cancels_nothing() -> None:
    async with trio.open_nursery() as nursery:
        served = trio.CancelScope()
        watch = LateDisconnectWatch(nursery, _receiver(), served)
        watch.start()
        await trio.testing.wait_all_tasks_blocked()
        watch.stop()
    assert not served.cancel_called


async def test_a_failing_receive_does_not_take_the_nursery_down() -> None:
    async def broken() -> Message:
        raise trio.ClosedResourceError("receive after the request ended")

    async with trio.open_nursery() as nursery:
        served = trio.CancelScope()
        LateDisconnectWatch(nursery, broken, served).start()
    assert not served.cancel_called
