"""Graph adjacency tensors: equal to PYSKL's (oracle graphs.npz) for every layout and mode."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import require_shared
from pyskl.utils import Graph
from pyskl.utils.graph import edge2mat, get_hop_distance, k_adjacency, normalize_digraph
from pyskl.utils.layouts import LAYOUTS

VARIANTS = {"max_hop2": dict(max_hop=2), "num_filter8": dict(num_filter=8), "nx_node2": dict(nx_node=2)}


def _oracle_keys() -> list[str]:
    from conftest import ORACLE

    path = ORACLE / "models" / "common" / "graphs.npz"
    return sorted(np.load(path).files) if path.exists() else ["missing"]


@pytest.mark.parametrize("key", _oracle_keys())
def test_graph_equals_pyskl(key):
    graphs = np.load(require_shared("oracle", "models", "common", "graphs.npz"))
    layout, what, *variant = key.split("__")
    if what == "hop_dis":
        actual = Graph(layout, "spatial").hop_dis
    else:
        kwargs = VARIANTS[variant[0]] if variant else {}
        np.random.seed(0)  # the oracle drew 'random' graphs right after this seed
        actual = Graph(layout, what, **kwargs).A
    assert actual.dtype == np.float64
    np.testing.assert_array_equal(actual, graphs[key])


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_spatial_columns_normalised(layout):
    A = Graph(layout, "spatial").A
    assert A.shape == (3, LAYOUTS[layout].num_joints, LAYOUTS[layout].num_joints)
    np.testing.assert_array_equal(A[0], np.eye(A.shape[1]))
    for sub in A[1:]:
        sums = sub.sum(0)
        assert np.all((np.abs(sums - 1) < 1e-12) | (sums == 0))


def test_helpers():
    A = edge2mat([(0, 1), (2, 1)], 3)
    assert A[1, 0] == 1 and A[1, 2] == 1 and A.sum() == 2
    np.testing.assert_allclose(normalize_digraph(np.array([[1.0, 0], [1, 0]])), [[0.5, 0], [0.5, 0]])
    hop = get_hop_distance(4, [(0, 1), (1, 2), (2, 3)], max_hop=2)
    assert hop[0, 2] == 2 and np.isinf(hop[0, 3]) and hop[1, 1] == 0
    chain = edge2mat([(0, 1), (1, 2), (1, 0), (2, 1)], 3)
    np.testing.assert_array_equal(k_adjacency(chain, 2), [[0, 0, 1], [0, 0, 0], [1, 0, 0]])
    np.testing.assert_array_equal(k_adjacency(chain, 0), np.eye(3))


def test_random_uses_numpy_global_rng():
    np.random.seed(3)
    a = Graph("coco", "random").A
    np.random.seed(3)
    np.testing.assert_array_equal(a, np.random.randn(3, 17, 17) * 0.02 + 0.04)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown graph mode"):
        Graph("coco", "nope")
    with pytest.raises(ValueError, match="nx_node"):
        Graph("coco", "spatial", nx_node=2)
    with pytest.raises(KeyError, match="unknown skeleton layout"):
        Graph("nope")
