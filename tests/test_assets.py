"""Content-hashed assets: only real raster images are kept, each once, served with its own type,
nosniff and a year's immutable cache; bank images are stored at load and their src rewritten;
authors upload images (size-limited)."""
from __future__ import annotations

import hashlib
import io
import shutil
import struct
import zlib

import pytest
from sqlalchemy import func, select

from engine import assets, banks, db, models
from engine.models_authoring import Asset
from engine.plugins import item_types

from authoring_support import staff
from conftest import BANKS


def png(width: int = 1, height: int = 1, colour: bytes = b"\x00\x00\x00") -> bytes:
    """A real PNG, made here so the test depends on no image library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + colour * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


@pytest.mark.parametrize("data, expected", [
    (png(), "image/png"), (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"), (GIF, "image/gif"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"), (SVG, None), (b"<html><script>", None),
    (b"%PDF-1.7", None), (b"", None),
])
def test_sniffing_trusts_only_the_bytes(data, expected):
    assert assets.sniff(data) == expected


def test_stored_once_by_hash_and_served_with_its_type(app, client, clock):
    data = png(2, 2)
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            first = assets.url_of(assets.store(session, data, clock.now))
            second = assets.url_of(assets.store(session, data, clock.now))
        assert first == second == f"/assets/{hashlib.sha256(data).hexdigest()}.png"
        assert session.scalar(select(func.count()).select_from(Asset)) == 1
        for bad, words in [(SVG, "SVG is not accepted"), (b"", "empty"), (png() + b"\x00" * 2000, "limit")]:
            with pytest.raises(assets.AssetError, match=words):
                assets.store(session, bad, clock.now, max_bytes=1000)
        session.close()
    response = client.get(first)
    assert response.status_code == 200 and response.data == data
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert client.get(first, headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
    assert client.get(first.replace(".png", ".gif")).status_code == 404  # the type is the bytes', not the name's
    assert client.get("/assets/" + "0" * 64 + ".png").status_code == 404
    assert client.get("/assets/../../etc/passwd").status_code == 404


def test_authors_upload_images_with_a_size_limit(app, demo):
    app.config["ASSET_MAX_BYTES"] = 4000
    writer = staff(app, "writer", "write-demo")
    data = png(3, 3)
    response = writer.client.post("/author/images", data={"csrf_token": writer.csrf,
                                                          "image": (io.BytesIO(data), "chart.png")},
                                  content_type="multipart/form-data")
    assert response.status_code == 201
    url = f"/assets/{hashlib.sha256(data).hexdigest()}.png"
    assert url in response.get_data(as_text=True)
    assert writer.client.get(url).data == data
    for payload, name, words in [(SVG, "x.svg", "SVG is not accepted"), (png(100, 100, b"\x01\x02\x03") + b"\x00" * 5000,
                                                                         "big.png", "limit")]:
        refused = writer.client.post("/author/images", data={"csrf_token": writer.csrf, "image": (io.BytesIO(payload), name)},
                                     content_type="multipart/form-data")
        assert refused.status_code == 422 and words in refused.get_data(as_text=True)
    assert writer.client.post("/author/images", data={"image": (io.BytesIO(data), "c.png")},
                              content_type="multipart/form-data").status_code == 400  # no CSRF field


def _bank_with_image(tmp_path, src: str, data: bytes | None) -> tuple:
    bank = tmp_path / "bank"
    shutil.copytree(BANKS / "unit-2-Y-506-2152", bank)
    if data is not None:
        (bank / "assets").mkdir()
        (bank / "assets" / "till.png").write_bytes(data)
    items = bank / "items" / "lo1.yaml"
    text = items.read_text(encoding="utf-8")
    first_stem = text.index("stem: >-\n") + len("stem: >-\n")
    text = text[:first_stem] + f'      <p><img src="{src}" alt="A shop till"></p>\n' + text[first_stem:]
    items.write_text(text, encoding="utf-8")
    return bank, items


def test_bank_images_are_stored_and_their_src_rewritten_at_load(app, clock, tmp_path):
    data = png(4, 4)
    bank, _ = _bank_with_image(tmp_path, "assets/till.png", data)
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            banks.load(session, bank, item_types(app), clock.now)
        version = session.scalar(select(models.ItemVersion).join(models.Item).where(models.Item.key == "u2-1.1-01"))
        url = f"/assets/{hashlib.sha256(data).hexdigest()}.png"
        assert f'src="{url}"' in version.definition["stem"]
        assert session.get(Asset, hashlib.sha256(data).hexdigest()).bank_path == "assets/till.png"
        session.close()
    assert app.test_client().get(url).headers["Content-Type"] == "image/png"


@pytest.mark.parametrize("src, data, words", [
    ("assets/missing.png", None, "is not in bank"),
    ("../../etc/passwd", None, "must be a file beside the bank"),
    ("assets/till.png", SVG, "is not a PNG, JPEG, GIF or WebP"),
])
def test_bank_check_names_a_bad_image_with_file_line_and_field(app, tmp_path, src, data, words):
    bank, items = _bank_with_image(tmp_path, src, data)
    with app.app_context():
        problems = banks.check(bank, item_types(app))
    found = [p for p in problems if words in p.message]
    assert found and found[0].file == items and found[0].field == "items[0].stem" and found[0].line
