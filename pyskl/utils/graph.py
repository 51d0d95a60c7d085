"""Skeleton graphs: the adjacency tensors PYSKL's GCNs are built on.

``Graph(layout, mode).A`` equals PYSKL's ``pyskl.utils.graph.Graph(...).A`` (float64 numpy array)
for PYSKL's layouts (``nturgb+d``, ``coco``, ``openpose``, ``handmp``) and the modes ``spatial``,
``stgcn_spatial``, ``binary_adj`` and ``random``; ``mediapipe`` (BlazePose's 33 landmarks, pyskl's own
layout) is built by the same rules. Conventions (facts of PYSKL's graphs):

* an edge list ``[(i, j), ...]`` becomes ``A[j, i] = 1`` (column = source, row = target);
* ``normalize_digraph`` divides each column by its sum (zero columns stay zero);
* ``hop_dis`` is the hop distance on the undirected skeleton, ``inf`` beyond ``max_hop``.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from .layouts import get_layout

__all__ = ["Graph", "edge2mat", "normalize_digraph", "get_hop_distance", "k_adjacency", "MODES"]

MODES = ("spatial", "stgcn_spatial", "binary_adj", "random")


def edge2mat(links: Iterable[tuple[int, int]], num_node: int) -> np.ndarray:
    """Binary ``[V, V]`` matrix with ``A[j, i] = 1`` for every link ``(i, j)``."""
    A = np.zeros((num_node, num_node))
    links = np.asarray(list(links), dtype=np.int64).reshape(-1, 2)
    A[links[:, 1], links[:, 0]] = 1
    return A


def normalize_digraph(A: np.ndarray, dim: int = 0) -> np.ndarray:
    """``A @ diag(1 / A.sum(dim))``; entries with a zero sum stay zero."""
    degree = A.sum(dim)
    inv = np.zeros_like(degree, dtype=np.float64)
    np.divide(1.0, degree, out=inv, where=degree > 0)
    return A @ np.diag(inv)


def get_hop_distance(num_node: int, edges: Iterable[tuple[int, int]], max_hop: int = 1) -> np.ndarray:
    """Hop distance between joints on the undirected graph; ``inf`` when farther than ``max_hop``."""
    A = np.eye(num_node)
    for i, j in edges:
        A[i, j] = A[j, i] = 1
    hop_dis = np.full((num_node, num_node), np.inf)
    reach = np.eye(num_node)
    for d in range(max_hop + 1):
        if d > 0:
            reach = reach @ A
        hop_dis[(reach > 0) & np.isinf(hop_dis)] = d
    return hop_dis


def k_adjacency(A: np.ndarray, k: int, with_self: bool = False, self_factor: float = 1) -> np.ndarray:
    """Joints exactly ``k`` hops apart (binary), as MS-G3D's multi-scale adjacency uses."""
    A = np.asarray(A)
    eye = np.eye(len(A), dtype=A.dtype)
    if k == 0:
        return eye
    reach_k = np.minimum(np.linalg.matrix_power(A + eye, k), 1)
    reach_k1 = np.minimum(np.linalg.matrix_power(A + eye, k - 1), 1)
    Ak = reach_k - reach_k1
    if with_self:
        Ak = Ak + self_factor * eye
    return Ak


class Graph:
    """The adjacency tensor of a skeleton layout.

    Args:
        layout: ``'nturgb+d'``, ``'coco'``, ``'openpose'``, ``'handmp'`` or ``'mediapipe'``.
        mode: ``'spatial'`` (identity, inward, outward; [3, V, V]), ``'stgcn_spatial'`` (ST-GCN's
            distance partition, ``1 + 2 * max_hop`` subsets), ``'binary_adj'`` ([1, V, V], no self
            loops) or ``'random'`` (``randn(num_filter, V*nx_node, V*nx_node) * init_std + init_off``
            drawn from numpy's global RNG, as PYSKL does).
        max_hop: neighbourhood radius for ``hop_dis`` and ``stgcn_spatial``.
        nx_node: node multiplier; only valid with ``mode='random'``.
        num_filter, init_std, init_off: ``random`` mode parameters.

    Attributes:
        A: float64 array ``[K, V, V]``.
        hop_dis: float64 array ``[V, V]``.

    Example:
        >>> Graph('nturgb+d', 'spatial').A.shape
        (3, 25, 25)
    """

    def __init__(self, layout: str = "coco", mode: str = "spatial", max_hop: int = 1,
                 nx_node: int = 1, num_filter: int = 3, init_std: float = 0.02,
                 init_off: float = 0.04) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown graph mode {mode!r}; known modes: {', '.join(MODES)}")
        if nx_node != 1 and mode != "random":
            raise ValueError(f"nx_node={nx_node} needs mode='random', got mode={mode!r}")
        self.layout = layout
        self.mode = mode
        self.max_hop = max_hop
        self.nx_node = nx_node
        self.num_filter = num_filter
        self.init_std = init_std
        self.init_off = init_off

        spec = get_layout(layout)
        self.num_node = spec.num_joints
        self.center = spec.center
        self.inward = [tuple(e) for e in spec.inward]
        self.outward = [(j, i) for i, j in self.inward]
        self.self_link = [(i, i) for i in range(self.num_node)]
        self.neighbor = self.inward + self.outward
        self.hop_dis = get_hop_distance(self.num_node, self.inward, max_hop)
        self.A = getattr(self, mode)()

    def __repr__(self) -> str:
        return f"Graph(layout={self.layout!r}, mode={self.mode!r}, A.shape={tuple(self.A.shape)})"

    def spatial(self) -> np.ndarray:
        eye = edge2mat(self.self_link, self.num_node)
        inward = normalize_digraph(edge2mat(self.inward, self.num_node))
        outward = normalize_digraph(edge2mat(self.outward, self.num_node))
        return np.stack((eye, inward, outward))

    def stgcn_spatial(self) -> np.ndarray:
        hop = self.hop_dis
        adj = (hop <= self.max_hop).astype(np.float64)
        norm = normalize_digraph(adj)
        to_center = hop[:, self.center]
        # entry [j, i]: target j is at least as far from the centre as source i -> "close" subset
        close_mask = to_center[:, None] >= to_center[None, :]
        subsets = []
        for h in range(self.max_hop + 1):
            at_hop = hop == h
            subsets.append(np.where(at_hop & close_mask, norm, 0.0))
            if h > 0:
                subsets.append(np.where(at_hop & ~close_mask, norm, 0.0))
        return np.stack(subsets)

    def binary_adj(self) -> np.ndarray:
        return edge2mat(self.inward + self.outward, self.num_node)[None]

    def random(self) -> np.ndarray:
        n = self.num_node * self.nx_node
        return np.random.randn(self.num_filter, n, n) * self.init_std + self.init_off
