"""A local Ray instance started by the package (`--parallel`, tuning without `--ray_address`) serves no dashboard:
no web UI, and no process of the instance listens on the dashboard's port or its job-submission HTTP API
(docs/cluster.md, "Security"). Without `ray[default]` (the lock has only `ray[tune]`) Ray would fall back to that
anyway, so `include_dashboard=False` is what keeps the dashboard off where a user has `ray[default]`: the test asserts
the argument and, on top, that nothing of the instance serves the dashboard's ports."""
from __future__ import annotations

import psutil
import pytest

from recbole_semsr.ray_cluster import connect_ray


def listening_ports(pids: list[int]) -> set[int]:
    """TCP ports on which any of these processes listens."""
    ports = set()
    for pid in pids:
        try:
            connections = psutil.Process(pid).net_connections(kind="tcp")
        except psutil.NoSuchProcess:
            continue
        ports |= {conn.laddr.port for conn in connections if conn.status == psutil.CONN_LISTEN}
    return ports


def instance_pids(node) -> dict[str, list[int]]:
    """The processes the node started, by Ray's process type, plus everything the raylet spawned (the dashboard
    agent, the workers) under "raylet children"."""
    pids = {kind: [info.process.pid for info in infos] for kind, infos in node.all_processes.items()}
    raylet_children = [child.pid for pid in pids.get("raylet", [])
                       for child in psutil.Process(pid).children(recursive=True)]
    return {**pids, "raylet children": raylet_children}


@pytest.fixture
def local_ray(monkeypatch):
    """A local instance started through `connect_ray`, with the keyword arguments it gave `ray.init`."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
    calls = []
    real_init = ray.init

    def recording_init(*args, **kwargs):
        calls.append(kwargs)
        return real_init(*args, **kwargs)

    monkeypatch.setattr(ray, "init", recording_init)
    assert connect_ray(num_cpus=1)
    try:
        yield ray._private.worker._global_node, calls
    finally:
        ray.shutdown()


def test_a_local_ray_instance_runs_without_a_dashboard(local_ray):
    node, calls = local_ray
    assert len(calls) == 1 and calls[0]["include_dashboard"] is False
    assert node.address_info["webui_url"] == ""
    pids = instance_pids(node)
    assert pids["gcs_server"] and pids["raylet"]
    everything = [pid for group in pids.values() for pid in group]
    served = listening_ports(everything)
    assert served, "the instance listens on its GCS and raylet ports; finding none means the check sees nothing"
    assert listening_ports(pids.get("dashboard", [])) == set()
    dashboard_ports = {8265, node.address_info["dashboard_agent_listen_port"]}
    assert served & dashboard_ports == set()
