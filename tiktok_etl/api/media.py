"""What a video file is, read from its header, and TikTok's local rules for posting it.

The header is read with pymediainfo (MediaInfo's library, bundled in the PyPI wheels, so
no system package is needed): a maintained parser of every container TikTok takes, rather
than hand-parsing MP4 boxes or EBML. `check_video` applies the documented limits
(container MP4/MOV/WebM, codec H.264/H.265/VP8/VP9, at most 4 GB, 3 s to 10 min and no
longer than the creator's maximum, cover timestamp inside the video) before any request,
and raises `MediaRejected` with one line naming the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tiktok_etl.api.errors import MediaRejected

MAX_VIDEO_BYTES = 4 * 1024**3
MIN_DURATION_MS = 3_000
MAX_DURATION_MS = 600_000

# MediaInfo's General `Format` (and, for QuickTime, its profile) -> (container, MIME type)
_CONTAINERS: dict[str, tuple[str, str]] = {
    "mpeg-4": ("mp4", "video/mp4"),
    "quicktime": ("mov", "video/quicktime"),
    "webm": ("webm", "video/webm"),
}
# MediaInfo's video `Format` -> TikTok's codec name
_CODECS: dict[str, str] = {"avc": "h264", "hevc": "h265", "vp8": "vp8", "vp9": "vp9"}


@dataclass(frozen=True)
class MediaFacts:
    """What the header says about a video file."""

    path: Path
    size: int
    container: str
    mime_type: str
    codec: str
    duration_ms: int


def _container(general: object) -> tuple[str, str] | None:
    fmt = str(getattr(general, "format", "") or "").lower()
    profile = str(getattr(general, "format_profile", "") or "").lower()
    codec_id = str(getattr(general, "codec_id", "") or "").lower().strip()
    if fmt == "mpeg-4" and ("quicktime" in profile or codec_id == "qt"):
        return _CONTAINERS["quicktime"]
    return _CONTAINERS.get(fmt)


def probe(path: Path) -> MediaFacts:
    """Read the header of `path`; `MediaRejected` if it is not a video TikTok takes."""
    from pymediainfo import MediaInfo  # a C library behind it: loaded only when used

    if not path.is_file():
        raise MediaRejected(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_VIDEO_BYTES:
        raise MediaRejected(f"{path.name}: {size} bytes is over TikTok's 4 GB limit")
    info = MediaInfo.parse(str(path))
    general = next((t for t in info.tracks if t.track_type == "General"), None)
    video = next((t for t in info.tracks if t.track_type == "Video"), None)
    found = _container(general) if general is not None else None
    if found is None or video is None:
        what = getattr(general, "format", None) or "unrecognised"
        raise MediaRejected(
            f"{path.name}: container {what} is not a video TikTok accepts (MP4, MOV or WebM)"
        )
    codec = _CODECS.get(str(video.format or "").lower())
    if codec is None:
        raise MediaRejected(
            f"{path.name}: video codec {video.format or 'unknown'} is not accepted "
            "(H.264, H.265, VP8 or VP9)"
        )
    raw_duration = getattr(general, "duration", None) or getattr(video, "duration", None)
    try:
        duration_ms = int(float(str(raw_duration)))
    except (TypeError, ValueError):
        raise MediaRejected(f"{path.name}: the header states no duration") from None
    return MediaFacts(path, size, found[0], found[1], codec, duration_ms)


def check_video(
    facts: MediaFacts, *, max_duration_sec: int | None = None, cover_ms: int | None = None
) -> None:
    """Raise `MediaRejected` if TikTok's documented limits refuse this video."""
    seconds = facts.duration_ms / 1000
    if facts.duration_ms < MIN_DURATION_MS:
        raise MediaRejected(f"{facts.path.name}: {seconds:.1f} s is shorter than 3 s")
    if facts.duration_ms > MAX_DURATION_MS:
        raise MediaRejected(f"{facts.path.name}: {seconds:.1f} s is longer than 10 min")
    if max_duration_sec is not None and facts.duration_ms > max_duration_sec * 1000:
        raise MediaRejected(
            f"{facts.path.name}: {seconds:.1f} s is longer than this creator may post "
            f"({max_duration_sec} s)"
        )
    if cover_ms is not None and not 0 <= cover_ms <= facts.duration_ms:
        raise MediaRejected(
            f"--cover-ms {cover_ms} is outside the video (0..{facts.duration_ms} ms)"
        )
