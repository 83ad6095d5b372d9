"""Images kept by content hash: stored once, served at ``/assets/<sha256>.<ext>`` forever.

An asset's address is the SHA-256 of its bytes, so it never changes meaning: browsers may cache
it for a year (``immutable``), and two items that use the same picture share one row. Only the
raster types in ``MEDIA_TYPES`` are kept, and only when the bytes themselves say they are that
type (the name and the browser's claim are not trusted). SVG is refused outright: it can carry
script, and a sanitiser for it would be one more thing to get wrong.

Bank files refer to images beside them (``<img src="assets/till.png" alt="...">``, relative to the
unit folder). ``bank load`` stores each one and rewrites its ``src`` to the asset's address; ``bank
export`` writes the bytes back beside the files and the ``src`` back to the relative path.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from flask import Blueprint, abort, current_app, make_response, request
from sqlalchemy.orm import Session

from engine import db
from engine.models_authoring import Asset

#: The image types kept, and the extension each is served under.
MEDIA_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
ASSET_URL = re.compile(r"/assets/(?P<sha>[0-9a-f]{64})\.(?P<ext>[a-z]{3,4})\Z")
# The src of every <img>: quoted either way or bare, as nh3 and authors write it.
_IMG_SRC = re.compile(r"""(<img\b[^>]*?\bsrc\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)


class AssetError(ValueError):
    """Bytes that cannot be kept as an asset; the message says why, for the author."""


def sniff(data: bytes) -> str | None:
    """The media type the bytes are, from their signature, or ``None`` if not an allowed type."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def url_of(asset: Asset) -> str:
    return f"/assets/{asset.sha256}.{MEDIA_TYPES[asset.media_type]}"


def store(session: Session, data: bytes, now: dt.datetime, bank_path: str | None = None,
          max_bytes: int = DEFAULT_MAX_BYTES) -> Asset:
    """Keep ``data`` (once) and return its asset; raises :class:`AssetError` saying what is wrong."""
    if not data:
        raise AssetError("the file is empty")
    if len(data) > max_bytes:
        raise AssetError(f"the file is {len(data):,} bytes; the limit is {max_bytes:,}")
    media_type = sniff(data)
    if media_type is None:
        raise AssetError("only PNG, JPEG, GIF and WebP images can be used (SVG is not accepted)")
    sha = hashlib.sha256(data).hexdigest()
    asset = session.get(Asset, sha)
    if asset is None:
        asset = Asset(sha256=sha, media_type=media_type, size=len(data), data=data, bank_path=bank_path,
                      created_at=now)
        session.add(asset)
        session.flush()
    elif asset.bank_path is None and bank_path:
        asset.bank_path = bank_path
    return asset


# --- images in definitions ---------------------------------------------------------------------


def _map_srcs(value: Any, change: Callable[[str, str], str], path: str = "") -> Any:
    """A copy of ``value`` with every <img> src in every string replaced by ``change(src, path)``."""
    if isinstance(value, str):
        def replace(match: re.Match) -> str:
            src = next(g for g in match.groups()[1:] if g is not None)
            return f'{match[1]}"{change(src, path or "stem")}"'
        return _IMG_SRC.sub(replace, value)
    if isinstance(value, dict):
        return {k: _map_srcs(v, change, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_srcs(v, change, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _bank_file(src: str, unit_folder: Path) -> Path | None:
    """The file a relative ``src`` names inside the unit folder, or None if it is not one."""
    if not src or ":" in src or src.startswith(("/", "\\", "//")) or "\\" in src:
        return None
    relative = PurePosixPath(src)
    if ".." in relative.parts:
        return None
    return unit_folder / relative


def bank_image_problems(defn: dict, unit_folder: Path) -> list[tuple[str, str]]:
    """``(field, message)`` for every image the definition names that the bank cannot supply."""
    problems: list[tuple[str, str]] = []

    def check(src: str, path: str) -> str:
        if ASSET_URL.match(src):
            return src
        file = _bank_file(src, unit_folder)
        if file is None:
            problems.append((path, f"image {src!r} must be a file beside the bank, such as assets/chart.png"))
        elif not file.is_file():
            problems.append((path, f"image {src!r} is not in {unit_folder.name}"))
        else:
            data = file.read_bytes()
            if sniff(data) is None:
                problems.append((path, f"image {src!r} is not a PNG, JPEG, GIF or WebP image"))
            elif len(data) > DEFAULT_MAX_BYTES:
                problems.append((path, f"image {src!r} is larger than {DEFAULT_MAX_BYTES:,} bytes"))
        return src

    _map_srcs(defn, check)
    return problems


def load_bank_images(session: Session, defn: dict, unit_folder: Path, now: dt.datetime) -> dict:
    """Store every image the definition names beside the bank; return it with asset addresses."""
    def resolve(src: str, _path: str) -> str:
        file = _bank_file(src, unit_folder)
        if file is None or not file.is_file():
            return src  # already an asset address (checked by bank_image_problems)
        return url_of(store(session, file.read_bytes(), now, bank_path=src))
    return _map_srcs(defn, resolve)


def export_bank_images(session: Session, defn: dict, unit_folder: Path, pending: dict[Path, bytes]) -> dict:
    """Return ``defn`` with relative srcs; every file to write beside the bank goes into ``pending``
    (the caller writes them once the whole export is known to be sound)."""
    def back(src: str, _path: str) -> str:
        match = ASSET_URL.match(src)
        asset = session.get(Asset, match["sha"]) if match else None
        if asset is None:
            return src
        relative = asset.bank_path or f"assets/{asset.sha256[:16]}.{MEDIA_TYPES[asset.media_type]}"
        file = _bank_file(relative, unit_folder)
        if file is None:
            relative = f"assets/{asset.sha256[:16]}.{MEDIA_TYPES[asset.media_type]}"
            file = unit_folder / relative
        if not file.is_file() or hashlib.sha256(file.read_bytes()).hexdigest() != asset.sha256:
            if file.is_file():  # a different picture already has that name: never overwrite it
                relative = f"assets/{asset.sha256[:16]}.{MEDIA_TYPES[asset.media_type]}"
                file = unit_folder / relative
            pending[file] = asset.data
        return relative
    return _map_srcs(defn, back)


# --- serving ----------------------------------------------------------------------------------------

bp = Blueprint("assets", __name__, url_prefix="/assets")


@bp.get("/<string:name>")
def serve(name: str):
    match = ASSET_URL.match(f"/assets/{name}")
    if match is None:
        abort(404)
    asset = db.session().get(Asset, match["sha"])
    if asset is None or MEDIA_TYPES.get(asset.media_type) != match["ext"]:
        abort(404)
    etag = f'"{asset.sha256}"'
    if request.headers.get("If-None-Match") == etag:
        response = make_response("", 304)
    else:
        response = make_response(asset.data)
        response.headers["Content-Type"] = asset.media_type
    response.headers["ETag"] = etag
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The bytes behind a hash never change; nothing in an image should ever run.
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def max_upload_bytes() -> int:
    return int(current_app.config.get("ASSET_MAX_BYTES", DEFAULT_MAX_BYTES))
