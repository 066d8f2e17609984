"""The stages of a release, in the order trust is established.

1. Load matrix.yaml, checked against the platforms this Go can build.
2. Resolve the source: checkout, module, version, commit; check go.mod's Go.
3. Resolve and install the UI bundle, when a selected flavor embeds it.
4. Plan every ``go build``: shown before anything runs.
5. Build in parallel.
6. Check every binary against its target.
7. Write checksums.sha256.txt and release.json.
8. Publish (see release.publish for its own order), then read everything back.

The command line composes these; each takes what it needs and returns values,
so a stage can be run and tested on its own.
"""

from __future__ import annotations

import fnmatch
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from release.build import (
    Built,
    available_memory_mib,
    chains,
    cpu_count,
    parallelism,
    run_builds,
)
from release.errors import ConfigError, InputError
from release.inspect import Expected, check_binary
from release.matrix import Matrix, PublishSettings, Target, load_matrix
from release.plan import BuildStep, Stamp, plan_builds
from release.publish import ReadBack, Registry, plan_publication, publish, read_back
from release.record import ArtifactRecord, ReleaseRecord, read_checksums, write_checksums
from release.runner import Runner
from release.source import Source, fetch_source, oci_tag_for, read_source, release_problems
from release.toolchain import Toolchain, check_go_mod, probe_toolchain
from release.uibundle import UIBundle, install_bundle, resolve_bundle

__all__ = [
    "BuildRequest",
    "Prepared",
    "build",
    "default_jobs",
    "prepare",
    "publish_release",
    "select_targets",
    "verify_release",
]


@dataclass(frozen=True, kw_only=True)
class BuildRequest:
    matrix: Path
    source: str | None = None
    version: str | None = None
    ui_bundle: str | None = None
    dist: Path = Path("dist")
    select: tuple[str, ...] = ()
    strict: bool = False  # a real release: problems with the source are errors
    plan_only: bool = False  # --list: show the plan, fetch and change nothing


@dataclass(frozen=True, kw_only=True)
class Prepared:
    matrix: Matrix
    toolchain: Toolchain
    source: Source
    targets: tuple[Target, ...]
    ui_bundle: UIBundle | None
    steps: tuple[BuildStep, ...]
    outdir: Path
    warnings: tuple[str, ...]


def select_targets(targets: Sequence[Target], patterns: Sequence[str]) -> tuple[Target, ...]:
    """Targets whose id or name matches one of the glob ``patterns``; all without any."""
    if not patterns:
        return tuple(targets)
    for pattern in patterns:
        if not any(_matches(t, pattern) for t in targets):
            ids = ", ".join(t.id for t in targets)
            raise ConfigError(f"--targets {pattern}: matches no target; targets are {ids}")
    return tuple(t for t in targets if any(_matches(t, p) for p in patterns))


def prepare(request: BuildRequest, *, runner: Runner, workdir: Path) -> Prepared:
    """Stages 1 to 4: everything short of compiling."""
    # 1. The matrix, against what this Go can build.
    toolchain = probe_toolchain(runner)
    matrix = load_matrix(request.matrix, dist_list=toolchain.dist_list)
    targets = select_targets(matrix.targets(), request.select)

    # 2. The source, its version and whether this Go may build it.
    path, origin = fetch_source(
        request.source,
        version=request.version,
        repository=matrix.source.repository,
        workdir=workdir,
        runner=runner,
    )
    source = read_source(path, origin=origin, version=request.version, runner=runner)
    check_go_mod(
        toolchain,
        go_directive=source.go_directive,
        toolchain_directive=source.toolchain_directive,
        where=str(path / "go.mod"),
    )
    warnings = tuple(release_problems(source))
    if warnings and request.strict:
        raise InputError(
            f"not releasable: {'; '.join(warnings)}",
            hint="fix these, or rehearse with dry_run, which only warns of them",
        )

    # 3. The UI bundle, before any compile can fail on a missing embed.
    bundle = None
    needs_bundle = matrix.needs_ui_bundle(targets) and not request.plan_only
    if needs_bundle and request.strict and not (request.ui_bundle or matrix.ui_bundle.sha256):
        raise InputError(
            f"{matrix.path.name}: ui_bundle.sha256 is not pinned; a release embeds only a "
            "checked bundle: pin it, or pass --ui-bundle"
        )
    if needs_bundle:
        bundle = resolve_bundle(
            request.ui_bundle,
            pinned_url=matrix.ui_bundle.url,
            pinned_sha256=matrix.ui_bundle.sha256,
            workdir=workdir,
        )
        install_bundle(bundle, path, matrix.ui_bundle.destination)

    # 4. The plan.
    outdir = (request.dist / oci_tag_for(source.version)).resolve()
    stamp = Stamp(
        module=source.module,
        release_tag=source.version,
        commit=source.commit,
        go_version=toolchain.version,
    )
    steps = plan_builds(matrix, targets, stamp=stamp, outdir=outdir)
    return Prepared(
        matrix=matrix,
        toolchain=toolchain,
        source=source,
        targets=targets,
        ui_bundle=bundle,
        steps=steps,
        outdir=outdir,
        warnings=warnings,
    )


