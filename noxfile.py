"""Sessions of the zot release pipeline; `nox -l` lists them.

Every session that builds or publishes runs `python -m release`, so the same
operations work without nox. Arguments after `--` go to that command, e.g.
`nox -s dry_run -- --source ../zot --ui-bundle ../zui/build`.
"""

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"


def _pipeline(session: nox.Session, command: str) -> None:
    # Editable, so the package finds tools/ociregistry (the dry run's registry) beside it.
    session.install("-e", ".")
    session.run("python", "-m", "release", command, *session.posargs)


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Cross-compile every target of matrix.yaml into dist/<version> and check each binary."""
    _pipeline(session, "build")


@nox.session(python=PYTHON)
def publish(session: nox.Session) -> None:
    """Push a built dist/<version> to the registry of matrix.yaml, then read it back."""
    _pipeline(session, "publish")


@nox.session(python=PYTHON)
def release(session: nox.Session) -> None:
    """Build, publish and verify a real release; refuses a dirty tree or a bad tag."""
    _pipeline(session, "release")


@nox.session(python=PYTHON)
def dry_run(session: nox.Session) -> None:
    """Rehearse a release against a registry started on 127.0.0.1, and stop it after."""
    _pipeline(session, "dry-run")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite: unit tests, and real builds published to loopback registries."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff (lint and format check) and mypy strict."""
    session.install("-e", ".[lint]")
    paths = ["release", "tests", "benchmarks", "noxfile.py"]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)
    session.run("mypy")


@nox.session(python=PYTHON, default=False)
def benchmark(session: nox.Session) -> None:
    """Time the matrix: parallel builds against the same builds one after another."""
    session.install("-e", ".")
    session.run("python", "benchmarks/build_matrix.py", *session.posargs)
