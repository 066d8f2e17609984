"""Running the planned builds in parallel, within the machine's CPUs and memory.

Builds share Go's build cache (the default GOCACHE, or the caller's), so the
packages common to every target compile once per platform.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from release.errors import BuildError, CommandError
from release.hashing import file_sha256
from release.plan import BuildStep
from release.runner import Runner

__all__ = [
    "Built",
    "available_memory_mib",
    "chains",
    "cpu_count",
    "parallelism",
    "run_builds",
]

logger = logging.getLogger(__name__)

# Called with the step and one of "started", "done", "failed".
Progress = Callable[[BuildStep, str], None]


@dataclass(frozen=True, kw_only=True)
class Built:
    step: BuildStep
    path: Path
    size: int
    sha256: str
    seconds: float


def parallelism(
    *, cpus: int, cpus_per_build: int, memory_mib: int | None, per_build_mib: int, builds: int
) -> int:
    """How many builds may run at once: bounded by CPUs, memory and the work there is.

    One ``go build`` already keeps several CPUs busy, so a build counts for
    ``cpus_per_build`` of them. ``builds`` is how many can run side by side:
    the number of platform chains.
    """
    jobs = min(cpus // cpus_per_build, builds)
    if memory_mib is not None:
        jobs = min(jobs, memory_mib // per_build_mib)
    return max(1, jobs)


def available_memory_mib() -> int | None:
    """MemAvailable from /proc/meminfo; None where there is no such file."""
    try:
        with Path("/proc/meminfo").open(encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def chains(steps: Sequence[BuildStep]) -> list[list[BuildStep]]:
    """Group the steps by platform, the flavor with the most extensions first.

    Builds of one platform share most of their compiled packages, but two
    concurrent ``go build`` processes each compile what the cache lacks: run
    side by side, full and minimal compile the common packages twice. Run in
    a chain, minimal finds them cached (seconds instead of minutes for zot).
    Different platforms share nothing, so chains run in parallel.
    """
    groups: dict[str, list[BuildStep]] = {}
    for step in steps:
        groups.setdefault(step.target.platform.id, []).append(step)
    return [
        sorted(group, key=lambda step: len(step.target.flavor.extensions), reverse=True)
        for group in groups.values()
    ]


def run_builds(
    steps: Sequence[BuildStep],
    *,
    cwd: Path,
    runner: Runner,
    jobs: int,
    progress: Progress | None = None,
) -> list[Built]:
    """Build every step, ``jobs`` platform chains at a time (see ``chains``).

    The first failure stops every build not yet started. Returns the results
    in the order of ``steps``.

    Raises:
        BuildError: naming the first target that failed, with the compiler's last line.
    """
    notify = progress or (lambda _step, _event: None)
    stop = threading.Event()
    failures: list[tuple[int, BuildError]] = []
    work = chains(steps)
    logger.info(
        "building %d targets as %d platform chains, %d at a time", len(steps), len(work), jobs
    )

    def build_chain(chain: Sequence[BuildStep]) -> list[Built]:
        results = []
        for step in chain:
            if stop.is_set():
                break
            try:
                results.append(_build_one(step, cwd, runner, notify))
            except BuildError as exc:
                failures.append((steps.index(step), exc))
                stop.set()
                break
        return results

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="go-build") as pool:
        outcomes = [result for chain in pool.map(build_chain, work) for result in chain]
    if failures:
        # The first failing target in matrix order, not in finishing order.
        raise min(failures, key=lambda failure: failure[0])[1]
    built = {result.step.target.name: result for result in outcomes}
    return [built[step.target.name] for step in steps]


def _build_one(step: BuildStep, cwd: Path, runner: Runner, notify: Progress) -> Built:
    notify(step, "started")
    started = time.monotonic()
    step.output.parent.mkdir(parents=True, exist_ok=True)
    try:
        runner.run(step.argv, cwd=cwd, env=dict(step.env))
    except CommandError as exc:
        notify(step, "failed")
        last = [line for line in exc.output.splitlines() if line.strip()][-1:] or ["no output"]
        raise BuildError(f"{step.target.name}: go build failed: {last[0]}") from exc
    seconds = time.monotonic() - started
    notify(step, "done")
    return Built(
        step=step,
        path=step.output,
        size=step.output.stat().st_size,
        sha256=file_sha256(step.output),
        seconds=seconds,
    )


def cpu_count() -> int:
    """CPUs this process may use (the affinity mask, where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
