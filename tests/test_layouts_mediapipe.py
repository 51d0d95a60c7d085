"""The 'mediapipe' layout (BlazePose's 33 landmarks): names, tree, flips, bones, graph, and a GCN on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pyskl.datasets.layout_convert import MEDIAPIPE_POSE_JOINTS
from pyskl.utils.graph import Graph
from pyskl.utils.layouts import get_layout


def test_names_match_the_landmark_order():
    layout = get_layout("mediapipe")
    assert layout.joint_names == MEDIAPIPE_POSE_JOINTS and layout.num_joints == 33


def test_edges_form_one_tree_rooted_at_the_centre():
    layout = get_layout("mediapipe")
    assert len(layout.inward) == 32 and len({child for child, _ in layout.inward}) == 32
    assert layout.center not in {child for child, _ in layout.inward}
    hops = Graph("mediapipe", "spatial", max_hop=33).hop_dis
    assert np.isfinite(hops).all()
    names = layout.joint_names
    parent = {names[c]: names[p] for c, p in layout.inward}
    assert parent["left_wrist"] == "left_elbow" and parent["right_knee"] == "right_hip"
    assert parent["left_foot_index"] == "left_ankle" and parent["right_pinky"] == "right_wrist"


def test_flip_pairs_swap_left_and_right_names():
    layout = get_layout("mediapipe")
    names = layout.joint_names
    flip = layout.flip_index
    assert sorted(flip) == list(range(33)) and [flip[j] for j in flip] == list(range(33))
    for j, name in enumerate(names):
        mirrored = name.replace("left", "@").replace("right", "left").replace("@", "right")
        assert names[flip[j]] == mirrored


def test_bones_are_joint_minus_parent_with_a_zero_root():
    layout = get_layout("mediapipe")
    assert (0, 0) in layout.bone_pairs and len(layout.bone_pairs) == 33
    assert sorted(v for v, _ in layout.bone_pairs) == list(range(33))
    assert set(layout.bone_pairs) - {(0, 0)} == set(layout.inward)


@pytest.mark.parametrize("mode", ["spatial", "stgcn_spatial", "binary_adj"])
def test_graph_modes(mode):
    A = Graph("mediapipe", mode).A
    assert A.shape[1:] == (33, 33) and np.isfinite(A).all()
    if mode == "spatial":
        inward = A[1]
        np.testing.assert_allclose(inward.sum(axis=0)[[c for c, _ in get_layout("mediapipe").inward]], 1.0)


def test_stgcn_runs_on_33_joints():
    from pyskl.models import build_model

    graph_cfg = dict(layout="mediapipe", mode="stgcn_spatial")
    model = build_model(dict(type="STGCN", graph_cfg=graph_cfg, num_stages=2))
    out = model(torch.randn(1, 2, 8, 33, 3))
    assert out.shape[-1] == 33 and torch.isfinite(out).all()
