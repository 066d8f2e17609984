"""The command line: ``python -m release {build,publish,release,dry-run,verify}``.

The only module that parses arguments, sets exit codes and draws to the
terminal. Everything else logs; this module decides where logs go (the
terminal, GitHub Actions annotations, and build.log beside the artifacts).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import shlex
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from release import localregistry, pipeline
from release.credentials import credentials_for
from release.errors import CommandError, ReleaseError, VerificationError
from release.matrix import PublishSettings, load_matrix
from release.plan import BuildStep
from release.publish import ReadBack
from release.record import ReleaseRecord
from release.registry import RegistryClient
from release.runner import Runner

__all__ = ["main"]

logger = logging.getLogger("release")

EXIT_INTERRUPTED = 130
_IN_ACTIONS = os.environ.get("GITHUB_ACTIONS") == "true"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # Piped or in CI there is no terminal width: keep the plan's columns whole.
    console = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 240)
    _configure_logging(console, verbose=args.verbose or args.debug)
    try:
        result: int = args.func(args, console)
    except ReleaseError as exc:
        _report(console, exc, debug=args.debug)
        return exc.exit_code
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]: local registries were stopped")
        return EXIT_INTERRUPTED
    return result


# ---------------------------------------------------------------------------
# Commands.


def _cmd_build(args: argparse.Namespace, console: Console) -> int:
    with _workdir() as workdir:
        prepared = _prepare(args, console, workdir, strict=False)
        if args.list:
            return 0
        _build(prepared, args, console)
    return 0


def _cmd_publish(args: argparse.Namespace, _console: Console) -> int:
    settings = _publish_settings(args)
    registry = _client(settings.registry, insecure=args.insecure)
    _publish(args.dist_dir, settings, registry, force=args.force)
    _read_back(args.dist_dir, settings, insecure=args.insecure)
    return 0


def _cmd_verify(args: argparse.Namespace, _console: Console) -> int:
    settings = _publish_settings(args)
    _read_back(args.dist_dir, settings, insecure=args.insecure)
    return 0


def _cmd_release(args: argparse.Namespace, console: Console) -> int:
    with _workdir() as workdir:
        prepared = _prepare(args, console, workdir, strict=True)
        if args.list:
            return 0
        settings = _publish_settings(args, matrix_settings=prepared.matrix.publish)
        registry = _client(settings.registry, insecure=args.insecure)
        _build(prepared, args, console)
        _publish(prepared.outdir, settings, registry, force=args.force)
        _read_back(prepared.outdir, settings, insecure=args.insecure)
    return 0


def _cmd_dry_run(args: argparse.Namespace, console: Console) -> int:
    if args.registry:
        localregistry.ensure_loopback(args.registry)
    with _workdir() as workdir:
        prepared = _prepare(args, console, workdir, strict=False)
        if args.list:
            return 0
        _build(prepared, args, console)
        with contextlib.ExitStack() as stack:
            address = args.registry
            if address is None:
                server = stack.enter_context(
                    localregistry.start_registry(
                        args.registry_kind, runner=Runner(), binary=args.registry_binary
                    )
                )
                address = server.address
                logger.info("started a %s registry on %s", server.kind, address)
            settings = dataclasses.replace(prepared.matrix.publish, registry=address)
            registry = _client(address, insecure=True)
            _publish(prepared.outdir, settings, registry, force=args.force)
            _read_back(prepared.outdir, settings, insecure=True)
    return 0


# ---------------------------------------------------------------------------
# Stages as the terminal shows them.


def _prepare(
    args: argparse.Namespace, console: Console, workdir: Path, *, strict: bool
) -> pipeline.Prepared:
    request = pipeline.BuildRequest(
        matrix=args.matrix,
        source=args.source,
        version=args.version,
        ui_bundle=args.ui_bundle,
        dist=args.dist,
        select=tuple(args.targets or ()),
        strict=strict,
        plan_only=args.list,
    )
    with _group("prepare: matrix, source, toolchain, UI bundle"):
        prepared = pipeline.prepare(request, runner=Runner(), workdir=workdir)
    for warning in prepared.warnings:
        _warn(console, warning)

    table = Table(title=f"{prepared.matrix.project} {prepared.source.version}", box=None)
    for column in ("target", "platform", "flavor", "tags", "output"):
        table.add_column(column)
    for step in prepared.steps:
        target = step.target
        table.add_row(
            target.name,
            target.platform.id,
            target.flavor.name,
            target.flavor.tags or "-",
            str(
                step.output.relative_to(Path.cwd())
                if step.output.is_relative_to(Path.cwd())
                else step.output
            ),
        )
    console.print(table)
    console.print(
        f"source {prepared.source.path} at {prepared.source.commit}, {prepared.toolchain.version}"
    )
    return prepared


def _build(prepared: pipeline.Prepared, args: argparse.Namespace, console: Console) -> None:
    log_handler = _file_log(prepared.outdir.parent / f"{prepared.outdir.name}.build.log")
    try:
        with _group("build and check"), _build_progress(console, prepared.steps) as progress:
            record = pipeline.build(prepared, runner=Runner(), jobs=args.jobs, progress=progress)
    finally:
        logging.getLogger().removeHandler(log_handler)
        log_handler.close()
    console.print(
        f"built {len(record.artifacts)} artifacts into {prepared.outdir} "
        f"(checksums.sha256.txt, release.json)"
    )


def _read_back(directory: Path, settings: PublishSettings, *, insecure: bool) -> list[ReadBack]:
    # A new client: nothing the publishing client cached takes part in the check.
    with _group(f"read back from {settings.registry}"):
        rows = pipeline.verify_release(directory, _client(settings.registry, insecure=insecure))
    _summary(ReleaseRecord.read(directory), rows, settings.registry)
    failed = [row for row in rows if not row.verified]
    if failed:
        raise VerificationError(
            f"{len(failed)} of {len(rows)} artifacts failed read-back; first: {failed[0].problem}"
        )
    return rows


def _publish(
    directory: Path, settings: PublishSettings, registry: RegistryClient, *, force: bool
) -> None:
    with _group(f"publish to {settings.registry}/{settings.namespace}"):
        pipeline.publish_release(directory, settings, registry, force=force)


@contextlib.contextmanager
def _group(title: str) -> Iterator[None]:
    """A collapsible group of log lines in GitHub Actions; nothing elsewhere."""
    if not _IN_ACTIONS:
        yield
        return
    sys.stdout.write(f"::group::{title}\n")
    sys.stdout.flush()
    try:
        yield
    finally:
        sys.stdout.write("::endgroup::\n")
        sys.stdout.flush()


@contextlib.contextmanager
def _build_progress(
    console: Console, steps: Sequence[BuildStep]
) -> Iterator[Callable[[BuildStep, str], None]]:
    if _IN_ACTIONS or not console.is_terminal:

        def plain(step: BuildStep, event: str) -> None:
            logger.info("%s: %s", step.target.name, event)

        yield plain
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("building", total=len(steps))
        running: set[str] = set()

        def update(step: BuildStep, event: str) -> None:
            if event == "started":
                running.add(step.target.id)
            else:
                running.discard(step.target.id)
            if event == "done":
                bar.advance(task)
            bar.update(task, description=f"building {', '.join(sorted(running)) or '-'}")

        yield update


def _summary(record: ReleaseRecord, rows: Sequence[ReadBack], registry: str) -> None:
    """The result: a table on standard output, and Markdown for the Actions job summary."""
    table = Table(title=f"{record.project} {record.version} on {registry}")
    for column in ("name", "platform", "flavor", "size", "digest", "verified"):
        table.add_column(column, justify="right" if column == "size" else "left")
    markdown = [
        f"### {record.project} {record.version} on {registry}",
        "",
        "| name | platform | flavor | size | digest | verified |",
        "|---|---|---|---:|---|---|",
    ]
    for row in rows:
        a = row.artifact
        verdict = "yes" if row.verified else f"NO: {row.problem}"
        digest = row.digest or "-"
        table.add_row(a.name, a.platform, a.flavor, f"{a.size:,}", digest, verdict)
        markdown.append(
            f"| {a.name} | {a.platform} | {a.flavor} | {a.size:,} | `{digest}` | {verdict} |"
        )
    Console(width=None if sys.stdout.isatty() else 240).print(table)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with Path(summary).open("a", encoding="utf-8") as job_summary:
            job_summary.write("\n".join(markdown) + "\n")


# ---------------------------------------------------------------------------
# Plumbing.


def _client(registry: str, *, insecure: bool) -> RegistryClient:
    return RegistryClient(registry, credentials=credentials_for(registry), insecure=insecure)


def _publish_settings(
    args: argparse.Namespace, matrix_settings: PublishSettings | None = None
) -> PublishSettings:
    if matrix_settings is None:
        # Publishing what was built needs no Go, so platforms are not checked against it.
        matrix_settings = load_matrix(args.matrix, dist_list=None).publish
    registry = args.registry or matrix_settings.registry
    if args.insecure:
        localregistry.ensure_loopback(registry)
    return dataclasses.replace(
        matrix_settings,
        registry=registry,
        namespace=matrix_settings.namespace if args.namespace is None else args.namespace,
    )


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="zot-release-") as tmp:
        yield Path(tmp)


def _configure_logging(console: Console, *, verbose: bool) -> None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    if _IN_ACTIONS or not console.is_terminal:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    else:
        handler = RichHandler(console=console, show_path=False, show_time=False)
    handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.addHandler(handler)
    # oras-py and urllib3 are chatty at INFO; their warnings still show.
    for noisy in ("oras", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _file_log(path: Path) -> logging.Handler:
    """Every command line and its output, at debug level, beside the artifacts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    return handler


