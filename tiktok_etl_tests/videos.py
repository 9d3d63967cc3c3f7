"""Real video files for the publishing tests, encoded with PyAV (FFmpeg in a wheel).

Frames are seeded noise, which barely compresses, so a few seconds at lossless settings
make a file of a chosen size; nothing binary is committed.
"""

from __future__ import annotations

import random
from pathlib import Path

import av


def encode_video(
    path: Path,
    *,
    seconds: float,
    fps: int = 15,
    width: int = 640,
    height: int = 360,
    codec: str = "libx264",
    container: str | None = None,
    noise: bool = True,
) -> Path:
    """Write `seconds` of video to `path`; `container` defaults to the file's extension."""
    rng = random.Random(7)
    options = {"preset": "ultrafast", "qp": "0"} if codec == "libx264" else {}
    with av.open(str(path), "w", format=container) as output:
        stream = output.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = options
        for index in range(round(seconds * fps)):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                plane.update(
                    rng.randbytes(plane.buffer_size) if noise else bytes(plane.buffer_size)
                )
            frame.pts = index
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return path
