"""Per-track label timelines from sliding-window predictions, written as JSON and CSV.

JSON layout (``TIMELINE_SCHEMA`` is its JSON Schema)::

    {"video": str, "fps": float, "frames": int, "width": int, "height": int, "window": int, "stride": int,
     "classes": [str], "segments": [{"track": int, "start": int, "end": int, "start_time": float,
     "end_time": float, "label": int, "label_name": str, "score": float}]}

``track`` is -1 for predictions over everyone in the frame (``pyskl demo --scene``);
``start``/``end`` are inclusive frame indices; ``score`` is the mean top-1 probability of the merged
predictions; consecutive predictions of one track with the same top-1 label are merged.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .streaming import TrackPrediction

__all__ = ["TIMELINE_SCHEMA", "Timeline", "validate_timeline"]

_SEGMENT_KEYS = ("track", "start", "end", "start_time", "end_time", "label", "label_name", "score")

TIMELINE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["video", "fps", "frames", "width", "height", "window", "stride", "classes", "segments"],
    "properties": {
        "video": {"type": "string"},
        "fps": {"type": "number", "exclusiveMinimum": 0},
        "frames": {"type": "integer", "minimum": 0},
        "width": {"type": "integer", "minimum": 1},
        "height": {"type": "integer", "minimum": 1},
        "window": {"type": "integer", "minimum": 1},
        "stride": {"type": "integer", "minimum": 1},
        "classes": {"type": "array", "items": {"type": "string"}},
        "segments": {
            "type": "array",
            "items": {
                "type": "object",
                "required": list(_SEGMENT_KEYS),
                "additionalProperties": False,
                "properties": {
                    "track": {"type": "integer", "minimum": -1},
                    "start": {"type": "integer", "minimum": 0},
                    "end": {"type": "integer", "minimum": 0},
                    "start_time": {"type": "number", "minimum": 0},
                    "end_time": {"type": "number", "minimum": 0},
                    "label": {"type": "integer", "minimum": 0},
                    "label_name": {"type": "string"},
                    "score": {"type": "number", "minimum": 0, "maximum": 1},
                },
            },
        },
    },
}


class Timeline:
    """Merges predictions into per-track segments."""

    def __init__(self, classes: Sequence[str], fps: float) -> None:
        self.classes, self.fps = list(classes), float(fps)
        self.segments: list[dict] = []
        self._open: dict[int, dict] = {}

    def add(self, pred: TrackPrediction) -> None:
        seg = self._open.get(pred.track)
        if seg is not None and seg["label"] == pred.label and pred.start <= seg["end"] + 1:
            seg["end"] = pred.end
            seg["_scores"].append(pred.score)
            return
        if seg is not None:
            self._close(pred.track)
        self._open[pred.track] = {
            "track": int(pred.track),
            "start": int(pred.start),
            "end": int(pred.end),
            "label": pred.label,
            "_scores": [pred.score],
        }

    def _close(self, track: int) -> None:
        seg = self._open.pop(track)
        scores = seg.pop("_scores")
        label = int(seg["label"])
        seg.update(
            label=label,
            label_name=self.classes[label] if label < len(self.classes) else str(label),
            score=float(sum(scores) / len(scores)),
            start_time=round(seg["start"] / self.fps, 4),
            end_time=round((seg["end"] + 1) / self.fps, 4),
        )
        self.segments.append({k: seg[k] for k in _SEGMENT_KEYS})

    def finish(self) -> list[dict]:
        for track in list(self._open):
            self._close(track)
        self.segments.sort(key=lambda s: (s["track"], s["start"]))
        return self.segments

    def write(self, json_path: str | os.PathLike, csv_path: str | os.PathLike | None, **header: Any) -> None:
        """Write ``{header..., classes, segments}`` as JSON and the segments as CSV (atomic renames)."""
        segments = self.finish()
        doc = dict(header, fps=self.fps, classes=self.classes, segments=segments)
        json_path = Path(json_path)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = json_path.with_name(f".{json_path.name}.tmp")
        tmp.write_text(json.dumps(doc, indent=1))
        tmp.replace(json_path)
        if csv_path is not None:
            csv_path = Path(csv_path)
            tmp = csv_path.with_name(f".{csv_path.name}.tmp")
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=list(_SEGMENT_KEYS))
                writer.writeheader()
                writer.writerows(segments)
            tmp.replace(csv_path)


_TYPES = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float)}


def _check(value: Any, schema: dict, where: str) -> None:
    kind = schema.get("type")
    if kind is not None:
        ok = isinstance(value, _TYPES[kind]) and not isinstance(value, bool)
        if not ok:
            raise ValueError(f"{where}: expected {kind}, got {type(value).__name__} ({value!r:.60})")
    if "minimum" in schema and value < schema["minimum"]:
        raise ValueError(f"{where}: {value} < minimum {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        raise ValueError(f"{where}: {value} > maximum {schema['maximum']}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        raise ValueError(f"{where}: {value} <= exclusive minimum {schema['exclusiveMinimum']}")
    if kind == "object":
        missing = [k for k in schema.get("required", []) if k not in value]
        if missing:
            raise ValueError(f"{where}: missing keys {missing}")
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            extra = sorted(set(value) - set(props))
            if extra:
                raise ValueError(f"{where}: unexpected keys {extra}")
        for key, sub in props.items():
            if key in value:
                _check(value[key], sub, f"{where}.{key}")
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            _check(item, schema["items"], f"{where}[{i}]")


def validate_timeline(doc: dict) -> None:
    """Check a timeline document against :data:`TIMELINE_SCHEMA` (and ``start <= end``, label names);
    raises ValueError naming the first offending field."""
    _check(doc, TIMELINE_SCHEMA, "timeline")
    for i, seg in enumerate(doc["segments"]):
        if seg["start"] > seg["end"] or seg["end"] >= max(doc["frames"], 1):
            raise ValueError(
                f"timeline.segments[{i}]: frames {seg['start']}-{seg['end']} outside 0-{doc['frames'] - 1}"
            )
        if seg["label"] < len(doc["classes"]) and seg["label_name"] != doc["classes"][seg["label"]]:
            raise ValueError(
                f"timeline.segments[{i}]: label_name {seg['label_name']!r} is not class {seg['label']}"
            )
