"""The session-graph message passing, hand-written against torch-geometric, on the same Beauty batches.

    python bench/graph_layers.py --data_path=dataset/ --threads=2

Both variants run the same `GatedGraphCell` (same weights) on the packed graphs of the first `--steps` training
batches; they differ only in how a cell step gathers the degree-weighted in/out sums:

- `hand-written`: `PackedSessionGraph.propagate`, an index gather and an `index_add_` per direction;
- `torch-geometric`: a `MessagePassing` layer (aggr="add", message = edge weight x source state) per direction.

Two things are timed, forward and backward: the propagation alone, and one whole cell step (the propagation plus
the cell's linear layers and gates), at the widths of NISER (d = 100) and MSGAT (2d = 200). First the outputs are
compared (largest difference of the output and of the input gradient, float32), then the variants take turns
`--repeats` times and the table gives the median milliseconds per batch.
"""
from __future__ import annotations

import platform
import time
from statistics import median

import torch
from recbole.data import create_dataset, data_preparation

from recbole_semsr.compat import require_extra
from recbole_semsr.config import SemSRConfig
from recbole_semsr.data.session_graph import PackedSessionGraph, build_packed_graph, trim_padding
from recbole_semsr.model.layers import GatedGraphCell
from recbole_semsr.quick_start import prepare_dataset

from step_time import first_batches, step_timing_parser

FEATURE = "bench/graph_layers.py (its torch-geometric rows)"
torch_geometric = require_extra("torch_geometric", "graph", FEATURE)
MessagePassing = require_extra("torch_geometric.nn", "graph", FEATURE).MessagePassing


class WeightedSum(MessagePassing):
    """sum over edges u -> v of weight(u, v) * x_u, at every node v."""

    def __init__(self) -> None:
        super().__init__(aggr="add")

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        return self.propagate(edge_index, x=x, edge_weight=edge_weight)

    def message(self, x_j: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        return x_j * edge_weight.unsqueeze(-1)


class PyGSessionGraph:
    """A packed session graph whose `propagate` runs torch-geometric message passing."""

    def __init__(self, graph: PackedSessionGraph) -> None:
        self.forward_edges = torch.stack([graph.source, graph.target])
        self.backward_edges = torch.stack([graph.target, graph.source])
        self.in_weight, self.out_weight = graph.in_weight, graph.out_weight
        self.layer = WeightedSum()

    def propagate(self, to_successors: torch.Tensor, to_predecessors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (self.layer(to_successors, self.forward_edges, self.in_weight),
                self.layer(to_predecessors, self.backward_edges, self.out_weight))


def training_graphs(data_path: str, steps: int) -> list[PackedSessionGraph]:
    """The packed graphs of the first `steps` Beauty training batches (batch 100)."""
    config = SemSRConfig("NISER", "beauty", None, {"data_path": data_path, "train_batch_size": 100,
                                                   "show_progress": False})
    prepare_dataset(config)
    train_data, _, _ = data_preparation(config, create_dataset(config))
    return [build_packed_graph(trim_padding(batch["item_id_list"], batch["item_length"]), batch["item_length"])
            for batch in first_batches(train_data, steps)]


def propagation(graph, states: torch.Tensor) -> torch.Tensor:
    """The in and out sums of a graph, side by side [T, 2 x width]."""
    return torch.cat(graph.propagate(states, states), dim=-1)


def forward_backward(function, graph, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """function(graph, states) and the gradient of its sum of squares in the states."""
    states = states.detach().requires_grad_()
    output = function(graph, states)
    output.square().sum().backward()
    return output.detach(), states.grad


def largest_differences(function, graphs: list, states: list[torch.Tensor]) -> tuple[float, float]:
    output_diff, gradient_diff = 0.0, 0.0
    for graph, x in zip(graphs, states):
        output, gradient = forward_backward(function, graph, x)
        pyg_output, pyg_gradient = forward_backward(function, PyGSessionGraph(graph), x)
        output_diff = max(output_diff, float((output - pyg_output).abs().max()))
        gradient_diff = max(gradient_diff, float((gradient - pyg_gradient).abs().max()))
    return output_diff, gradient_diff


def milliseconds_per_batch(function, graphs: list, states: list[torch.Tensor]) -> float:
    start = time.perf_counter()
    for graph, x in zip(graphs, states):
        forward_backward(function, graph, x)
    return (time.perf_counter() - start) / len(graphs) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = step_timing_parser(__doc__)
    parser.add_argument("--data_path", default="dataset/")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    graphs = training_graphs(args.data_path, args.steps)
    print(f"Beauty, {len(graphs)} training batches of 100 sessions ({sum(len(g.nodes) for g in graphs)} nodes, "
          f"{sum(len(g.source) for g in graphs)} edges), {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"torch-geometric {torch_geometric.__version__}, {platform.processor() or platform.machine()}")
    print("| width | what | variant | ms / batch (median) | repeats | x hand-written | max output diff | "
          "max grad diff |")
    print("| ---: | --- | --- | ---: | --- | ---: | ---: | ---: |")
    for width in (100, 200):
        cell = GatedGraphCell(width)
        states = [torch.randn(len(graph.nodes), width) for graph in graphs]
        variants = {"hand-written": graphs, "torch-geometric": [PyGSessionGraph(graph) for graph in graphs]}
        for what, function in (("propagate", propagation), ("gated cell step", lambda g, x: cell(x, g))):
            output_diff, gradient_diff = largest_differences(function, graphs, states)
            samples = {name: [] for name in variants}
            for _ in range(args.repeats):
                for name, variant_graphs in variants.items():
                    samples[name].append(milliseconds_per_batch(function, variant_graphs, states))
            reference = median(samples["hand-written"])
            for name, values in samples.items():
                diffs = "- | -" if name == "hand-written" else f"{output_diff:.1e} | {gradient_diff:.1e}"
                repeats = ", ".join(f"{value:.2f}" for value in values)
                print(f"| {width} | {what} | {name} | {median(values):.2f} | {repeats} | "
                      f"{median(values) / reference:.2f} | {diffs} |")

if __name__ == "__main__":
    main()
