"""NTU RGB+D 60/120 raw ``.skeleton`` files -> PYSKL 3D annotations.

The text format (one value group per line)::

    <num_frames>
    per frame:   <num_bodies>
      per body:  <bodyID clippedEdges handLeftConfidence handLeftState handRightConfidence
                  handRightState isRestricted leanX leanY trackingState>
                 <num_joints>                               (25)
                 per joint: <x y z depthX depthY colorX colorY orientW orientX orientY orientZ trackingState>

Body selection follows PYSKL's ``tools/data/ntu_preproc.py`` (which made ``ntu60_3danno.pkl`` /
``ntu120_3danno.pkl``; the thresholds come from CTR-GCN's denoising):

1. frames without any body are dropped; a body ID's joints are stacked in the order seen, starting
   at the (kept-)frame index of its first appearance;
2. bodies are ranked by motion (sum over x, y, z of the variance of all its joint positions);
   a lone body is returned as it is (M = 1, T = its own frame count);
3. otherwise bodies seen in at most 11 frames are dropped; then a body is noise when at least
   69.754 % of its frames have an x spread above 0.8 x their y spread, and the motion of the
   others is re-measured on their plausible frames only (and they are re-ranked);
4. with two or more bodies left, the first is person 1; each other body joins person 1, else
   person 2, when its frame range ``[start, start + n)`` does not overlap that person's range
   (person 2's range starts as the empty ``[0, 0)``); M is then 2 even if person 2 stays empty;
5. leading/trailing frames where both persons are ~0 (|sum| < 1e-3) are cut, and the persons are
   swapped when person 1 is ~0 at the first frame's spine_mid joint but person 2 is not.

The result per sample is ``keypoint`` float16 ``[M, T, 25, 3]`` (M = 1 or 2) in camera
coordinates (metres), ``label = action - 1``, ``frame_dir`` = the file stem.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .ntu_missing import MISSING_NTU60, MISSING_NTU120

__all__ = [
    "NTU60_XSUB_TRAIN_SUBJECTS",
    "NTU120_XSUB_TRAIN_SUBJECTS",
    "NTU60_XVIEW_TRAIN_CAMERAS",
    "NTU120_XSET_TRAIN_SETUPS",
    "NTUParseError",
    "NTUName",
    "parse_name",
    "read_skeleton_file",
    "select_actors",
    "skeleton_to_annotation",
    "ntu_splits",
    "convert_ntu",
]

# Public benchmark definitions (Shahroudy et al. 2016; Liu et al. 2019).
NTU60_XSUB_TRAIN_SUBJECTS = frozenset(
    {1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38}
)
NTU120_XSUB_TRAIN_SUBJECTS = NTU60_XSUB_TRAIN_SUBJECTS | frozenset(
    {
        45,
        46,
        47,
        49,
        50,
        52,
        53,
        54,
        55,
        56,
        57,
        58,
        59,
        70,
        74,
        78,
        80,
        81,
        82,
        83,
        84,
        85,
        86,
        89,
        91,
        92,
        93,
        94,
        95,
        97,
        98,
        100,
        103,
    }
)
NTU60_XVIEW_TRAIN_CAMERAS = frozenset({2, 3})
NTU120_XSET_TRAIN_SETUPS = frozenset(range(2, 33, 2))

NUM_JOINTS = 25
MIN_BODY_FRAMES = 11  # bodies in <= this many frames are noise
SPREAD_RATIO = 0.8  # x spread above this times the y spread: implausible frame
NOISY_FRAME_FRACTION = 0.69754  # bodies with at least this fraction of implausible frames are noise
ZERO_EPS = 1e-3  # a frame / joint with |coordinates| summing below this holds no data

_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


class NTUParseError(ValueError):
    """A ``.skeleton`` file is truncated or malformed (message names the file and line)."""


@dataclass(frozen=True)
class NTUName:
    setup: int
    camera: int
    subject: int
    replication: int
    action: int

    @property
    def label(self) -> int:
        return self.action - 1


def parse_name(name: str) -> NTUName:
    """``'S001C002P003R002A013'`` (or a path to it) -> its setup/camera/subject/replication/action."""
    match = _NAME.search(Path(name).name)
    if match is None:
        raise ValueError(f"{name!r} is not an NTU sample name (SsssCcccPpppRrrrAaaa)")
    return NTUName(*(int(g) for g in match.groups()))


@dataclass
class Body:
    """One tracked body ID: its joints in the frames (kept-frame indices) it appears in."""

    body_id: str
    frames: list[int] = field(default_factory=list)
    joints: list[np.ndarray] = field(default_factory=list)
    motion: float = 0.0

    @property
    def start(self) -> int:
        """Kept-frame index of the first appearance; PYSKL places the joints contiguously from here."""
        return self.frames[0]

    def stacked(self) -> np.ndarray:
        return np.stack(self.joints)  # [n, 25, 3]


def read_skeleton_file(path: str | os.PathLike) -> tuple[list[Body], int]:
    """Parse one ``.skeleton`` file into its bodies (in first-appearance order).

    Returns:
        ``(bodies, num_kept_frames)``: frames without any body are dropped and not counted.

    Raises:
        NTUParseError: truncated or malformed content, naming the file and line.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="ascii", errors="replace").split("\n")
    except OSError as err:
        raise NTUParseError(f"{path}: cannot read ({err.strerror or err})") from None
    pos = 0

    def next_line(what: str) -> str:
        nonlocal pos
        while pos < len(lines) and not lines[pos].strip():
            pos += 1  # tolerate blank lines (trailing newline, CRLF leftovers)
        if pos >= len(lines):
            raise NTUParseError(f"{path}: truncated: file ends where {what} was expected (line {pos + 1})")
        pos += 1
        return lines[pos - 1]

    def next_int(what: str) -> int:
        text = next_line(what)
        try:
            value = int(text.split()[0])
        except (ValueError, IndexError):
            raise NTUParseError(
                f"{path}: line {pos}: expected {what} (an integer), got {text.strip()[:40]!r}"
            ) from None
        if value < 0:
            raise NTUParseError(f"{path}: line {pos}: negative {what} {value}")
        return value

    num_frames = next_int("the frame count")
    bodies: dict[str, Body] = {}
    kept = 0
    for frame in range(num_frames):
        num_bodies = next_int(f"the body count of frame {frame}")
        if num_bodies == 0:
            continue
        for _ in range(num_bodies):
            info = next_line(f"a body-info line in frame {frame}").split()
            if len(info) < 10:
                raise NTUParseError(f"{path}: line {pos}: body-info line has {len(info)} values, expected 10")
            num_joints = next_int(f"the joint count in frame {frame}")
            if num_joints != NUM_JOINTS:
                raise NTUParseError(f"{path}: line {pos}: {num_joints} joints, expected {NUM_JOINTS}")
            rows = []
            for j in range(num_joints):
                values = next_line(f"joint {j} of frame {frame}").split()
                if len(values) < 3:
                    raise NTUParseError(
                        f"{path}: line {pos}: joint line has {len(values)} values, expected 12"
                    )
                rows.append(values[:3])
            try:
                joints = np.array(rows, dtype=np.float32)
            except ValueError:
                raise NTUParseError(
                    f"{path}: lines {pos - num_joints + 1}-{pos}: non-numeric joint values"
                ) from None
            body = bodies.setdefault(info[0], Body(info[0]))
            body.frames.append(kept)
            body.joints.append(joints)
        kept += 1
    for body in bodies.values():
        body.motion = _motion(body.stacked())
    return list(bodies.values()), kept


