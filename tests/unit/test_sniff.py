"""Sniffing: what ffmpeg writes is recognised by its first bytes; text and images are not."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ivrimeet.errors import UnsupportedMediaError
from ivrimeet.media.sniff import SNIFF_BYTES, require_media, sniff

# (file name ffmpeg writes, extra ffmpeg arguments, expected extension, expected kind)
WRITTEN = [
    ("tone.wav", [], "wav", "audio"),
    ("tone.mp3", [], "mp3", "audio"),
    ("bare.mp3", ["-id3v2_version", "0", "-write_xing", "0"], "mp3", "audio"),
    ("tone.ogg", [], "ogg", "audio"),
    ("tone.opus", [], "ogg", "audio"),
    ("tone.flac", [], "flac", "audio"),
    ("tone.m4a", [], "m4a", "audio"),
    ("tone.mp4", ["-c:a", "aac"], "mp4", "video"),
    ("tone.mov", [], "mov", "video"),
    ("tone.webm", ["-c:a", "libopus"], "webm", "video"),
    ("tone.mkv", ["-c:a", "flac"], "mkv", "video"),
    ("tone.aac", [], "aac", "audio"),
    ("tone.aiff", [], "aiff", "audio"),
    ("tone.wma", [], "wma", "audio"),
    ("tone.caf", [], "caf", "audio"),
    ("tone.au", [], "au", "audio"),
    ("tone.flv", [], "flv", "video"),
    ("tone.avi", [], "avi", "video"),
    ("tone.mpg", [], "mpg", "video"),
    ("tone.ts", [], "ts", "video"),
    ("tone.wv", [], "wv", "audio"),
    ("tone.ac3", [], "ac3", "audio"),
]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sniff")
    for name, args, _, _ in WRITTEN:
        subprocess.run(
            [
                "ffmpeg",
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "sine=f=300:d=1",
                *args,
                str(folder / name),
            ],
            check=True,
        )
    return folder


@pytest.mark.parametrize(
    ("name", "args", "extension", "kind"), WRITTEN, ids=[w[0] for w in WRITTEN]
)
def test_every_container_ffmpeg_writes_is_recognised_with_its_extension(
    written: Path, name: str, args: list[str], extension: str, kind: str
) -> None:
    media = sniff((written / name).read_bytes()[:SNIFF_BYTES])
    assert media is not None
    assert (media.extension, media.kind) == (extension, kind)


def test_amr_headers_are_recognised() -> None:
    assert sniff(b"#!AMR\n\x3c\x48\xf5\x1f").extension == "amr"  # type: ignore[union-attr]
    assert sniff(b"#!AMR-WB\n\x04\x10\x20").extension == "amr"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("head", "looks_like"),
    [
        (b"Minutes of the meeting\n1. Numbers\n", "text"),
        (b'{"title": "not audio"}', "text"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image"),
        (b"PK\x03\x04\x14\x00\x06\x00", "ZIP"),
        (b"", "empty"),
        (bytes(range(256)) * 2, "binary"),
    ],
)
def test_non_media_is_refused_with_a_reason_naming_what_it_looks_like(
    head: bytes, looks_like: str
) -> None:
    assert sniff(head) is None
    with pytest.raises(UnsupportedMediaError) as caught:
        require_media(head, name="upload notes.mp3")
    assert "upload notes.mp3 is not an audio or video recording" in str(caught.value)
    assert looks_like in str(caught.value)
    assert caught.value.http_status == 415


def test_bytes_that_only_resemble_an_mpeg_frame_sync_are_refused() -> None:
    # 0xFF 0xFF: sync bits set but the "reserved" MPEG version and a bad bitrate index.
    assert sniff(b"\xff\xef\xf0\x00" + b"\x00" * 60) is None
    assert sniff(b"\xff\xfb\xfc\x00" + b"\x00" * 60) is None  # reserved sample rate


def test_a_short_head_of_a_wav_is_enough() -> None:
    assert sniff(b"RIFF\x24\x00\x00\x00WAVE").extension == "wav"  # type: ignore[union-attr]
