"""Zip content packages (IMS QTI with imsmanifest.xml): read with limits, write plainly.

Every member name is checked before anything is read: no absolute paths, no ``..``, no
drive letters or backslashes (zip slip); the number of members, each member's size and the
total are capped, measured on what is actually decompressed, so a zip bomb that lies in its
headers is stopped too. Nothing is ever written to disk.
"""
from __future__ import annotations

import io
import posixpath
import zipfile

from engine.interchange.safe_xml import InterchangeError

MAX_MEMBERS = 2000
MAX_MEMBER_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 50 * 1024 * 1024
#: The upload itself (a package, or any one file to import).
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def is_zip(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"


def safe_name(name: str) -> str | None:
    """The member's normalised path, or None if it could point outside the package."""
    if not name or "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    normal = posixpath.normpath(name)
    if normal.startswith("../") or normal == ".." or "/../" in f"/{normal}/":
        return None
    return normal


def read_zip(data: bytes, where: str) -> dict[str, bytes]:
    """The package's files by normalised path; raises InterchangeError naming the first problem."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InterchangeError(f"{where}: not a readable zip file ({exc})") from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) > MAX_MEMBERS:
        raise InterchangeError(f"{where}: the package has {len(members)} files; at most {MAX_MEMBERS} are read")
    files, total = {}, 0
    for member in members:
        name = safe_name(member.filename)
        if name is None:
            raise InterchangeError(f"{where}: refused: the package member {member.filename!r} has an absolute "
                                   "path or '..' and could write outside the package (zip slip)")
        if member.flag_bits & 0x1:
            raise InterchangeError(f"{where}: {member.filename}: encrypted members are not read")
        with archive.open(member) as stream:
            content = stream.read(MAX_MEMBER_BYTES + 1)
        if len(content) > MAX_MEMBER_BYTES:
            raise InterchangeError(f"{where}: refused: {member.filename} is larger than "
                                   f"{MAX_MEMBER_BYTES // (1024 * 1024)} MiB once unpacked")
        total += len(content)
        if total > MAX_TOTAL_BYTES:
            raise InterchangeError(f"{where}: refused: the package unpacks to more than "
                                   f"{MAX_TOTAL_BYTES // (1024 * 1024)} MiB")
        files[name] = content
    return files


def write_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            # A fixed date keeps the package's bytes the same for the same items.
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()