def _motion(joints: np.ndarray) -> float:
    """Sum over x, y, z of the variance of every joint position (frames x joints pooled)."""
    return float(np.sum(np.var(joints.reshape(-1, 3), axis=0)))


def _plausible_frames(joints: np.ndarray) -> np.ndarray:
    """Frames whose x spread is at most ``SPREAD_RATIO`` times their y spread."""
    spread = joints.max(axis=1) - joints.min(axis=1)  # [n, 3]
    return np.flatnonzero(spread[:, 0] <= SPREAD_RATIO * spread[:, 1])


def _longest_first(bodies: Sequence[Body]) -> Body:
    return max(bodies, key=lambda b: len(b.joints))


def select_actors(bodies: Sequence[Body], num_frames: int | None = None) -> np.ndarray:
    """Denoise the bodies and merge them into at most two persons (PYSKL's rules, module docstring).

    Returns:
        float32 ``[M, T, 25, 3]`` with M in {1, 2}.
    """
    if not bodies:
        return np.zeros((1, 0, NUM_JOINTS, 3), np.float32)
    ranked = sorted(bodies, key=lambda b: -b.motion)  # stable: ties keep first-appearance order
    if len(ranked) == 1:
        return ranked[0].stacked()[None]
    long_enough = [b for b in ranked if len(b.joints) > MIN_BODY_FRAMES]
    if not long_enough:
        # PYSKL's script fails on such a file; keep the longest-tracked body instead.
        return _longest_first(ranked).stacked()[None]
    if len(long_enough) == 1:
        return long_enough[0].stacked()[None]
    survivors = []
    for body in long_enough:
        joints = body.stacked()
        plausible = _plausible_frames(joints)
        if len(plausible) == len(joints):
            survivors.append(body)
            continue
        if 1 - len(plausible) / len(joints) >= NOISY_FRAME_FRACTION:
            continue
        body.motion = min(body.motion, _motion(joints[plausible]))
        survivors.append(body)
    if not survivors:
        # PYSKL's script fails here too; keep the body with the most motion.
        survivors = long_enough[:1]
    survivors.sort(key=lambda b: -b.motion)
    if len(survivors) == 1:
        return survivors[0].stacked()[None]
    end_frame = max(b.start + len(b.joints) for b in survivors)
    out = np.zeros((2, end_frame, NUM_JOINTS, 3), np.float32)
    first = survivors[0]
    spans = [[first.start, first.start + len(first.joints)], [0, 0]]
    out[0, spans[0][0] : spans[0][1]] = first.stacked()
    for body in survivors[1:]:
        start, end = body.start, body.start + len(body.joints)
        for person, span in enumerate(spans):
            if max(span[0], start) >= min(span[1], end):  # no overlap
                out[person, start:end] = body.stacked()
                span[0], span[1] = min(span[0], start), max(span[1], end)
                break
    present = np.abs(out).sum(axis=(0, 2, 3)) >= ZERO_EPS
    if present.any():
        first_frame, last_frame = np.flatnonzero(present)[[0, -1]]
        out = out[:, first_frame : last_frame + 1]
    if np.abs(out[0, 0, 1]).sum() < ZERO_EPS and np.abs(out[1, 0, 1]).sum() > ZERO_EPS:
        out = out[::-1]
    return np.ascontiguousarray(out)


