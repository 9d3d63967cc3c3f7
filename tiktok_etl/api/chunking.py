"""TikTok's chunk arithmetic for `FILE_UPLOAD` (Media Transfer Guide), pure and exact.

The rules, as TikTok documents them:

- `total_chunk_count = floor(video_size / chunk_size)`: the bytes left over are folded
  into the last chunk, which may therefore exceed `chunk_size` (up to 128 MB);
- every chunk is 5 MB to 64 MB, except that last one;
- a video under 5 MB is one chunk of its own size (`chunk_size == video_size`); a video
  over 64 MB must be chunked; 1 to 1,000 chunks, uploaded in order;
- each `PUT` carries `Content-Range: bytes {first}-{last}/{video_size}` (inclusive) and
  the chunk's `Content-Length`.

MB are binary (MiB), as in TikTok's reference clients. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

MB = 1024 * 1024
MIN_CHUNK = 5 * MB
MAX_CHUNK = 64 * MB
MAX_LAST_CHUNK = 128 * MB
MAX_CHUNKS = 1000
DEFAULT_CHUNK = 10 * MB


class ChunkPlanError(ValueError):
    """A (video_size, chunk_size, total_chunk_count) triple TikTok would refuse."""


@dataclass(frozen=True)
class Chunk:
    """One `PUT` of the upload: bytes `first..last` (inclusive) of the file."""

    index: int
    first: int
    last: int
    total: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.first}-{self.last}/{self.total}"


@dataclass(frozen=True)
class ChunkPlan:
    """The `source_info` numbers of an init request and the chunks they imply."""

    video_size: int
    chunk_size: int
    total_chunk_count: int

    def __post_init__(self) -> None:
        check_plan(self.video_size, self.chunk_size, self.total_chunk_count)

    def chunks(self) -> Iterator[Chunk]:
        for index in range(self.total_chunk_count):
            first = index * self.chunk_size
            is_last = index == self.total_chunk_count - 1
            last = self.video_size - 1 if is_last else first + self.chunk_size - 1
            yield Chunk(index, first, last, self.video_size)

    def chunk(self, index: int) -> Chunk:
        if not 0 <= index < self.total_chunk_count:
            raise IndexError(index)
        return next(c for c in self.chunks() if c.index == index)

    @property
    def last_chunk_size(self) -> int:
        return self.video_size - (self.total_chunk_count - 1) * self.chunk_size

    def source_info(self) -> dict[str, object]:
        return {
            "source": "FILE_UPLOAD",
            "video_size": self.video_size,
            "chunk_size": self.chunk_size,
            "total_chunk_count": self.total_chunk_count,
        }


def check_plan(video_size: int, chunk_size: int, total_chunk_count: int) -> None:
    """Raise `ChunkPlanError` naming the rule a triple breaks."""
    if video_size < 1:
        raise ChunkPlanError("video_size must be at least 1 byte")
    if video_size < MIN_CHUNK:
        if chunk_size != video_size or total_chunk_count != 1:
            raise ChunkPlanError(
                f"a video under 5 MB ({video_size} bytes) is one chunk of its own size"
            )
        return
    if not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        raise ChunkPlanError(f"chunk_size {chunk_size} is outside 5 MB..64 MB")
    if chunk_size > video_size:
        raise ChunkPlanError(f"chunk_size {chunk_size} exceeds video_size {video_size}")
    expected = video_size // chunk_size
    if total_chunk_count != expected:
        raise ChunkPlanError(
            f"total_chunk_count must be floor({video_size} / {chunk_size}) = {expected}, "
            f"not {total_chunk_count}"
        )
    if not 1 <= total_chunk_count <= MAX_CHUNKS:
        raise ChunkPlanError(f"{total_chunk_count} chunks is outside 1..{MAX_CHUNKS}")
    last = video_size - (total_chunk_count - 1) * chunk_size
    if last > MAX_LAST_CHUNK:
        raise ChunkPlanError(f"the last chunk ({last} bytes) exceeds 128 MB")


def plan_chunks(video_size: int, chunk_size: int = DEFAULT_CHUNK) -> ChunkPlan:
    """The plan TikTok accepts for a file of `video_size` bytes, near `chunk_size`.

    Under 5 MB: one chunk of the file's size. Up to 64 MB and no bigger than the wanted
    chunk: one chunk. Otherwise `chunk_size` clamped to 5..64 MB and raised, if needed,
    so that the count stays within 1,000.
    """
    if video_size < 1:
        raise ChunkPlanError("the video is empty")
    if video_size < MIN_CHUNK or (video_size <= MAX_CHUNK and video_size <= chunk_size):
        return ChunkPlan(video_size, video_size, 1)
    size = min(max(chunk_size, MIN_CHUNK), MAX_CHUNK, video_size)
    if video_size // size > MAX_CHUNKS:
        size = -(-video_size // MAX_CHUNKS)
        if size > MAX_CHUNK:
            raise ChunkPlanError(f"a {video_size}-byte video cannot fit in {MAX_CHUNKS} chunks")
    return ChunkPlan(video_size, size, video_size // size)
