"""A real 2-node Ray cluster on this machine (head + a second node, 1 CPU each, loopback only): the ml-100k grid
runs on both nodes, a worker node killed in the middle of a run costs nothing stored, and reruns resume."""
from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from recbole_semsr.benchmark.runner import run_benchmark
from recbole_semsr.benchmark.store import ResultsStore
from recbole_semsr.ray_cluster import RayResources, connect_ray

pytestmark = pytest.mark.cluster

MODELS = ["GRU4Rec", "NISER"]
LOOPBACK = "127.0.0.1"
FAST_FAILURE_DETECTION = {"health_check_period_ms": 500, "health_check_failure_threshold": 4}


class HangOnNode:
    """quick_start.run, except on node ``doomed_node``: there a run announces itself (a file in ``markers``) and
    hangs until its node is killed."""

    def __init__(self, doomed_node: str, markers: Path) -> None:
        self.doomed_node = doomed_node
        self.markers = markers

    def __call__(self, model: str, dataset: str, **kwargs: Any) -> dict[str, Any]:
        import ray

        from recbole_semsr.quick_start import run

        if ray.get_runtime_context().get_node_id() == self.doomed_node:
            (self.markers / f"{model}-seed{kwargs['config_dict']['seed']}").touch()
            time.sleep(600)
        return run(model, dataset, **kwargs)


@pytest.fixture
def two_nodes(tiny_run_config: dict, monkeypatch: pytest.MonkeyPatch):
    """(cluster, worker node): a head and a second node of 1 CPU each, bound to the loopback address, with their
    own Ray temp folder (so no other Ray user of this machine finds them); always shut down, even on failure."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/ modules
    temp_dir = tempfile.mkdtemp(prefix="rs-ray-")  # short: Ray's socket paths live under it
    monkeypatch.setenv("RAY_TMPDIR", temp_dir)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    # Ray 2.6 turns a 127.0.0.1 address into the machine's network address unless clustering is "off"; off, every
    # node and the driver stay on the loopback interface.
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    monkeypatch.setattr(ray._private.ray_constants, "ENABLE_RAY_CLUSTER", False)
    cluster = Cluster(initialize_head=True, connect=False, head_node_args={
        "num_cpus": 1, "node_ip_address": LOOPBACK, "include_dashboard": False,
        "_system_config": FAST_FAILURE_DETECTION})
    try:
        worker = cluster.add_node(num_cpus=1, node_ip_address=LOOPBACK)
        yield cluster, worker
    finally:
        ray.shutdown()
        cluster.shutdown()
        kill_processes_mentioning(temp_dir)
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        shutil.rmtree(temp_dir, ignore_errors=True)


def kill_processes_mentioning(temp_dir: str) -> None:
    """SIGKILL what is left of this cluster (e.g. a killed node's dashboard agent): the processes whose command line
    names its own temp folder."""
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and temp_dir in (proc / "cmdline").read_bytes().decode(errors="replace"):
                os.kill(int(proc.name), signal.SIGKILL)
        except OSError:
            continue


def node_id_of(cluster: Any, node: Any) -> str:
    """The Ray node id (as ``get_node_id`` gives it in a task) of a live node of ``cluster``."""
    (entry,) = [entry for entry in cluster.global_state.node_table()
                if entry["Alive"] and entry["RayletSocketName"] == node.raylet_socket_name]
    return entry["NodeID"]


def kill_when_marked(cluster: Any, node: Any, markers: Path, timeout_s: float = 90) -> threading.Thread:
    """Background thread: remove ``node`` (SIGKILL, no grace) as soon as a run on it has announced itself."""

    def watch() -> None:
        deadline = time.monotonic() + timeout_s
        while not any(markers.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.2)
        cluster.remove_node(node, allow_graceful=False)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def add_second_node(cluster: Any) -> tuple[Any, str]:
    """A new 1-CPU node on the loopback address, once the connected driver sees its CPU; (node, node id)."""
    import ray

    node = cluster.add_node(num_cpus=1, node_ip_address=LOOPBACK)
    deadline = time.monotonic() + 30
    while ray.cluster_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    return node, node_id_of(cluster, node)


def test_grid_on_two_nodes_survives_a_killed_worker(two_nodes, tiny_run_config: dict, tmp_path: Path) -> None:
    """Both nodes run the 2 x 2 grid; a rerun does nothing. Then a third seed on a fresh second node, killed in the
    middle of its run (the driver must sit on the head: Ray attaches it to either node of the same address, so the
    second node is added after the driver joined): the lost run is retried on the head, the stored runs survive,
    and a rerun finds nothing left to do."""
    import ray

    from recbole_semsr.benchmark.ray_executor import RAN_ON_KEY, RayExecutor

    cluster, worker = two_nodes
    head_id, worker_id = node_id_of(cluster, cluster.head_node), node_id_of(cluster, worker)
    on_cluster = RayResources(address=cluster.address, cpus_per_run=1, gpus_per_run=0)
    store = ResultsStore(tmp_path / "bench")

    def benchmark(seeds: list[int], run_fn: Any = None) -> tuple[Any, list[str]]:
        messages: list[str] = []
        with RayExecutor(on_cluster) as executor:
            summary = run_benchmark(MODELS, ["ml-100k"], seeds, store, run_fn=run_fn, config_dict=tiny_run_config,
                                    executor=executor, log=messages.append)
        return summary, messages

    summary, messages = benchmark([2025, 2026])
    records = store.load().records
    assert (summary.ran, summary.failures, len(records)) == (4, [], 4), messages
    assert {record[RAN_ON_KEY]["node_id"] for record in records} == {head_id, worker_id}
    assert benchmark([2025, 2026])[0].ran == 0

    cluster.remove_node(worker)
    cluster.wait_for_nodes()
    stored_before = {path: path.read_text() for path in store.runs_dir.glob("*/*/seed*.json")}
    markers = tmp_path / "markers"
    markers.mkdir()
    connect_ray(cluster.address)
    try:
        doomed, doomed_id = add_second_node(cluster)
        killer = kill_when_marked(cluster, doomed, markers)
        summary, messages = benchmark([2025, 2026, 2027], run_fn=HangOnNode(doomed_id, markers))
        killer.join(timeout=30)
    finally:
        ray.shutdown()
    # The next driver must not join before the GCS has marked the killed node dead: Ray would attach it to that
    # node's raylet (same address) and the driver process would exit with status 1 from inside Ray.
    cluster.wait_for_nodes(timeout=120)
    (killed_run,) = [path.name for path in markers.iterdir()]
    killed_model, killed_seed = killed_run.split("-seed")
    assert any(line.startswith(f"retrying ml-100k {killed_model} seed {killed_seed} after lost (NodeDiedError")
               for line in messages), messages
    assert (summary.ran, summary.skipped, summary.failures) == (2, 4, []), messages
    assert all(path.read_text() == text for path, text in stored_before.items())
    records = store.load().records
    assert len(records) == 6
    assert {record[RAN_ON_KEY]["node_id"] for record in records if record["seed"] == 2027} == {head_id}

    summary, _ = benchmark([2025, 2026, 2027])
    assert (summary.ran, summary.skipped) == (0, 6)