def _warn(console: Console, message: str) -> None:
    if _IN_ACTIONS:
        sys.stdout.write(f"::warning::{message}\n")
    console.print(f"[yellow]warning[/yellow]: {message}")


def _report(console: Console, exc: ReleaseError, *, debug: bool) -> None:
    if debug:
        console.print_exception()
    cause = exc if isinstance(exc, CommandError) else exc.__cause__
    if isinstance(cause, CommandError) and len(cause.output.splitlines()) > 1:
        # The message carries the last line; the lines before it explain it.
        console.print(f"+ {shlex.join(cause.argv)}", style="dim", markup=False)
        console.print("\n".join(cause.output.splitlines()[-30:]), markup=False)
    if _IN_ACTIONS:
        sys.stdout.write(f"::error::{exc.message}\n")
    console.print(f"[red]error[/red]: {exc.message}", highlight=False)
    if exc.hint:
        console.print(f"hint: {exc.hint}", highlight=False)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"{text!r} is not a whole number of 1 or more"
        raise argparse.ArgumentTypeError(msg)
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m release",
        description="Build, check, publish and verify zot release binaries.",
    )
    # Options every command takes after its name, which is where nox passes them.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks and all output")
    common.add_argument("-v", "--verbose", action="store_true", help="show command output")
    common.add_argument(
        "--matrix", type=Path, default=Path("matrix.yaml"), help="default: %(default)s"
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, description=text, parents=[common])

    def building(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--source", help="a zot checkout, or a git URL with #ref")
        sub.add_argument("--version", help="the release tag (default: git describe)")
        sub.add_argument("--ui-bundle", help="zui bundle: a directory, a .tgz or a URL")
        sub.add_argument("--dist", type=Path, default=Path("dist"), help="default: %(default)s")
        sub.add_argument(
            "--targets", nargs="+", metavar="GLOB", help="only these (e.g. 'linux-*')"
        )
        sub.add_argument(
            "--jobs", type=_positive, help="parallel builds (default: CPUs and memory)"
        )
        sub.add_argument("--list", action="store_true", help="show the plan and stop")

    def publishing(sub: argparse.ArgumentParser, *, registry_help: str) -> None:
        sub.add_argument("--registry", help=registry_help)
        sub.add_argument("--namespace", help="default: from matrix.yaml")
        sub.add_argument(
            "--insecure", action="store_true", help="plain http; loopback registries only"
        )
        sub.add_argument(
            "--force", action="store_true", help="replace a version tag naming other content"
        )

    sub = command("build", "build and check every target into dist/<version>")
    building(sub)
    sub.set_defaults(func=_cmd_build)

    for name, func, text in (
        ("publish", _cmd_publish, "push a built dist/<version> and read it back"),
        ("verify", _cmd_verify, "read a published release back and compare"),
    ):
        sub = command(name, text)
        sub.add_argument("dist_dir", type=Path, metavar="DIST_DIR", help="dist/<version>")
        publishing(sub, registry_help="default: from matrix.yaml")
        sub.set_defaults(func=func)

    sub = command("release", "build, publish to matrix.yaml's registry, verify")
    building(sub)
    publishing(sub, registry_help="default: from matrix.yaml")
    sub.set_defaults(func=_cmd_release)

    sub = command("dry-run", "build, publish to a registry started on 127.0.0.1, verify")
    building(sub)
    sub.add_argument("--registry", help="use this loopback registry instead of starting one")
    sub.add_argument(
        "--registry-kind",
        choices=("oci", "zot", "distribution"),
        default="oci",
        help="the registry to start (default: %(default)s)",
    )
    sub.add_argument(
        "--registry-binary", type=Path, help="the zot executable for --registry-kind zot"
    )
    sub.add_argument("--force", action="store_true", help=argparse.SUPPRESS)
    sub.set_defaults(func=_cmd_dry_run)
    return parser