def skeleton_to_annotation(path: str | os.PathLike) -> dict:
    """One ``.skeleton`` file -> a PYSKL annotation dict (``frame_dir``, ``label``, ``keypoint``, ...)."""
    path = Path(path)
    name = parse_name(path.stem)
    bodies, num_frames = read_skeleton_file(path)
    keypoint = select_actors(bodies, num_frames)
    if keypoint.shape[1] == 0:
        raise NTUParseError(f"{path}: no frame holds a skeleton")
    return {
        "frame_dir": path.stem.split(".")[0],
        "label": name.label,
        "keypoint": keypoint.astype(np.float16),
        "total_frames": int(keypoint.shape[1]),
    }


def ntu_splits(frame_dirs: Iterable[str], dataset: str) -> dict[str, list[str]]:
    """PYSKL's split lists: ntu60 -> xsub/xview, ntu120 -> xsub/xset (``*_train`` / ``*_val``)."""
    frame_dirs = list(frame_dirs)
    names = [parse_name(f) for f in frame_dirs]
    if dataset == "ntu60":
        rules = {
            "xsub": lambda n: n.subject in NTU60_XSUB_TRAIN_SUBJECTS,
            "xview": lambda n: n.camera in NTU60_XVIEW_TRAIN_CAMERAS,
        }
    elif dataset == "ntu120":
        rules = {
            "xsub": lambda n: n.subject in NTU120_XSUB_TRAIN_SUBJECTS,
            "xset": lambda n: n.setup in NTU120_XSET_TRAIN_SETUPS,
        }
    else:
        raise ValueError(f"dataset must be 'ntu60' or 'ntu120', got {dataset!r}")
    split: dict[str, list[str]] = {}
    for prefix, is_train in rules.items():
        split[f"{prefix}_train"] = [f for f, n in zip(frame_dirs, names) if is_train(n)]
        split[f"{prefix}_val"] = [f for f, n in zip(frame_dirs, names) if not is_train(n)]
    return split


