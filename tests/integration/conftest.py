"""Loopback registries shared by the integration tests of the registry transport."""

from __future__ import annotations

import itertools

import pytest

from release.localregistry import start_registry, tool_cache_dir
from release.runner import Runner

_names = itertools.count()


@pytest.fixture(scope="session")
def oci_registry():
    # The tool cache keys the built server by the hash of its sources, so
    # sharing it across sessions only skips a rebuild of the same program.
    with start_registry("oci", runner=Runner(), cache=tool_cache_dir()) as running:
        yield running


@pytest.fixture(scope="session")
def distribution_registry():
    with start_registry("distribution", runner=Runner()) as running:
        yield running


@pytest.fixture(params=["oci", "distribution"])
def registry(request):
    """Each test using this runs once against each kind of server."""
    return request.getfixturevalue(f"{request.param}_registry")


@pytest.fixture
def repository():
    """A repository name no other test in the session uses."""
    return f"project-zot/zot-test-{next(_names)}"
