"""Skeleton layouts: joint names, graph edges, bone pairs and left/right flip pairs.

One place for the facts that transforms (bones, flips), graphs (edges, centre) and
visualisation (limbs) share. Values follow PYSKL's ``Graph`` and ``JointToBone``.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Layout", "LAYOUTS", "get_layout"]


@dataclass(frozen=True)
class Layout:
    """A skeleton layout.

    Attributes:
        name: PYSKL's layout name (``'nturgb+d'``, ``'coco'``, ``'openpose'``, ``'handmp'``), or
            ``'mediapipe'`` (BlazePose's 33 landmarks; pyskl's own, not one of PYSKL's).
        joint_names: one name per joint, in index order.
        center: the graph's centre joint (PYSKL ``Graph.center``).
        inward: directed edges (child, parent) towards the centre, as PYSKL's ``Graph`` lists them.
        bone_pairs: ``(v1, v2)`` pairs of ``JointToBone``: ``bone[v1] = joint[v1] - joint[v2]``.
        flip_pairs: ``(left, right)`` joint pairs swapped by a horizontal flip.
    """

    name: str
    joint_names: tuple[str, ...]
    center: int
    inward: tuple[tuple[int, int], ...]
    bone_pairs: tuple[tuple[int, int], ...]
    flip_pairs: tuple[tuple[int, int], ...]

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def outward(self) -> tuple[tuple[int, int], ...]:
        return tuple((j, i) for i, j in self.inward)

    @property
    def left(self) -> list[int]:
        return [left for left, _ in self.flip_pairs]

    @property
    def right(self) -> list[int]:
        return [right for _, right in self.flip_pairs]

    @property
    def flip_index(self) -> list[int]:
        """Permutation that maps each joint to its mirror joint."""
        perm = list(range(self.num_joints))
        for left, right in self.flip_pairs:
            perm[left], perm[right] = right, left
        return perm

    @property
    def limbs(self) -> tuple[tuple[int, int], ...]:
        """Undirected limbs for drawing (the graph's edges)."""
        return self.inward


_NTU_NAMES = (
    "spine_base", "spine_mid", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
    "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
)
_COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
_OPENPOSE_NAMES = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)
_MEDIAPIPE_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)
# BlazePose's 33 landmarks as a tree rooted at the nose (COCO's centre): face, then shoulders -> arms
# -> hand points, shoulders -> hips -> legs -> foot points; each edge is (child, parent)
_MEDIAPIPE_INWARD = (
    (1, 0), (2, 1), (3, 2), (7, 3), (4, 0), (5, 4), (6, 5), (8, 6), (9, 0), (10, 0),
    (11, 0), (12, 0), (13, 11), (15, 13), (17, 15), (19, 15), (21, 15), (14, 12), (16, 14), (18, 16),
    (20, 16), (22, 16), (23, 11), (24, 12), (25, 23), (27, 25), (29, 27), (31, 27), (26, 24), (28, 26),
    (30, 28), (32, 28),
)
_HAND_NAMES = ("wrist",) + tuple(
    f"{finger}_{part}"
    for finger, parts in (("thumb", ("cmc", "mcp", "ip", "tip")),) + tuple(
        (f, ("mcp", "pip", "dip", "tip")) for f in ("index", "middle", "ring", "pinky"))
    for part in parts)

