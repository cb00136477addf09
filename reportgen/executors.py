"""Executors: run the planned experiments, parents before children, and gather the outcomes.

``local`` runs them one after another in this process (the default); ``ray`` runs independent
experiments in parallel as Ray tasks (``pip install 'reportgen[ray]'``). Every executor gives each
experiment to the same job (``pipeline.ExperimentJob``), which never raises: a failure becomes
a failed outcome, and the children of a failed experiment fail without running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen.outcomes import ExperimentOutcome, failed_outcome
from reportgen.progress import Progress

if TYPE_CHECKING:
    from reportgen.plan import ExperimentPlan

EXECUTORS = ("local", "ray")


Job = Callable[["ExperimentPlan", Progress], ExperimentOutcome]
"""Runs one experiment and never raises (``pipeline.ExperimentJob``)."""


def _parent_failed(plan: ExperimentPlan, parent: str) -> ExperimentOutcome:
    return failed_outcome(plan, f"not run: experiment {parent!r}, which it starts from "
                                "(init_from), failed")


def run_local(plans: list[ExperimentPlan], job: Job, progress: Progress) -> list[ExperimentOutcome]:
    outcomes: dict[str, ExperimentOutcome] = {}
    for position, plan in enumerate(plans, start=1):
        progress.experiment(position, len(plans), plan.name)
        failed_parent = next((p for p in plan.parents if outcomes.get(p) is not None
                              and outcomes[p].status != "ok"), None)
        if failed_parent is not None:
            outcomes[plan.name] = _parent_failed(plan, failed_parent)
            progress.say(f"FAILED: {outcomes[plan.name].error}")
            continue
        outcomes[plan.name] = job(plan, progress)
    return [outcomes[p.name] for p in plans]


def _ray_experiment(job: Job, plan: ExperimentPlan, position: int, total: int, quiet: bool,
                    started_at: float, *parent_outcomes: ExperimentOutcome) -> ExperimentOutcome:
    """One experiment in a Ray worker. Ray resolves ``parent_outcomes`` (ObjectRefs when submitted)
    before it starts this, so parents have finished. Progress lines reach the driver through Ray's
    log forwarding, prefixed with the experiment name and timed from the build's start
    (``started_at``, wall clock) like local ones."""
    progress = Progress(quiet=quiet)
    progress.start = time.perf_counter() - (time.time() - started_at)
    progress.experiment(position, total, plan.name)
    failed = next((o for o in parent_outcomes if o.status != "ok"), None)
    if failed is not None:
        outcome = _parent_failed(plan, failed.plan.name)
        progress.say(f"FAILED: {outcome.error}")
        return outcome
    return job(plan, progress)


RAY_SESSION = ".ray-session"
"""In the output folder while a build's own local Ray runs: its session folder, so the next build
can stop what a killed one left running (reap_orphaned_ray)."""


def _ray_session_dir(ray: Any) -> str | None:
    try:  # not a public API: without it, only the clean-up after kill -9 is lost
        return str(ray._private.worker._global_node.get_session_dir_path())
    except Exception:  # noqa: BLE001
        return None


def _uses(pid: int, folder: str) -> bool:
    """Whether a process names ``folder`` in its command line or has a file open in it."""
    proc = Path("/proc") / str(pid)
    try:
        if folder in (proc / "cmdline").read_bytes().decode(errors="replace"):
            return True
        return any(os.readlink(fd).startswith(folder) for fd in (proc / "fd").iterdir())
    except OSError:
        return False


def ray_session_processes(session: str) -> list[int]:
    """The running processes of one Ray session: those that name its folder or keep a log file
    open in it (Ray's agents outlive a killed driver, re-parented, with only their logs left
    pointing at their session), and their descendants."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if stat[0] != "Z":  # a zombie only waits to be reaped
                parents[int(entry.name)] = int(stat[1])
    found = {pid for pid in parents if pid != os.getpid() and _uses(pid, session)}
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return sorted(found)


def reap_orphaned_ray(out_dir: Path) -> list[int]:
    """Stop what the local Ray of a killed build left running (its agents; see
    ray_session_processes). Called by the next build while it holds the output folder's lock,
    so the killed build's driver is gone."""
    marker = out_dir / RAY_SESSION
    if not marker.exists():
        return []
    session = marker.read_text().strip()
    doomed = ray_session_processes(session) if session else []
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    marker.unlink(missing_ok=True)
    return doomed


