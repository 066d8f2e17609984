"""Registries started on 127.0.0.1 for tests and dry runs of a release.

Three kinds, all plain HTTP on a free loopback port with storage in a
directory:

- ``oci``: the small go-containerregistry server in tools/ociregistry, built
  once into the tool cache (it has the referrers API);
- ``zot``: a zot binary given by the caller;
- ``distribution``: Debian's docker-registry (distribution 2.8, no referrers API).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import yaml

import release
from release.errors import CommandError, ConfigError, InputError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from release.runner import Runner

__all__ = [
    "KINDS",
    "LocalRegistry",
    "ensure_loopback",
    "ociregistry_source",
    "start_registry",
    "tool_cache_dir",
]

logger = logging.getLogger(__name__)

KINDS = ("oci", "zot", "distribution")
DISTRIBUTION_BINARY = Path("/usr/bin/docker-registry")

# A cold registry answers in well under a second; this bounds a hung start.
_READY_TIMEOUT = 30.0
_STOP_TIMEOUT = 5.0
_GO_BUILD_TIMEOUT = 600.0
_NOT_LOOPBACK = "{registry}: not a loopback registry (use 127.0.0.1, ::1 or localhost)"


@dataclass(frozen=True, kw_only=True)
class LocalRegistry:
    """A running loopback registry: its kind, ``127.0.0.1:PORT`` and storage."""

    kind: str
    address: str
    storage: Path


def tool_cache_dir() -> Path:
    """Where built helper tools are kept: ``$ZOT_RELEASE_CACHE`` or ~/.cache/zot-release."""
    configured = os.environ.get("ZOT_RELEASE_CACHE")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "zot-release"


def ensure_loopback(registry: str) -> None:
    """Refuse a ``host[:port]`` that is not on this machine's loopback interface."""
    host = _host_of(registry)
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError as exc:
        raise ConfigError(_NOT_LOOPBACK.format(registry=registry)) from exc
    if not address.is_loopback:
        raise ConfigError(_NOT_LOOPBACK.format(registry=registry))


def _host_of(registry: str) -> str:
    if registry.startswith("["):
        host, _, _ = registry[1:].partition("]")
        return host
    if registry.count(":") > 1:  # a bare IPv6 address without a port
        return registry
    host, _, _ = registry.partition(":")
    return host


def ociregistry_source() -> Path:
    """The directory of the Go program behind the ``oci`` kind."""
    return Path(release.__file__).parent.parent / "tools" / "ociregistry"


