"""Time the release matrix: the pipeline's parallel builds against one-after-another.

Each mode starts from an empty Go build cache of its own (modules must already
be in the module cache: run `go mod download` in the source first), so both
pay for compiling the standard library and every dependency per platform.

    python benchmarks/build_matrix.py --source ../zot --ui-bundle ../zui/build
    python benchmarks/build_matrix.py --source ../zot --ui-bundle ../zui/build \
        --modes sequential

Prints one line per target and a summary per mode: wall time, the sum of
per-build times, parallel jobs, and the largest resident set of any one build.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from release import pipeline
from release.build import run_builds
from release.runner import Runner

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--ui-bundle")
    parser.add_argument("--matrix", type=Path, default=REPO / "matrix.yaml")
    parser.add_argument("--targets", nargs="+", default=[])
    parser.add_argument(
        "--modes", nargs="+", choices=("parallel", "sequential"),
        default=["parallel", "sequential"],
    )  # fmt: skip
    parser.add_argument("--jobs", type=int, help="parallel mode: chains at once (default: ours)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="zot-bench-") as tmp:
        work = Path(tmp)
        request = pipeline.BuildRequest(
            matrix=args.matrix,
            source=args.source,
            ui_bundle=args.ui_bundle,
            dist=work / "dist",
            select=tuple(args.targets),
        )
        prepared = pipeline.prepare(request, runner=Runner(), workdir=work)
        for mode in args.modes:
            jobs = 1
            if mode == "parallel":
                jobs = args.jobs or pipeline.default_jobs(prepared)
            cache = work / f"gocache-{mode}"
            runner = Runner(env={"GOCACHE": str(cache)})
            started = time.monotonic()
            built = run_builds(prepared.steps, cwd=prepared.source.path, runner=runner, jobs=jobs)
            wall = time.monotonic() - started
            for result in built:
                sys.stdout.write(
                    f"{mode:10} {result.step.target.name:28} {result.seconds:8.1f} s "
                    f"{result.size / 1e6:8.1f} MB\n"
                )
            peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            sys.stdout.write(
                f"{mode:10} {len(built)} targets, {jobs} at a time: wall {wall:.1f} s, "
                f"sum of builds {sum(r.seconds for r in built):.1f} s, "
                f"largest child RSS so far {peak_mib:.0f} MiB\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