LAYOUTS: dict[str, Layout] = {
    "nturgb+d": Layout(
        name="nturgb+d", joint_names=_NTU_NAMES, center=20,
        inward=((0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20), (9, 8),
                (10, 9), (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17),
                (19, 18), (21, 7), (22, 7), (23, 11), (24, 11)),
        # (21, 22) and (20, 20) are PYSKL's pairs; the latter makes bone[20] zero.
        bone_pairs=((0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20), (9, 8),
                    (10, 9), (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16),
                    (18, 17), (19, 18), (21, 22), (20, 20), (22, 7), (23, 24), (24, 11)),
        flip_pairs=((4, 8), (5, 9), (6, 10), (7, 11), (12, 16), (13, 17), (14, 18), (15, 19),
                    (21, 23), (22, 24)),
    ),
    "coco": Layout(
        name="coco", joint_names=_COCO_NAMES, center=0,
        inward=((15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5), (10, 8),
                (8, 6), (5, 0), (6, 0), (1, 0), (3, 1), (2, 0), (4, 2)),
        bone_pairs=((0, 0), (1, 0), (2, 0), (3, 1), (4, 2), (5, 0), (6, 0), (7, 5), (8, 6), (9, 7),
                    (10, 8), (11, 0), (12, 0), (13, 11), (14, 12), (15, 13), (16, 14)),
        flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    ),
    "openpose": Layout(
        name="openpose", joint_names=_OPENPOSE_NAMES, center=1,
        inward=((4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5), (8, 2),
                (5, 1), (2, 1), (0, 1), (15, 0), (14, 0), (17, 15), (16, 14)),
        bone_pairs=((0, 0), (1, 0), (2, 1), (3, 2), (4, 3), (5, 1), (6, 5), (7, 6), (8, 2), (9, 8),
                    (10, 9), (11, 5), (12, 11), (13, 12), (14, 0), (15, 0), (16, 14), (17, 15)),
        flip_pairs=((5, 2), (6, 3), (7, 4), (11, 8), (12, 9), (13, 10), (15, 14), (17, 16)),
    ),
    "mediapipe": Layout(
        name="mediapipe", joint_names=_MEDIAPIPE_NAMES, center=0, inward=_MEDIAPIPE_INWARD,
        # as COCO: each joint minus its parent, the root's bone zero
        bone_pairs=((0, 0),) + tuple(sorted(_MEDIAPIPE_INWARD)),
        flip_pairs=((1, 4), (2, 5), (3, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16), (17, 18),
                    (19, 20), (21, 22), (23, 24), (25, 26), (27, 28), (29, 30), (31, 32)),
    ),
    # ProtoGCN's 2D layout (K400, FineGYM): COCO-17 plus three joints that its Kinetics_Transform appends,
    # the hip centre (17), the spine centre (18) and the shoulder centre (19, the graph's centre).
    "coco_new": Layout(
        name="coco_new", joint_names=_COCO_NAMES + ("hip_center", "spine_center", "shoulder_center"),
        center=19,
        inward=((15, 13), (13, 11), (16, 14), (14, 12), (11, 17), (12, 17), (9, 7), (7, 5), (10, 8), (8, 6),
                (5, 19), (6, 19), (1, 0), (3, 1), (2, 0), (4, 2), (0, 19), (17, 18), (18, 19)),
        bone_pairs=((0, 19), (1, 0), (2, 0), (3, 1), (4, 2), (5, 19), (6, 19), (7, 5), (8, 6), (9, 7),
                    (10, 8), (11, 17), (12, 17), (13, 11), (14, 12), (15, 13), (16, 14), (17, 18),
                    (18, 19), (19, 19)),
        flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    ),
    "handmp": Layout(
        name="handmp", joint_names=_HAND_NAMES, center=0,
        inward=((1, 0), (2, 1), (3, 2), (4, 3), (5, 0), (6, 5), (7, 6), (8, 7), (9, 0), (10, 9),
                (11, 10), (12, 11), (13, 0), (14, 13), (15, 14), (16, 15), (17, 0), (18, 17), (19, 18),
                (20, 19)),
        bone_pairs=((0, 0), (1, 0), (2, 1), (3, 2), (4, 3), (5, 0), (6, 5), (7, 6), (8, 7), (9, 0),
                    (10, 9), (11, 10), (12, 11), (13, 0), (14, 13), (15, 14), (16, 15), (17, 0),
                    (18, 17), (19, 18), (20, 19)),
        flip_pairs=(),  # one hand: a mirror image is the other hand, with the same joint order
    ),
}


def get_layout(name: str) -> Layout:
    """The layout called ``name``; an unknown name lists the known ones."""
    try:
        return LAYOUTS[name]
    except KeyError:
        raise KeyError(f"unknown skeleton layout {name!r}; known layouts: {', '.join(LAYOUTS)}") from None