@contextmanager
def start_registry(
    kind: str = "oci",
    *,
    runner: Runner,
    storage: Path | None = None,
    binary: Path | None = None,
    cache: Path | None = None,
) -> Iterator[LocalRegistry]:
    """Run a registry of ``kind`` on a free 127.0.0.1 port for the ``with`` body.

    1. pick the port and the storage (a temporary directory unless given);
    2. prepare the command (build the oci server, write the config file);
    3. start it, logging to a file, and wait until GET /v2/ answers;
    4. on exit, also on errors and KeyboardInterrupt: terminate, kill after a
       few seconds, remove temporary storage.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown registry kind {kind!r}: choose one of {', '.join(KINDS)}")

    with contextlib.ExitStack() as stack:
        # 1. Port and storage.
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zot-registry-")))
        root = storage if storage is not None else workdir / "storage"
        root.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        address = f"127.0.0.1:{port}"

        # 2. Command.
        argv = _command(
            kind,
            address=address,
            root=root,
            workdir=workdir,
            runner=runner,
            binary=binary,
            cache=cache,
        )

        # 3. Start and wait. The logs live apart from the storage and are kept
        # when the start fails, so the error can point at them.
        logs = Path(tempfile.mkdtemp(prefix=f"zot-registry-{kind}-log-"))
        log_path = logs / f"{kind}.log"
        log = stack.enter_context(log_path.open("w", encoding="utf-8"))
        process = _spawn(argv, log)
        stack.callback(_stop, process, kind)
        _wait_ready(process, address, kind, log_path)
        stack.callback(shutil.rmtree, logs, ignore_errors=True)
        logger.info("%s registry on %s (storage %s)", kind, address, root)

        yield LocalRegistry(kind=kind, address=address, storage=root)


def _command(
    kind: str,
    *,
    address: str,
    root: Path,
    workdir: Path,
    runner: Runner,
    binary: Path | None,
    cache: Path | None,
) -> list[str]:
    if kind == "oci":
        built = _build_ociregistry(runner, cache if cache is not None else tool_cache_dir())
        return [os.fspath(built), "-address", address, "-storage", os.fspath(root)]
    if kind == "zot":
        if binary is None:
            raise ConfigError("a zot registry needs the zot binary to run")
        config = workdir / "zot-config.json"
        _write_zot_config(config, address, root)
        return [os.fspath(binary), "serve", os.fspath(config)]
    config = workdir / "distribution.yml"
    _write_distribution_config(config, address, root)
    return [os.fspath(binary or DISTRIBUTION_BINARY), "serve", os.fspath(config)]


def _build_ociregistry(runner: Runner, cache: Path) -> Path:
    """Build tools/ociregistry once per content of its files, then reuse the binary."""
    source = ociregistry_source()
    hasher = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        hasher.update(name.encode() + b"\0" + (source / name).read_bytes() + b"\0")
    target = cache / "bin" / f"ociregistry-{hasher.hexdigest()[:16]}"
    if target.is_file():
        return target

    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename, so a concurrent or interrupted build
    # never leaves a half-written binary under the final name.
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        runner.run(
            ["go", "build", "-trimpath", "-o", partial, "."],
            cwd=source,
            timeout=_GO_BUILD_TIMEOUT,
        )
        partial.replace(target)
    except CommandError as exc:
        raise InputError(f"cannot build {source}: {exc.message}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return target


def _write_zot_config(path: Path, address: str, root: Path) -> None:
    host, _, port = address.rpartition(":")
    config = {
        "distSpecVersion": "1.1.1",
        "storage": {"rootDirectory": os.fspath(root)},
        "http": {"address": host, "port": port},
        # Without "output" zot logs to stdout, which goes to the registry's log file.
        "log": {"level": "info"},
    }
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def _write_distribution_config(path: Path, address: str, root: Path) -> None:
    config = {
        "version": 0.1,
        "log": {"level": "info"},
        "storage": {
            "filesystem": {"rootdirectory": os.fspath(root)},
            "delete": {"enabled": False},
        },
        "http": {"addr": address},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def _free_port() -> int:
    # The port is released before the server binds it; another process could
    # take it in between, which the readiness wait then reports.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _spawn(argv: list[str], log: TextIO) -> subprocess.Popen[bytes]:
    # A long-running server cannot go through Runner.run, which waits for the
    # command to finish; it is logged the same way and its output goes to a file.
    logger.info("+ %s &", " ".join(argv))
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        raise InputError(f"cannot start {argv[0]}: {exc.strerror}") from exc


def _wait_ready(process: subprocess.Popen[bytes], address: str, kind: str, log_path: Path) -> None:
    url = f"http://{address}/v2/"
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise InputError(
                f"{kind} registry exited with {process.returncode} before answering; "
                f"see {log_path}"
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:  # noqa: PLR2004
                    return
        except urllib.error.HTTPError as exc:
            # Any HTTP answer (401 from an authenticating registry) means it is up.
            exc.close()
            return
        except OSError:
            pass
        time.sleep(0.1)
    raise InputError(
        f"{kind} registry did not answer {url} within {_READY_TIMEOUT:.0f}s; see {log_path}"
    )


def _stop(process: subprocess.Popen[bytes], kind: str) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            logger.warning("%s registry ignored SIGTERM; killing it", kind)
            process.kill()
            process.wait()
    logger.debug("%s registry stopped (exit %s)", kind, process.returncode)
