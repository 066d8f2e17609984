"""Error kinds of the release pipeline, each carrying the exit code it ends with.

The command line prints one line for any of these; the traceback only with --debug.
"""

from __future__ import annotations

__all__ = [
    "BuildError",
    "CommandError",
    "ConfigError",
    "InputError",
    "PublishError",
    "ReleaseError",
    "SigningError",
    "VerificationError",
]


class ReleaseError(Exception):
    """A failure the user can act on; ``exit_code`` is what the process exits with."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(ReleaseError):
    """matrix.yaml or the command line is wrong; nothing was built."""

    exit_code = 2


class InputError(ReleaseError):
    """The source, the Go toolchain or the UI bundle cannot be used; nothing was built."""

    exit_code = 3


class BuildError(ReleaseError):
    """A ``go build`` failed."""

    exit_code = 4


class VerificationError(ReleaseError):
    """A built or published artifact is not what was declared."""

    exit_code = 5


class PublishError(ReleaseError):
    """The registry refused or lost an artifact; tags were not moved past the failure."""

    exit_code = 6


class SigningError(ReleaseError):
    """Signing or signature verification failed."""

    exit_code = 7


class CommandError(ReleaseError):
    """A subprocess exited non-zero; callers re-raise it as the error of their stage."""

    def __init__(self, argv: list[str], returncode: int, output: str) -> None:
        shown = " ".join(argv[:3]) + (" ..." if len(argv) > 3 else "")  # noqa: PLR2004
        super().__init__(f"{shown} exited with {returncode}")
        self.argv = argv
        self.returncode = returncode
        self.output = output
