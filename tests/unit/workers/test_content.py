"""The content helpers tool authors return: bytes in, base64 blocks out, annotations
checked when built."""

from __future__ import annotations

import base64
import datetime
import json
import math
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from workers import Annotations, Audio, BlobResource, Image, Text, TextResource

PNG = b"\x89PNG\r\n\x1a\n\x00\x00"


def _json(value: object) -> object:
    return json.loads(msgspec.json.encode(value))


def test_image_and_audio_blocks_carry_base64() -> None:
    assert _json(Image(PNG, "image/png").to_block()) == {
        "type": "image",
        "data": base64.b64encode(PNG).decode(),
        "mimeType": "image/png",
    }
    assert _json(Audio(b"RIFF", "audio/wav").to_block()) == {
        "type": "audio",
        "data": "UklGRg==",
        "mimeType": "audio/wav",
    }


def test_from_path_reads_the_file_and_guesses_the_type(tmp_path: Path) -> None:
    (tmp_path / "chart.png").write_bytes(PNG)
    (tmp_path / "beep.wav").write_bytes(b"RIFF")
    assert Image.from_path(tmp_path / "chart.png") == Image(PNG, "image/png")
    audio = Audio.from_path(str(tmp_path / "beep.wav"))
    assert audio.data == b"RIFF"
    assert audio.mime_type in ("audio/wav", "audio/x-wav")  # the platform's table decides
    assert Image.from_path(tmp_path / "chart.png", "image/x-custom").mime_type == "image/x-custom"


@pytest.mark.parametrize("name", ["notes.txt", "noextension", "beep.wav"])
def test_from_path_refuses_a_type_it_cannot_tell(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"x")
    with pytest.raises(ValueError, match="mime_type="):
        Image.from_path(tmp_path / name)


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        Image.from_path(tmp_path / "missing.png")


def test_embedded_resources() -> None:
    assert _json(TextResource("test://a", "hello", mime_type="text/plain").to_block()) == {
        "type": "resource",
        "resource": {"uri": "test://a", "text": "hello", "mimeType": "text/plain"},
    }
    assert _json(BlobResource("test://b", b"\x00\x01").to_block()) == {
        "type": "resource",
        "resource": {"uri": "test://b", "blob": "AAE="},
    }


# --- annotations ----------------------------------------------------------------------------


def test_annotations_go_on_every_helper_block() -> None:
    hints = Annotations(audience=["user", "assistant"], priority=0.5)
    wire = {"audience": ["user", "assistant"], "priority": 0.5}
    assert _json(Text("hi", annotations=hints).to_block()) == {
        "type": "text",
        "text": "hi",
        "annotations": wire,
    }
    for helper in (
        Image(PNG, "image/png", hints),
        Audio(b"RIFF", "audio/wav", annotations=hints),
        TextResource("test://a", "a", annotations=hints),
        BlobResource("test://b", b"b", annotations=hints),
    ):
        block = _json(helper.to_block())
        assert isinstance(block, dict) and block["annotations"] == wire


def test_helpers_without_annotations_send_none() -> None:
    assert _json(Text("hi").to_block()) == {"type": "text", "text": "hi"}
    assert "annotations" not in str(_json(TextResource("test://a", "a").to_block()))
    assert Annotations().wire is msgspec.UNSET  # nothing to say: no empty object either


def test_from_path_takes_annotations(tmp_path: Path) -> None:
    (tmp_path / "chart.png").write_bytes(PNG)
    image = Image.from_path(tmp_path / "chart.png", annotations=Annotations(priority=1))
    assert _json(image.to_block()) == {
        "type": "image",
        "data": base64.b64encode(PNG).decode(),
        "mimeType": "image/png",
        "annotations": {"priority": 1},
    }


@pytest.mark.parametrize(
    ("moment", "sent"),
    [
        pytest.param(
            datetime.datetime(2025, 1, 12, 15, 0, 58, tzinfo=datetime.UTC),
            "2025-01-12T15:00:58Z",
            id="utc-datetime",
        ),
        pytest.param(
            datetime.datetime(2025, 1, 12, 17, 0, 58, tzinfo=ZoneInfo("Europe/Paris")),
            "2025-01-12T16:00:58Z",
            id="zoned-datetime",
        ),
        pytest.param("2025-01-12T17:00:58+02:00", "2025-01-12T15:00:58Z", id="offset-string"),
        pytest.param("2025-01-12T15:00:58Z", "2025-01-12T15:00:58Z", id="z-string"),
        pytest.param("2025-01-12T15:00:58.250+00:00", "2025-01-12T15:00:58.250000Z", id="fraction"),
    ],
)
def test_last_modified_is_sent_as_utc(moment: datetime.datetime | str, sent: str) -> None:
    wire = Annotations(last_modified=moment).wire
    assert _json(wire) == {"lastModified": sent}


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        pytest.param({"audience": ["user", "model"]}, ValueError, "'model'", id="audience-role"),
        pytest.param({"audience": "user"}, TypeError, "'user'", id="audience-string"),
        pytest.param({"priority": 1.5}, ValueError, "1.5", id="priority-above"),
        pytest.param({"priority": -0.1}, ValueError, "-0.1", id="priority-below"),
        pytest.param({"priority": math.nan}, ValueError, "nan", id="priority-nan"),
        pytest.param({"priority": True}, TypeError, "True", id="priority-bool"),
        pytest.param({"priority": "high"}, TypeError, "'high'", id="priority-string"),
        pytest.param(
            {"last_modified": datetime.datetime(2025, 1, 12, 15, 0)},
            ValueError,
            "datetime.datetime(2025, 1, 12, 15, 0)",
            id="naive-datetime",
        ),
        pytest.param(
            {"last_modified": "2025-01-12T15:00:58"}, ValueError, "'2025-01-12T15:00:58'",
            id="naive-string",
        ),
        pytest.param(
            {"last_modified": "yesterday"}, ValueError, "'yesterday'", id="not-iso-8601"
        ),
        pytest.param(
            {"last_modified": datetime.date(2025, 1, 12)}, TypeError, "datetime.date(2025, 1, 12)",
            id="a-date",
        ),
    ],
)  # fmt: skip
def test_bad_annotations_fail_when_built_naming_the_value(
    kwargs: dict[str, Any], error: type[Exception], names: str
) -> None:
    with pytest.raises(error) as raised:
        Annotations(**kwargs)
    assert names in str(raised.value)
