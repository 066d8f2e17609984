"""The one way this package starts a subprocess.

Each command is logged once as ``+ <quoted argv>``; its output is captured,
carried by the ``CommandError`` when it fails and logged at debug level when it
succeeds. Secrets are
passed through the environment, never on the command line, so the logged line
is always safe to show.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from release.errors import CommandError

__all__ = ["Result", "Runner"]

logger = logging.getLogger(__name__)

# Environment entries whose values are never logged, whoever passes them.
_SECRET_WORDS = ("TOKEN", "PASSWORD", "SECRET", "KEY", "AUTH")


@dataclass(frozen=True)
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Runner:
    """Runs commands with a shared base environment.

    ``env`` entries override the inherited environment for every command;
    ``run(..., env=...)`` adds per-command entries on top.
    """

    env: Mapping[str, str] | None = None

    def run(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        timeout: float | None = None,
    ) -> Result:
        args = [os.fspath(a) for a in argv]
        shown_env = " ".join(f"{k}={_shown(k, v)}" for k, v in (env or {}).items())
        logger.info("+ %s%s", f"{shown_env} " if shown_env else "", shlex.join(args))

        full_env = dict(os.environ)
        full_env.update(self.env or {})
        full_env.update(env or {})
        proc = subprocess.run(
            args,
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        result = Result(args, proc.returncode, proc.stdout, proc.stderr)

        output = (proc.stdout + proc.stderr).strip()
        if proc.returncode != 0 and check:
            raise CommandError(args, proc.returncode, output)
        if output:
            logger.debug("%s", output)
        return result


def _shown(name: str, value: str) -> str:
    if any(word in name.upper() for word in _SECRET_WORDS):
        return "***"
    return shlex.quote(value)
