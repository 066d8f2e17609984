"""YAML loading that remembers where each value came from.

PyYAML's constructors drop node marks, and pydantic reports errors as key
paths. This module builds plain Python data from the composed node tree and
keeps a map from key path to line, so a validation error can name
``matrix.yaml:LINE``. It also refuses duplicate keys, which PyYAML would
silently resolve by keeping the last one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from release.errors import ConfigError

__all__ = ["Located", "load_located"]

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Located:
    """Parsed YAML data and the line (1-based) of every key path in it."""

    path: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, key_path: KeyPath) -> int:
        """The line of ``key_path``, or of its nearest ancestor that exists."""
        for end in range(len(key_path), -1, -1):
            line = self.lines.get(tuple(key_path[:end]))
            if line is not None:
                return line
        return 1

    def where(self, key_path: KeyPath) -> str:
        """``file:LINE: dotted.key.path`` for messages."""
        dotted = ".".join(str(part) for part in key_path) or "(top level)"
        return f"{self.path.name}:{self.line_of(key_path)}: {dotted}"


def load_located(path: Path) -> Located:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise ConfigError(f"{path.name}:{line}: not valid YAML: {exc.problem}") from exc

    located = Located(path, None)
    if root is None:
        return located
    data = _convert(root, (), located)
    return Located(path, data, located.lines)


def _convert(node: yaml.Node, key_path: KeyPath, located: Located) -> Any:  # noqa: ANN401 - YAML data
    located.lines.setdefault(key_path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if not isinstance(key, str):
                raise ConfigError(
                    f"{located.path.name}:{key_node.start_mark.line + 1}: "
                    f"keys must be strings, got {key!r}"
                )
            child = (*key_path, key)
            if key in result:
                raise ConfigError(f"{located.where(key_path)}: key {key!r} appears twice")
            located.lines[child] = key_node.start_mark.line + 1
            result[key] = _convert(value_node, child, located)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*key_path, i), located) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:  # noqa: ANN401 - YAML data
    # The safe constructor turns one scalar into its typed value (int, bool, None...).
    return yaml.SafeLoader(stream="").construct_object(node, deep=True)
