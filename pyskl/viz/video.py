"""Writing videos (PyAV H.264, OpenCV mp4v fallback), GIFs and PNGs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["VideoWriter", "read_video_frames", "write_gif", "write_png"]


class VideoWriter:
    """Stream BGR frames into an mp4: H.264 through PyAV when available, else OpenCV's mp4v.

    Args:
        path: output file (folders are created).
        fps: frame rate.
        codec: 'h264' (default; falls back to mp4v when PyAV or libx264 is missing) or 'mp4v'.
        crf: H.264 quality (lower is better; 23 is x264's default).
        preset: x264 speed preset; 'ultrafast' (default) encodes 1080p several times faster than
            'veryfast' for about twice the file size, which suits streaming demos.

    Frames must all have the size of the first one; odd sizes are padded by one pixel for H.264's
    4:2:0 chroma. ``writer.codec`` says which codec was used.

    Example:
        >>> with VideoWriter("out.mp4", fps=30) as w:
        ...     w.write(frame)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float = 30.0,
        codec: str = "h264",
        crf: int = 23,
        preset: str = "ultrafast",
    ) -> None:
        if codec not in ("h264", "mp4v"):
            raise ValueError(f"codec must be 'h264' or 'mp4v', got {codec!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps, self.crf, self.codec, self.preset = float(fps), crf, codec, preset
        self.frames = 0
        self._size: tuple[int, int] | None = None
        self._av: Any = None
        self._cv: Any = None

    def _open(self, h: int, w: int) -> None:
        self._size = (h, w)
        if self.codec == "h264":
            try:
                self._open_av(h, w)
                return
            except Exception:  # noqa: BLE001 - no PyAV / no libx264: use OpenCV
                self._av = None
                self.codec = "mp4v"
        import cv2

        self._cv = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
        if not self._cv.isOpened():
            raise RuntimeError(f"{self.path}: OpenCV cannot open an mp4v writer")

    def _open_av(self, h: int, w: int) -> None:
        from fractions import Fraction

        import av

        container = av.open(str(self.path), mode="w")
        try:
            stream = container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001))
            stream.width, stream.height = w + w % 2, h + h % 2
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(self.crf), "preset": self.preset}
        except Exception:
            container.close()
            raise
        self._av = (container, stream)

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 BGR frame ``[H, W, 3]``."""
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"{self.path}: frames must be uint8 [H, W, 3], got {frame.dtype} {frame.shape}")
        if self._size is None:
            self._open(*frame.shape[:2])
        elif frame.shape[:2] != self._size:
            raise ValueError(
                f"{self.path}: frame {self.frames} is {frame.shape[:2]}, the video is {self._size}"
            )
        if self._av is not None:
            import av
            import cv2

            container, stream = self._av
            h, w = self._size
            if h % 2 or w % 2:
                frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            # OpenCV's BGR -> I420 (BT.601, video range: what x264's yuv420p expects) is several times
            # cheaper than letting PyAV's swscale convert a bgr24 frame, and at least as accurate
            yuv = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_BGR2YUV_I420)
            for packet in stream.encode(av.VideoFrame.from_ndarray(yuv, format="yuv420p")):
                container.mux(packet)
        else:
            self._cv.write(frame)
        self.frames += 1

    def close(self) -> None:
        if self._av is not None:
            container, stream = self._av
            for packet in stream.encode():
                container.mux(packet)
            container.close()
            self._av = None
        if self._cv is not None:
            self._cv.release()
            self._cv = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_video_frames(path: str | os.PathLike) -> list[np.ndarray]:
    """All frames of a (small) video as BGR arrays; for tests and previews."""
    import cv2

    cap = cv2.VideoCapture(os.fspath(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def write_gif(path: str | os.PathLike, frames: Sequence[np.ndarray], fps: float = 10.0) -> Path:
    """Write BGR frames as an animated GIF (Pillow, which matplotlib brings)."""
    from PIL import Image

    if not frames:
        raise ValueError(f"{path}: no frames to write")
    images = [Image.fromarray(np.ascontiguousarray(f[..., ::-1])) for f in frames]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=max(1, round(1000 / fps)), loop=0)
    return path


def write_png(path: str | os.PathLike, frame: np.ndarray) -> Path:
    """Write one BGR frame as PNG."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), frame):
        raise RuntimeError(f"{path}: OpenCV could not write the PNG")
    return path
