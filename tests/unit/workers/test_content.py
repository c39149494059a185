"""The content helpers tool authors return: bytes in, base64 blocks out."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import msgspec
import pytest

from workers import Audio, BlobResource, Image, TextResource

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
