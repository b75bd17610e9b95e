import sys
from pathlib import Path

import torch

from recbole_semsr.data.session_graph import build_packed_graph, trim_padding
from reference_models import DenseSessionGraphs, reference_graph


def test_repeated_transition_and_self_loop_count_once():
    graph = build_packed_graph(torch.tensor([[4, 4, 7, 4, 7]]), torch.tensor([5]))
    # nodes [4, 7]; edges 4->4, 4->7, 7->4 (4->7 twice, counted once)
    assert graph.nodes.tolist() == [4, 7]
    edges = sorted(zip(graph.source.tolist(), graph.target.tolist(), graph.out_weight.tolist(),
                       graph.in_weight.tolist()))
    assert edges == [(0, 0, 0.5, 0.5), (0, 1, 0.5, 1.0), (1, 0, 1.0, 0.5)]


def test_dense_reference_of_a_batch_matches_per_session_reference():
    generator = torch.Generator().manual_seed(0)
    lengths = torch.tensor([1, 2, 5, 8, 8, 3])
    seq = torch.randint(1, 6, (6, 8), generator=generator)
    seq[torch.arange(8) >= lengths.unsqueeze(1)] = 0
    graph = DenseSessionGraphs(seq, lengths)
    for row, length in enumerate(lengths.tolist()):
        nodes, alias, a_in, a_out = reference_graph(seq[row, :length].tolist())
        n = len(nodes)
        assert graph.nodes[row, :n].tolist() == nodes
        assert graph.alias[row, :length].tolist() == alias
        assert int((graph.nodes != 0)[row].sum()) == n
        assert torch.allclose(graph.a_in[row, :n, :n], a_in[:n, :n])
        assert torch.allclose(graph.a_out[row, :n, :n], a_out[:n, :n])


def test_trim_padding_keeps_the_longest_session():
    seq = torch.tensor([[1, 2, 0, 0], [3, 0, 0, 0]])
    assert trim_padding(seq, torch.tensor([2, 1])).tolist() == [[1, 2], [3, 0]]


def test_packed_graph_propagates_exactly_as_the_dense_graph():
    generator = torch.Generator().manual_seed(1)
    lengths = torch.tensor([1, 2, 5, 8, 8, 3])
    seq = torch.randint(1, 6, (6, 8), generator=generator)
    seq[torch.arange(8) >= lengths.unsqueeze(1)] = 0
    dense, packed = DenseSessionGraphs(seq, lengths), build_packed_graph(seq, lengths)
    assert packed.nodes.tolist() == dense.nodes[(dense.nodes != 0)].tolist()
    features = torch.randn(len(packed.nodes), 3, generator=generator)
    dense_features = torch.zeros(6, 8, 3)
    dense_features[(dense.nodes != 0)] = features
    dense_in, dense_out = dense.propagate(dense_features, dense_features)
    packed_in, packed_out = packed.propagate(features, features)
    assert torch.allclose(dense_in[(dense.nodes != 0)], packed_in, atol=1e-6)
    assert torch.allclose(dense_out[(dense.nodes != 0)], packed_out, atol=1e-6)
    valid = torch.arange(8) < lengths.unsqueeze(1)
    assert torch.equal(packed.nodes[packed.alias][valid], seq[valid])
    dense_slot = torch.arange(8).expand(6, 8)[dense.nodes != 0]
    assert torch.equal(packed.node_slot, dense_slot)


def test_packed_graph_of_1_2_1_3():
    graph = build_packed_graph(torch.tensor([[1, 2, 1, 3], [5, 5, 0, 0]]), torch.tensor([4, 2]))
    assert graph.nodes.tolist() == [1, 2, 3, 5]
    assert graph.node_slot.tolist() == [0, 1, 2, 0]
    assert graph.alias.tolist() == [[0, 1, 0, 2], [3, 3, 0, 0]]
    edges = sorted(zip(graph.source.tolist(), graph.target.tolist(), graph.out_weight.tolist(),
                       graph.in_weight.tolist()))
    assert edges == [(0, 1, 0.5, 1.0), (0, 2, 0.5, 1.0), (1, 0, 1.0, 1.0), (3, 3, 1.0, 1.0)]


def test_torch_geometric_propagation_in_the_bench_equals_the_hand_written_one():
    """bench/graph_layers.py times a torch-geometric `MessagePassing` version of `propagate`; it must compute the
    same sums (the bench's speed comparison is only meaningful then)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from graph_layers import PyGSessionGraph

    generator = torch.Generator().manual_seed(2)
    lengths = torch.tensor([1, 2, 5, 8, 8, 3])
    seq = torch.randint(1, 6, (6, 8), generator=generator)
    seq[torch.arange(8) >= lengths.unsqueeze(1)] = 0
    packed = build_packed_graph(seq, lengths)
    successors, predecessors = torch.randn(2, len(packed.nodes), 4, generator=generator)
    for ours, theirs in zip(packed.propagate(successors, predecessors),
                            PyGSessionGraph(packed).propagate(successors, predecessors)):
        assert torch.allclose(ours, theirs, rtol=0, atol=1e-6)
