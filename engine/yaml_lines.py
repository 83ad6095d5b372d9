"""Read YAML and remember the line of every value, so a problem can name file, line and field."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple  # a path into the document: ("items", 3, "options", 1, "text")


class YamlError(ValueError):
    def __init__(self, file: Path, line: int | None, message: str):
        super().__init__(message)
        self.file, self.line, self.message = file, line, message


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(file: Path) -> tuple[Any, dict[Path_, int]]:
    """Return ``(data, lines)``; ``lines`` maps each path in the document to its 1-based line."""
    text = file.read_text(encoding="utf-8")
    # Parse once (with libyaml when present) and build the data from the same node tree
    # the line numbers come from.
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlError(file, mark.line + 1 if mark else None, f"not valid YAML: {problem}") from exc
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return data, lines


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), lines)
            lines[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            _walk(child, path + (index,), lines)


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def split_field(field: str) -> Path_:
    """``"options[2].text"`` -> ``("options", 2, "text")``."""
    return tuple(int(index) if index else name for name, index in _PART.findall(field))


def line_of(lines: dict[Path_, int], path: Path_) -> int | None:
    """The line of ``path`` or of its nearest ancestor that exists in the document."""
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path)
