"""Drawing skeletons, track ids and labels on BGR frames (OpenCV, in place)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["blank_canvas", "draw_skeleton", "draw_text_block", "track_color"]

# Distinct BGR colours, cycled by track id.
_PALETTE = np.array(
    [
        (255, 128, 0),
        (0, 200, 255),
        (60, 220, 60),
        (255, 0, 255),
        (0, 80, 255),
        (255, 255, 0),
        (180, 105, 255),
        (0, 255, 160),
        (128, 128, 255),
        (200, 200, 200),
    ],
    dtype=np.int32,
)


def track_color(track_id: int) -> tuple[int, int, int]:
    """A stable BGR colour for a track id."""
    return tuple(int(c) for c in _PALETTE[int(track_id) % len(_PALETTE)])


def blank_canvas(height: int, width: int, value: int = 0) -> np.ndarray:
    """A uint8 BGR image filled with ``value``."""
    return np.full((int(height), int(width), 3), value, dtype=np.uint8)


def draw_skeleton(
    frame: np.ndarray,
    keypoint: np.ndarray,
    score: np.ndarray | None = None,
    layout: str = "coco",
    threshold: float = 0.3,
    track_ids: Sequence[int] | None = None,
    radius: int | None = None,
    thickness: int | None = None,
    with_ids: bool = True,
) -> np.ndarray:
    """Draw persons' limbs and joints on ``frame`` (modified in place and returned).

    Args:
        frame: uint8 BGR ``[H, W, 3]``.
        keypoint: ``[M, V, 2]`` (or ``[V, 2]``) pixel coordinates.
        score: ``[M, V]`` joint scores; joints at or below ``threshold`` are not drawn (None: all drawn,
            except joints at exactly (0, 0), PYSKL's "missing").
        layout: a :mod:`pyskl.utils.layouts` name giving the limbs.
        track_ids: colour / label per person (default 0..M-1).
        radius, thickness: joint dot radius and limb width in pixels (default: from the frame size).
        with_ids: write ``#id`` above each person.
    """
    import cv2

    from ..utils.layouts import get_layout

    kp = np.asarray(keypoint, dtype=np.float32)
    if kp.ndim == 2:
        kp = kp[None]
        score = None if score is None else np.asarray(score)[None]
    if kp.ndim != 3 or kp.shape[-1] < 2:
        raise ValueError(f"keypoint must be [M, V, 2] or [V, 2], got shape {np.shape(keypoint)}")
    layout_obj = get_layout(layout)
    if kp.shape[1] != layout_obj.num_joints:
        raise ValueError(f"keypoint has {kp.shape[1]} joints; layout {layout!r} has {layout_obj.num_joints}")
    visible = np.any(kp[..., :2] != 0, axis=-1)
    if score is not None:
        visible &= np.asarray(score) > threshold
    size = max(frame.shape[:2])
    radius = radius or max(2, size // 240)
    thickness = thickness or max(1, size // 400)
    ids = list(range(len(kp))) if track_ids is None else list(track_ids)
    pts = np.round(kp[..., :2]).astype(np.int32)
    for m in range(len(kp)):
        color = track_color(ids[m])
        for a, b in layout_obj.limbs:
            if visible[m, a] and visible[m, b]:
                cv2.line(
                    frame,
                    tuple(int(v) for v in pts[m, a]),
                    tuple(int(v) for v in pts[m, b]),
                    color,
                    thickness,
                    cv2.LINE_AA,
                )
        for v in np.flatnonzero(visible[m]):
            cv2.circle(frame, tuple(int(c) for c in pts[m, v]), radius, (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(frame, tuple(int(c) for c in pts[m, v]), max(1, radius - 1), color, -1, cv2.LINE_AA)
        if with_ids and visible[m].any():
            top = pts[m][visible[m]]
            draw_text_block(
                frame,
                [f"#{ids[m]}"],
                (int(top[:, 0].min()), int(top[:, 1].min()) - 2 * radius),
                color,
                anchor="bottom",
            )
    return frame


def draw_text_block(
    frame: np.ndarray,
    lines: Sequence[str],
    origin: tuple[int, int],
    color: tuple[int, int, int] = (255, 255, 255),
    scale: float | None = None,
    anchor: str = "top",
    avoid: Sequence[tuple[int, int, int, int]] = (),
) -> tuple[int, int, int, int] | None:
    """Write ``lines`` in white on a dark box framed in ``color`` (in place).

    Args:
        origin: the box's top-left corner (``anchor='top'``) or bottom-left corner (``'bottom'``, for
            labels above a person).
        avoid: boxes (x1, y1, x2, y2) already drawn: the new box moves above, beside or below any it
            would overlap. The box is kept inside the frame.

    Returns:
        The box drawn (x1, y1, x2, y2), or None when there are no lines.
    """
    import cv2

    if not lines:
        return None
    scale = scale or max(0.4, max(frame.shape[:2]) / 1600)
    thick = max(1, round(scale * 2))
    sizes = [cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0] for line in lines]
    line_h = max(s[1] for s in sizes) + int(8 * scale) + 2
    width, height = max(s[0] for s in sizes) + 8, line_h * len(lines) + 4
    fh, fw = frame.shape[:2]
    x, y = int(origin[0]), int(origin[1])
    if anchor == "bottom":
        y -= height
    x = min(max(0, x), max(0, fw - width))
    y = min(max(0, y), max(0, fh - height))

    def hits(x: int, y: int) -> list:
        return [b for b in avoid if x < b[2] and b[0] < x + width and y < b[3] and b[1] < y + height]

    for _ in range(len(avoid) + 1):
        hit = hits(x, y)
        if not hit:
            break
        # try above, then beside (left, right), then below the boxes it would cover
        top, bottom = min(b[1] for b in hit), max(b[3] for b in hit)
        left, right = min(b[0] for b in hit), max(b[2] for b in hit)
        options = [(x, top - height - 2), (left - width - 2, y), (right + 2, y), (x, bottom + 2)]
        inside = [(cx, cy) for cx, cy in options if 0 <= cx <= fw - width and 0 <= cy <= fh - height]
        free = [(cx, cy) for cx, cy in inside if not hits(cx, cy)]
        x, y = (free or inside or [(x, y)])[0]
    sub = frame[y : y + height, x : x + width]
    sub[:] = (sub.astype(np.uint16) // 4).astype(np.uint8)  # a dark box keeps the text readable
    cv2.rectangle(frame, (x, y), (x + width - 1, y + height - 1), color, max(1, thick - 1))
    for i, line in enumerate(lines):
        cv2.putText(
            frame,
            line,
            (x + 4, y + (i + 1) * line_h - 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            thick,
            cv2.LINE_AA,
        )
    return (x, y, x + width, y + height)
