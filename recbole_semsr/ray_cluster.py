"""Joining or starting Ray, shared by the benchmark and the hyperparameter sweeps: the cluster address, the import
path of the workers, the resources of one run and the GPUs Ray gave to a task."""
from __future__ import annotations

import argparse
import math
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONNECT_TIMEOUT_S = 5.0


class RayUnreachableError(ConnectionError):
    """``--ray_address`` names no running Ray cluster; the message says which address and what to check."""


class RayResourcesError(ValueError):
    """Resources per run that are invalid, or that no cluster node can offer."""


@dataclass(frozen=True)
class RayResources:
    """Where runs go and what each one gets. ``address`` joins a running cluster (``auto`` or ``HOST:PORT``);
    without it a local Ray instance is started, sized for ``parallel`` runs when given (else all CPUs).
    ``gpus_per_run=None`` gives each run one GPU when CUDA is visible, else none; fractions share a GPU."""

    address: str | None = None
    parallel: int | None = None
    cpus_per_run: float = 1.0
    gpus_per_run: float | None = None

    def __post_init__(self) -> None:
        if self.parallel is not None and self.parallel < 1:
            raise RayResourcesError(f"--parallel must be at least 1, got {self.parallel}")
        if self.cpus_per_run <= 0:
            raise RayResourcesError(f"--cpus_per_run must be positive, got {self.cpus_per_run}")
        if self.gpus_per_run is not None and self.gpus_per_run < 0:
            raise RayResourcesError(f"--gpus_per_run must not be negative, got {self.gpus_per_run}")

    @property
    def local_cpus(self) -> int | None:
        """CPUs of a local Ray instance: enough for ``parallel`` runs at once (None: Ray's default, all CPUs)."""
        return None if self.parallel is None else math.ceil(self.parallel * self.cpus_per_run)

    @property
    def torch_threads(self) -> int:
        """Threads one run may use: its whole CPUs, at least one."""
        return max(1, int(self.cpus_per_run))

    def gpus(self) -> float:
        """GPUs per run: as given, else 1 when this process sees CUDA, else 0."""
        if self.gpus_per_run is not None:
            return self.gpus_per_run
        import torch

        return 1.0 if torch.cuda.is_available() else 0.0


def add_ray_arguments(parser: argparse.ArgumentParser, title: str) -> None:
    """``--ray_address``, ``--parallel``, ``--cpus_per_run``, ``--gpus_per_run`` (alias ``--*_per_trial``), shared by
    the benchmark and the sweeps; ``resources_from_args`` reads them."""
    group = parser.add_argument_group(title)
    group.add_argument("--ray_address", default=None, help="join this Ray cluster: auto or HOST:PORT")
    group.add_argument("--parallel", type=int, default=None, help="start a local Ray instance for N runs at once")
    group.add_argument("--cpus_per_run", "--cpus_per_trial", dest="cpus_per_run", type=float, default=None,
                       help="CPUs of each run (default 1; also its torch threads)")
    group.add_argument("--gpus_per_run", "--gpus_per_trial", dest="gpus_per_run", type=float, default=None,
                       help="GPUs of each run; fractions share a GPU (default 1 when CUDA is visible, else 0)")


def ray_flags_given(args: argparse.Namespace) -> bool:
    """True when any of the ``add_ray_arguments`` flags is on the command line."""
    return any(getattr(args, name) is not None
               for name in ("ray_address", "parallel", "cpus_per_run", "gpus_per_run"))


def resources_from_args(args: argparse.Namespace) -> RayResources:
    """The ``add_ray_arguments`` flags as resources (CPUs per run default to 1)."""
    cpus = 1.0 if args.cpus_per_run is None else args.cpus_per_run
    return RayResources(address=args.ray_address, parallel=args.parallel, cpus_per_run=cpus,
                        gpus_per_run=args.gpus_per_run)


def connect_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Join the cluster at ``address`` or start a local instance (``num_cpus`` CPUs), unless this process is already
    connected; True when this call connected (the caller then calls ``ray.shutdown``)."""
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    runtime_env = {"env_vars": {"PYTHONPATH": worker_pythonpath()}}
    if address:
        check_reachable(address)
        try:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
        except ConnectionError as error:
            raise RayUnreachableError(unreachable_message(address, _first_line(str(error)))) from error
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, runtime_env=runtime_env, log_to_driver=False)
    return True


def check_reachable(address: str) -> None:
    """Fail fast with a one-line error when ``HOST:PORT`` accepts no connection (``auto`` is left to Ray)."""
    host, sep, port = address.rpartition(":")
    if address == "auto" or not sep or not port.isdigit():
        return
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            return
    except OSError as error:
        raise RayUnreachableError(unreachable_message(address, error.strerror or str(error))) from error


def unreachable_message(address: str, reason: str) -> str:
    return (f"cannot reach the Ray cluster at --ray_address={address} ({reason}); start it with "
            f"'ray start --head' and pass the address it prints")


def worker_pythonpath() -> str:
    """The folder this package was imported from, ahead of the driver's PYTHONPATH, so that Ray workers import the
    same ``recbole_semsr`` (Ray only adds the driver's working directory, which may be elsewhere). For an installed
    wheel that folder is site-packages, which workers see anyway; for a source checkout it is the checkout."""
    package_root = str(Path(__file__).resolve().parents[1])
    inherited = os.environ.get("PYTHONPATH")
    return package_root if not inherited else os.pathsep.join([package_root, inherited])


def pin_assigned_gpus() -> None:
    """Let this Ray task see only the GPUs Ray assigned to it (none: CPU)."""
    import ray

    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(gpu) for gpu in ray.get_gpu_ids())


def visible_gpu_config() -> dict[str, Any]:
    """Keep the GPUs the process may see: RecBole overwrites ``CUDA_VISIBLE_DEVICES`` with ``gpu_id``, so pass the
    current value (set per task by ``pin_assigned_gpus``) as ``gpu_id``; an empty value means CPU."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return {} if visible is None else {"gpu_id": visible}


def where_this_runs() -> dict[str, Any]:
    """The Ray node id, host name and process id of the running task, stored with its result."""
    import ray

    return {"node_id": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(), "pid": os.getpid()}


def _first_line(message: str) -> str:
    return next((line.strip() for line in message.splitlines() if line.strip()), message)
