"""Build, name, checksum and publish zot release binaries as OCI artifacts."""

__all__: list[str] = []
