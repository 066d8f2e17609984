"""The zui web bundle that the full flavor embeds.

zot's ui extension embeds ``pkg/extensions/build/*``, a folder that zot's
repository ignores and its Makefile fills from a zui release. A missing or
wrong bundle only shows up as a Go embed error minutes into a build, so the
bundle is resolved, checked and installed here before anything compiles.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

import requests

from release.errors import InputError
from release.hashing import file_sha256

__all__ = ["UIBundle", "install_bundle", "resolve_bundle", "tree_sha256"]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


@dataclass(frozen=True, kw_only=True)
class UIBundle:
    origin: str  # the directory, archive or URL it came from
    directory: Path  # a folder holding index.html
    sha256: str  # of the archive; of the file tree for a directory


def resolve_bundle(
    spec: str | None, *, pinned_url: str | None, pinned_sha256: str | None, workdir: Path
) -> UIBundle:
    """Turn ``--ui-bundle`` (or the pinned release) into a checked folder.

    ``spec`` is a directory, a ``.tgz`` or a URL; without it the pinned URL
    is downloaded and its sha256 checked against the pin.
    """
    expected = None
    if spec is None:
        if pinned_url is None:
            raise InputError(
                "the full flavor needs the zui bundle: pass --ui-bundle (a directory, a "
                ".tgz or a URL) or pin ui_bundle.url in matrix.yaml"
            )
        spec, expected = pinned_url, pinned_sha256
        if expected is None:
            logger.warning("ui_bundle.url has no sha256 pinned in matrix.yaml")

    if spec.startswith(("http://", "https://")):
        archive = _download(spec, workdir / "zui.tgz")
    else:
        archive = Path(spec).expanduser()
        if archive.is_dir():
            root = _index_root(archive, spec)
            return UIBundle(origin=spec, directory=root, sha256=tree_sha256(root))
        if not archive.is_file():
            raise InputError(f"--ui-bundle {spec}: no such directory or file")

    digest = file_sha256(archive)
    if expected is not None and digest != expected:
        raise InputError(
            f"ui bundle {spec}: sha256 is {digest}, matrix.yaml pins {expected}; "
            "refusing to embed it"
        )
    extracted = workdir / "ui-bundle"
    _extract(archive, extracted, spec)
    return UIBundle(origin=spec, directory=_index_root(extracted, spec), sha256=digest)


def install_bundle(bundle: UIBundle, source: Path, destination: str) -> Path:
    """Replace ``<source>/<destination>`` with the bundle's files."""
    target = source / destination
    if target.resolve() == bundle.directory.resolve():
        return target
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(bundle.directory, target)
    logger.info("installed ui bundle %s into %s", bundle.origin, target)
    return target


def tree_sha256(root: Path) -> str:
    """A digest of a folder: every file's relative path and content, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(file_sha256(path).encode() + b"\n")
    return digest.hexdigest()


def _index_root(folder: Path, spec: str) -> Path:
    # zui's release archive holds build/index.html; a plain folder holds index.html.
    for candidate in (folder, folder / "build"):
        if (candidate / "index.html").is_file():
            return candidate
    raise InputError(
        f"ui bundle {spec}: no index.html at its top or under build/; "
        "give the zui build folder or its release zui.tgz"
    )


def _download(url: str, dest: Path) -> Path:
    logger.info("downloading ui bundle %s", url)
    try:
        with requests.get(url, stream=True, timeout=60) as response:
            response.raise_for_status()
            with dest.open("wb") as out:
                for chunk in response.iter_content(_CHUNK):
                    out.write(chunk)
    except requests.RequestException as exc:
        raise InputError(
            f"ui bundle {url}: download failed ({exc.__class__.__name__}); "
            "pass --ui-bundle with a local directory or .tgz"
        ) from exc
    return dest


def _extract(archive: Path, dest: Path, spec: str) -> None:
    try:
        with tarfile.open(archive) as tar:
            # The "data" filter refuses absolute paths, links out of the folder and devices.
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as exc:
        # tarfile's messages span several lines; the cause keeps them for --debug.
        raise InputError(
            f"ui bundle {spec}: not a readable .tgz ({type(exc).__name__}); give a "
            "directory holding index.html or zui's release zui.tgz"
        ) from exc
