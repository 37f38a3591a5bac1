"""Tell audio/video from other files by their first bytes; pick the extension to store them under.

The upload route reads ``SNIFF_BYTES`` from the body, calls ``require_media``
(415 for text, images, archives...) and stores the object as
``audio/<meeting>/original.<extension>``. Only the container is recognised
here; whether ffmpeg can really decode it is found out when the job decodes it
(``ivrimeet.media.decode``), which fails with ``UnsupportedMediaError`` too.

Recognised containers (signature → extension):

=====================================  =========
``RIFF....WAVE`` / ``RF64`` / ``BW64``  wav
``RIFF....AVI``                         avi
``ID3`` or an MPEG audio frame sync     mp3
``OggS``                                ogg
``fLaC``                                flac
``....ftyp`` + brand                    m4a / mp4 / mov / 3gp
``1A 45 DF A3`` (EBML)                  webm / mkv
AAC ADTS sync (``FFF`` + layer 0)       aac
``#!AMR`` / ``#!AMR-WB``                amr
``FORM....AIFF`` / ``AIFC``             aiff
ASF header GUID                         wma
``caff``                                caf
``.snd``                                au
``FLV``                                 flv
MPEG-PS pack header                     mpg
MPEG-TS sync every 188 bytes            ts
``wvpk`` / ``MAC `` / AC-3 sync         wv / ape / ac3
=====================================  =========
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ivrimeet.errors import UnsupportedMediaError

__all__ = ["SNIFF_BYTES", "MediaType", "require_media", "sniff"]

SNIFF_BYTES = 512
"""How many leading bytes ``sniff`` wants (fewer work for most formats)."""

MediaKind = Literal["audio", "video"]


@dataclass(frozen=True)
class MediaType:
    """What the first bytes say a recording is."""

    kind: MediaKind
    extension: str
    content_type: str
    description: str


_WAV = MediaType("audio", "wav", "audio/wav", "WAV")
_MP3 = MediaType("audio", "mp3", "audio/mpeg", "MP3")
_OGG = MediaType("audio", "ogg", "audio/ogg", "Ogg")
_FLAC = MediaType("audio", "flac", "audio/flac", "FLAC")
_M4A = MediaType("audio", "m4a", "audio/mp4", "MPEG-4 audio")
_MP4 = MediaType("video", "mp4", "video/mp4", "MPEG-4")
_MOV = MediaType("video", "mov", "video/quicktime", "QuickTime")
_3GP = MediaType("video", "3gp", "video/3gpp", "3GPP")
_WEBM = MediaType("video", "webm", "video/webm", "WebM")
_MKV = MediaType("video", "mkv", "video/x-matroska", "Matroska")
_AAC = MediaType("audio", "aac", "audio/aac", "AAC (ADTS)")
_AMR = MediaType("audio", "amr", "audio/amr", "AMR")
_AIFF = MediaType("audio", "aiff", "audio/aiff", "AIFF")
_WMA = MediaType("audio", "wma", "audio/x-ms-wma", "ASF/WMA")
_CAF = MediaType("audio", "caf", "audio/x-caf", "Core Audio Format")
_AU = MediaType("audio", "au", "audio/basic", "Sun AU")
_FLV = MediaType("video", "flv", "video/x-flv", "Flash Video")
_AVI = MediaType("video", "avi", "video/x-msvideo", "AVI")
_MPG = MediaType("video", "mpg", "video/mpeg", "MPEG program stream")
_TS = MediaType("video", "ts", "video/mp2t", "MPEG transport stream")
_WV = MediaType("audio", "wv", "audio/x-wavpack", "WavPack")
_APE = MediaType("audio", "ape", "audio/x-ape", "Monkey's Audio")
_AC3 = MediaType("audio", "ac3", "audio/ac3", "AC-3")

# ISO base media brands (ftyp) that are audio-only.
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_TS_PACKET = 188


def sniff(head: bytes) -> MediaType | None:
    """The container that ``head`` (a file's first bytes) starts, or None if not audio/video."""
    return _by_magic(head) or _by_mpeg_sync(head)


def require_media(head: bytes, *, name: str) -> MediaType:
    """Like ``sniff``, but raise ``UnsupportedMediaError`` naming ``name`` for non-media."""
    media = sniff(head)
    if media is None:
        looks_like = _describe_other(head)
        raise UnsupportedMediaError(
            f"{name} is not an audio or video recording ({looks_like}).",
            hints=[
                "upload a recording: WAV, MP3, M4A/MP4, Ogg/Opus, FLAC, WebM, AAC, AMR...",
                "if it is audio in an unusual container, convert it first: "
                "ffmpeg -i INPUT -c:a libopus recording.ogg",
            ],
        )
    return media


def _by_magic(head: bytes) -> MediaType | None:
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return _WAV
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return _AVI
    if head[:3] == b"ID3":
        return _MP3
    if head[:4] == b"OggS":
        return _OGG
    if head[:4] == b"fLaC":
        return _FLAC
    if head[4:8] == b"ftyp":
        return _by_brand(head[8:12])
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _WEBM if b"webm" in head[:64] else _MKV
    if head[:6] == b"#!AMR\n" or head[:9] == b"#!AMR-WB\n":
        return _AMR
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return _AIFF
    if head[:16] == _ASF_GUID:
        return _WMA
    if head[:4] == b"caff":
        return _CAF
    if head[:4] == b".snd":
        return _AU
    if head[:3] == b"FLV":
        return _FLV
    if head[:4] == b"\x00\x00\x01\xba":
        return _MPG
    if head[:4] == b"wvpk":
        return _WV
    if head[:4] == b"MAC ":
        return _APE
    if head[:2] == b"\x0b\x77":
        return _AC3
    if len(head) > _TS_PACKET and head[0] == 0x47 and head[_TS_PACKET] == 0x47:
        return _TS
    return None


def _by_brand(brand: bytes) -> MediaType:
    if brand in _AUDIO_BRANDS:
        return _M4A
    if brand == b"qt  ":
        return _MOV
    if brand.startswith((b"3gp", b"3g2")):
        return _3GP
    return _MP4


def _by_mpeg_sync(head: bytes) -> MediaType | None:
    """A bare MPEG audio frame (MP3 without ID3) or an AAC ADTS frame at offset 0."""
    if len(head) < 4 or head[0] != 0xFF:
        return None
    b1, b2 = head[1], head[2]
    if b1 & 0xF6 == 0xF0:  # 12-bit sync, layer 00: ADTS
        sampling_index = (b2 >> 2) & 0x0F
        return _AAC if sampling_index < 13 else None
    if b1 & 0xE0 != 0xE0:
        return None
    version = (b1 >> 3) & 0x03
    layer = (b1 >> 1) & 0x03
    bitrate_index = b2 >> 4
    sample_rate_index = (b2 >> 2) & 0x03
    if version == 0b01 or layer == 0b00 or bitrate_index == 0x0F or sample_rate_index == 0x03:
        return None
    return _MP3


def _describe_other(head: bytes) -> str:
    """A few words on what the bytes look like instead, for the error message."""
    if not head:
        return "it is empty"
    if head[:5] == b"%PDF-":
        return "it looks like a PDF document"
    if head[:4] == b"PK\x03\x04":
        return "it looks like a ZIP archive or office document"
    if head[:8] == b"\x89PNG\r\n\x1a\n" or head[:3] == b"\xff\xd8\xff" or head[:4] == b"GIF8":
        return "it looks like an image"
    text = head[:256].decode("utf-8", errors="replace")
    if "\x00" in text or text.count("\ufffd") > 3:
        return "unrecognised binary data"
    return "it looks like text"