def run_ray(plans: list[ExperimentPlan], job: Job, progress: Progress,
            address: str | None = None, state_dir: Path | None = None) -> list[ExperimentOutcome]:
    """Each experiment a Ray task (1 CPU, and 1 GPU when the cluster has any), children after
    their parents; on a Ray cluster (``address``), every node needs reportgen installed and the
    output folder at the same path (the workers write figures and caches there)."""
    # Ray merges log lines equal but for words with digits ("[1/2] exp1 · epoch 1/9" and
    # "[2/2] exp2 · epoch 1/9"), and colours its prefixes even in a CI log.
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")  # read when ray is first imported: import it late
    if not sys.stderr.isatty():
        os.environ.setdefault("RAY_COLOR_PREFIX", "0")
    try:
        import ray
    except ImportError:
        from reportgen.errors import ConfigError

        raise ConfigError("--executor ray", ["Ray is not installed: pip install 'reportgen[ray]'"]) from None

    started = not ray.is_initialized()  # an already running Ray (e.g. a notebook's) is left as is
    level = logging.ERROR if progress.quiet else logging.INFO  # -q: no Ray start-up notices either
    if started and address:
        ray.init(address=address, logging_level=level)
    elif started:  # "local": a new Ray of our own, even when a `ray start` cluster runs here
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False,
                 log_to_driver=True, ignore_reinit_error=True, logging_level=level)
        session = _ray_session_dir(ray)
        if state_dir is not None and session:
            (state_dir / RAY_SESSION).write_text(session)
    try:
        resources = ray.cluster_resources()
        progress.say(f"Ray: {len(plans)} experiments on {resources.get('CPU', 0):g} CPUs, "
                     f"{resources.get('GPU', 0):g} GPUs")
        # TF's C++ start-up lines would drown every worker's progress lines; a worker that died
        # (out of memory) would likely die again, so it is reported rather than retried.
        task = ray.remote(num_cpus=1, num_gpus=1 if resources.get("GPU", 0) > 0 else 0, max_retries=0,
                          runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}})(_ray_experiment)
        started_at = time.time() - (time.perf_counter() - progress.start)
        refs: dict[str, Any] = {}
        for position, plan in enumerate(plans, start=1):
            parents = [refs[p] for p in plan.parents if p in refs]  # absent: built earlier (--only)
            refs[plan.name] = task.options(name=plan.name).remote(
                job, plan, position, len(plans), progress.quiet, started_at, *parents)
        outcomes: dict[str, ExperimentOutcome] = {}
        for plan in plans:
            try:
                outcomes[plan.name] = ray.get(refs[plan.name])
            except ray.exceptions.RayError as exc:  # the worker died (out of memory, crash)
                failed_parent = next((p for p in plan.parents if p in outcomes
                                      and outcomes[p].status != "ok"), None)
                outcomes[plan.name] = (_parent_failed(plan, failed_parent) if failed_parent else
                                       failed_outcome(plan, f"Ray task failed: {exc}"))
                progress.say(f"{plan.name} FAILED: {outcomes[plan.name].error}")
        if started and not progress.quiet:
            time.sleep(1.0)  # Ray forwards worker lines asynchronously: let the last ones arrive
        return [outcomes[p.name] for p in plans]
    finally:
        if started:
            ray.shutdown()
            if state_dir is not None:
                (state_dir / RAY_SESSION).unlink(missing_ok=True)


def run_plans(plans: list[ExperimentPlan], job: Job, progress: Progress, executor: str = "local",
              address: str | None = None, state_dir: Path | None = None) -> list[ExperimentOutcome]:
    """Outcomes in plan order (plans come topologically sorted: parents first); ``state_dir``
    (the output folder) records a local Ray's session for reap_orphaned_ray."""
    if executor == "local":
        return run_local(plans, job, progress)
    if executor == "ray":
        return run_ray(plans, job, progress, address, state_dir)
    raise ValueError(f"unknown executor {executor!r}; expected one of {EXECUTORS}")