def build(
    prepared: Prepared,
    *,
    runner: Runner,
    jobs: int | None = None,
    progress: Callable[[BuildStep, str], None] | None = None,
) -> ReleaseRecord:
    """Stages 5 to 7: compile, check each binary, write the checksums and release.json."""
    outdir = prepared.outdir
    if outdir.exists():
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)

    # 5. Compile.
    built = run_builds(
        prepared.steps,
        cwd=prepared.source.path,
        runner=runner,
        jobs=jobs or default_jobs(prepared),
        progress=progress,
    )

    # 6. Check each binary against what its target declares.
    for result in built:
        target = result.step.target
        check_binary(
            result.path,
            Expected(
                goos=str(target.platform.os),
                goarch=str(target.platform.arch),
                tags=target.flavor.extensions,
                release_tag=prepared.source.version,
                commit=prepared.source.commit,
                binary_type=target.flavor.binary_type,
            ),
            runner=runner,
        )

    # 7. The record of what was built.
    record = ReleaseRecord(
        project=prepared.matrix.project,
        version=prepared.outdir.name,
        commit=prepared.source.commit,
        revision=prepared.source.revision,
        created=prepared.source.commit_time,
        source=prepared.source.origin,
        go_version=prepared.toolchain.version,
        ui_bundle=(
            {"origin": prepared.ui_bundle.origin, "sha256": prepared.ui_bundle.sha256}
            if prepared.ui_bundle
            else None
        ),
        artifacts=tuple(_artifact(result) for result in built),
    )
    write_checksums(record.artifacts, outdir)
    record.write(outdir)
    return record


def default_jobs(prepared: Prepared) -> int:
    """How many platform chains this machine builds at once (see release.build)."""
    return parallelism(
        cpus=cpu_count(),
        cpus_per_build=prepared.matrix.go.cpus_per_build,
        memory_mib=available_memory_mib(),
        per_build_mib=prepared.matrix.go.memory_per_build_mib,
        builds=len(chains(prepared.steps)),
    )


def publish_release(
    directory: Path,
    settings: PublishSettings,
    registry: Registry,
    *,
    force: bool = False,
    progress: Callable[[str, str], None] | None = None,
) -> ReleaseRecord:
    """Stage 8: push the release in ``directory``; release.json gains where it went."""
    record = ReleaseRecord.read(directory)
    publications = plan_publication(record, directory, settings)
    published = publish(
        publications,
        registry,
        force=force,
        progress=(lambda pub, event: progress(pub.artifact.name, event)) if progress else None,
    )
    record = record.with_artifacts(published)
    record.write(directory)
    return record


def verify_release(directory: Path, registry: Registry) -> list[ReadBack]:
    """Pull every artifact back and compare it with release.json and the checksums.

    One row per artifact; a row that failed says why, and the caller decides
    what that means (after showing all of them).
    """
    record = ReleaseRecord.read(directory)
    return read_back(record, directory, read_checksums(directory), registry)


def _artifact(result: Built) -> ArtifactRecord:
    target = result.step.target
    return ArtifactRecord(
        name=target.name,
        file=target.filename,
        os=str(target.platform.os),
        arch=str(target.platform.arch),
        flavor=target.flavor.name,
        extensions=target.flavor.extensions,
        binary_type=target.flavor.binary_type,
        size=result.size,
        sha256=result.sha256,
    )


def _matches(target: Target, pattern: str) -> bool:
    return fnmatch.fnmatchcase(target.id, pattern) or fnmatch.fnmatchcase(target.name, pattern)