def in_ntu60(frame_dir: str) -> bool:
    """NTU RGB+D 60 holds actions A001-A060 (recorded in setups S001-S017)."""
    return parse_name(frame_dir).action <= 60


def _convert_one(path: str) -> tuple[str, dict | None, str | None]:
    try:
        return path, skeleton_to_annotation(path), None
    except NTUParseError as err:
        return path, None, str(err)
    except Exception as err:  # one bad file must not stop the others
        return path, None, f"{path}: {type(err).__name__}: {err}"


@dataclass
class ConversionReport:
    annotations: dict[str, dict]  # dataset name -> PYSKL annotation dict
    errors: list[tuple[str, str]]  # (file, message) per failed file
    skipped_missing: list[str]  # known sample names without skeletons


def convert_ntu(
    files: Iterable[str | os.PathLike],
    workers: int = 0,
    skip_missing: bool = True,
    datasets: Sequence[str] = ("ntu60", "ntu120"),
    progress: Callable[[Iterable], Iterable] | None = None,
) -> ConversionReport:
    """Convert ``.skeleton`` files to PYSKL annotation dicts, one per requested dataset.

    Files that fail are reported in ``errors`` and the others still complete. ``ntu60`` keeps the
    samples with actions A001-A060, ``ntu120`` keeps all; when both are requested, ``ntu120`` is
    made only if some sample has an action above 60 (PYSKL's rule). A dataset with no sample is
    left out.

    Args:
        workers: processes (0 = in this process).
        progress: optional wrapper around the result iterator (e.g. ``tqdm`` with ``total``).
    """
    files = sorted({str(f) for f in files}, key=lambda p: Path(p).name)
    missing = MISSING_NTU120
    skipped = [Path(f).stem for f in files if skip_missing and Path(f).stem in missing]
    todo = [f for f in files if not (skip_missing and Path(f).stem in missing)]
    if workers and workers > 1 and len(todo) > 1:
        import multiprocessing as mp

        # fork starts workers without re-importing the package; the parsing is plain numpy.
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        with mp.get_context(method).Pool(workers) as pool:
            iterator = pool.imap(_convert_one, todo, chunksize=16)
            results = list(progress(iterator) if progress else iterator)
    else:
        iterator = map(_convert_one, todo)
        results = list(progress(iterator) if progress else iterator)
    samples = [ann for _, ann, err in results if ann is not None]
    errors = [(path, err) for path, ann, err in results if err is not None]
    out: dict[str, dict] = {}
    extended = any(not in_ntu60(s["frame_dir"]) for s in samples)
    for dataset in datasets:
        if dataset == "ntu120" and len(datasets) > 1 and not extended:
            continue  # as PYSKL: ntu120 only when NTU RGB+D 120 files (actions > 60) are present
        chosen = [s for s in samples if dataset == "ntu120" or in_ntu60(s["frame_dir"])]
        if chosen:
            out[dataset] = {
                "split": ntu_splits([s["frame_dir"] for s in chosen], dataset),
                "annotations": chosen,
            }
    return ConversionReport(out, errors, skipped)


MISSING = {"ntu60": MISSING_NTU60, "ntu120": MISSING_NTU120}
