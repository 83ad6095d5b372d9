"""Images inside imported items: found in the file being imported, never on the server's disk.

A QTI content package holds its images beside the items (``<img src="../images/x.png">`` in
``items/q1.xml``); a Moodle XML question embeds them as base64 ``<file>`` elements named by
``@@PLUGINFILE@@/name``. :func:`find_images` resolves every ``src`` of a definition against the
files the reader kept in memory (the package's members, or the question's embedded files), and
says why for each one it cannot use: outside the package (zip slip), missing, not a raster image
(SVG is refused, as for every asset) or too large. Nothing is stored here: the import stores the
bytes with :func:`engine.assets.store` inside its own transaction, so a dry run or a strict import
that fails writes no asset.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import unquote

from engine.assets import ASSET_URL, DEFAULT_MAX_BYTES, _map_srcs, sniff
from engine.interchange.packages import safe_name

#: How Moodle XML names a file embedded in the question (the rest is the file's path and name).
PLUGINFILE = "@@PLUGINFILE@@/"


@dataclass(frozen=True)
class FoundImage:
    #: The file's normalised path inside the package (kept as the asset's bank path).
    path: str
    data: bytes


def _package_path(src: str, base: str) -> str | None:
    """The package member ``src`` names from an item in folder ``base``, or None if it leaves the package."""
    if src.startswith(PLUGINFILE):
        src, base = src[len(PLUGINFILE):], ""
    src = unquote(src.split("#", 1)[0].split("?", 1)[0])
    if not src or src.startswith(("/", "\\")) or "\\" in src or ":" in src:
        return None
    return safe_name(posixpath.normpath(posixpath.join(base, src)))


def find_images(definition: dict, files: dict[str, bytes] | None, base: str,
                where: str) -> tuple[dict[str, FoundImage], list[str]]:
    """``({src: image}, [problem])`` for every <img> in ``definition``; each problem names the
    question, the field and the src. ``files`` is None when the file imported is not a package."""
    found: dict[str, FoundImage] = {}
    problems: list[str] = []

    def check(src: str, field: str) -> str:
        if ASSET_URL.match(src) or src in found:
            return src
        said = f"{where}: {field}: image {src!r}"
        if src.lower().startswith(("http:", "https:", "//")):
            problems.append(f"{said} is on another site: not imported, its source is left as written")
        elif files is None:
            problems.append(f"{said}: only images inside a content package (zip) or embedded in Moodle XML are "
                            "imported; its source is left as written")
        else:
            path = _package_path(src, base)
            if path is None:
                problems.append(f"{said} refused: its path leaves the package (only files inside it are read)")
            elif path not in files:
                problems.append(f"{said}: the package does not hold {path}; its source is left as written")
            elif sniff(files[path]) is None:
                problems.append(f"{said} refused: {path} is not a PNG, JPEG, GIF or WebP image "
                                "(SVG is not accepted)")
            elif len(files[path]) > DEFAULT_MAX_BYTES:
                problems.append(f"{said} refused: {path} is larger than {DEFAULT_MAX_BYTES:,} bytes")
            else:
                found[src] = FoundImage(path, files[path])
        return src

    _map_srcs(definition, check)
    return found, problems
