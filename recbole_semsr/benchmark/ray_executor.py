"""Benchmark runs as Ray tasks: on a running cluster (``--ray_address``) or a local Ray instance (``--parallel``)."""
from __future__ import annotations

import math
from typing import Any

from recbole_semsr.benchmark.runner import Outcome, RunFailed, RunJob
from recbole_semsr.ray_cluster import (
    RayResources,
    RayResourcesError,
    connect_ray,
    pin_assigned_gpus,
    visible_gpu_config,
    where_this_runs,
)

RAN_ON_KEY = "ran_on"
"""Key of a stored record naming the Ray node, host and process that produced it."""


def execute_on_node(job: RunJob, threads: int) -> dict[str, Any]:
    """Body of the Ray task: the run on the GPUs Ray assigned (none: CPU), its record tagged with where it ran."""
    import torch

    torch.set_num_threads(threads)
    pin_assigned_gpus()
    return {**job.execute(visible_gpu_config()), RAN_ON_KEY: where_this_runs()}


class RayExecutor:
    """Each run is a Ray task with ``resources.cpus_per_run`` CPUs and ``gpus_per_run`` GPUs; no more runs are
    started than the live nodes can hold at once, so the started runs are the running ones. A run that raises or
    is lost with its node is started once more (Ray's own retries are off, so that each retry is logged).

    A context manager: it joins (or starts) Ray on entry and leaves on exit when it did the joining."""

    retries = 1
    shows_progress = True

    def __init__(self, resources: RayResources) -> None:
        self.resources = resources
        self._gpus = resources.gpus()
        self._in_flight: dict[Any, int] = {}
        self._connected_here = False
        self._task: Any = None

    def __enter__(self) -> RayExecutor:
        import ray

        self._connected_here = connect_ray(self.resources.address, self.resources.local_cpus)
        self._task = ray.remote(execute_on_node).options(
            num_cpus=self.resources.cpus_per_run, num_gpus=self._gpus, max_retries=0)
        if self.capacity() == 0:
            self.__exit__(None, None, None)
            raise RayResourcesError(f"the Ray cluster has {_describe(ray.cluster_resources())}: not enough for one run "
                             f"with --cpus_per_run={self.resources.cpus_per_run} --gpus_per_run={self._gpus}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._connected_here:
            import ray

            ray.shutdown()
            self._connected_here = False

    def capacity(self) -> int:
        """How many runs the live nodes hold at once, from their total CPUs and GPUs."""
        import ray

        total = ray.cluster_resources()
        fits = math.floor(total.get("CPU", 0) / self.resources.cpus_per_run + 1e-9)
        if self._gpus > 0:
            fits = min(fits, math.floor(total.get("GPU", 0) / self._gpus + 1e-9))
        return fits

    def has_room(self) -> bool:
        return len(self._in_flight) < max(1, self.capacity())

    def start(self, position: int, job: RunJob) -> None:
        self._in_flight[self._task.remote(job, self.resources.torch_threads)] = position

    def wait_finished(self) -> list[tuple[int, Outcome]]:
        import ray

        done, _ = ray.wait(list(self._in_flight), num_returns=1)
        return [(self._in_flight.pop(ref), self._outcome(ref)) for ref in done]

    def running(self) -> int:
        return len(self._in_flight)

    @staticmethod
    def _outcome(ref: Any) -> Outcome:
        """The task's record; an exception raised by the run; or the run lost with its worker or node."""
        import ray
        from ray.exceptions import RayError, RayTaskError

        try:
            return ray.get(ref)
        except RayTaskError as error:
            cause = getattr(error, "cause", None) or error
            return RunFailed(f"{type(cause).__name__}: {cause}", str(error))
        except RayError as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            return RunFailed(f"lost ({type(error).__name__}: {first_line})", str(error))


def _describe(resources: dict[str, float]) -> str:
    return f"{resources.get('CPU', 0):g} CPUs and {resources.get('GPU', 0):g} GPUs"
