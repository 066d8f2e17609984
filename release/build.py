"""Running the planned builds in parallel, within the machine's CPUs and memory.

Builds share Go's build cache (the default GOCACHE, or the caller's), so the
packages common to every target compile once per platform.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from release.errors import BuildError, CommandError
from release.hashing import file_sha256
from release.plan import BuildStep
from release.runner import Runner

__all__ = ["Built", "available_memory_mib", "cpu_count", "parallelism", "run_builds"]

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


def parallelism(*, cpus: int, memory_mib: int | None, per_build_mib: int, builds: int) -> int:
    """How many builds may run at once: bounded by CPUs, memory and the work there is."""
    jobs = min(cpus, builds)
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


def run_builds(
    steps: Sequence[BuildStep],
    *,
    cwd: Path,
    runner: Runner,
    jobs: int,
    progress: Progress | None = None,
) -> list[Built]:
    """Build every step; the first failure stops the builds not yet started.

    Returns the results in the order of ``steps``.

    Raises:
        BuildError: naming the first target that failed, with the compiler's last line.
    """
    notify = progress or (lambda _step, _event: None)
    logger.info("building %d targets, %d at a time", len(steps), jobs)
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="go-build") as pool:
        futures: dict[Future[Built], BuildStep] = {
            pool.submit(_build_one, step, cwd, runner, notify): step for step in steps
        }
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in done if f.exception() is not None]
        if failed:
            for future in pending:
                future.cancel()
            wait(pending)
            # Report the first failing target in matrix order, not in finishing order.
            first = min(failed, key=lambda f: steps.index(futures[f]))
            exc = first.exception()
            assert exc is not None  # noqa: S101 - filtered above
            raise exc
        return [f.result() for f in futures]


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
