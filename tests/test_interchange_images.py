"""Images inside imported packages: a QTI package's PNG (and a Moodle XML embedded file) is stored
as a content-hashed asset and the item's src rewritten to it; paths that leave the package and
SVG are refused with the question and field named; dry runs and failed strict imports store no
asset."""
from __future__ import annotations

import base64
import hashlib
import io
import zipfile

import pytest
from sqlalchemy import func, select

from engine import db, models
from engine.interchange import import_file, read_items
from engine.models_authoring import Asset

from interchange_support import URN, write_bank
from test_assets import SVG, png

ITEM = """<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="{key}" title="t" label="AC1.2"
    adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
    <correctResponse><value>A</value></correctResponse>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <itemBody>
    <p>Which sign is this? <img src="{src}" alt="A safety sign"/></p>
    <choiceInteraction responseIdentifier="RESPONSE" shuffle="false" maxChoices="1">
      <simpleChoice identifier="A">Fire exit</simpleChoice>
      <simpleChoice identifier="B">No entry</simpleChoice>
    </choiceInteraction>
  </itemBody>
  <responseProcessing template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"/>
</assessmentItem>
"""
HOTSPOT = ITEM.replace("choiceInteraction", "hotspotInteraction").replace('identifier="{key}"', 'identifier="hot"')


def package(items: dict[str, str], extra: dict[str, bytes] | None = None) -> bytes:
    """A QTI 2.1 content package holding ``items`` (path -> XML) and ``extra`` files."""
    resources = "".join(f'<resource identifier="r{n}" type="imsqti_item_xmlv2p1" href="{path}"/>'
                        for n, path in enumerate(items))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("imsmanifest.xml", f'<manifest identifier="m"><resources>{resources}</resources></manifest>')
        for path, xml in items.items():
            archive.writestr(path, xml)
        for path, data in (extra or {}).items():
            archive.writestr(path, data)
    return buffer.getvalue()


@pytest.fixture
def unit(runner, tmp_path):
    outcome = runner.invoke(args=["bank", "load", str(write_bank(tmp_path / "bank"))])
    assert outcome.exit_code == 0, outcome.output


def run_import(app, data: bytes, fmt: str = "qti", **options):
    with app.app_context():
        session = db.new_session(app)
        try:
            return import_file(data, fmt, URN, db=session, filename="package.zip", **options)
        finally:
            session.close()


def asset_count(app) -> int:
    session = db.new_session(app)
    try:
        return session.scalar(select(func.count()).select_from(Asset))
    finally:
        session.close()


def stored_stem(app, key: str) -> str:
    session = db.new_session(app)
    try:
        item = session.scalar(select(models.Item).join(models.Unit).where(models.Unit.urn == URN,
                                                                          models.Item.key == key))
        return item.latest.definition["stem"]
    finally:
        session.close()


def test_a_package_image_is_stored_and_its_src_points_at_the_asset(app, client, unit):
    picture = png(3, 2, b"\xff\x00\x00")
    data = package({"items/q1.xml": ITEM.format(key="q1", src="../images/x.png")}, {"images/x.png": picture})
    before = asset_count(app)
    dry = run_import(app, data, dry_run=True)
    assert dry.items and not dry.stored and asset_count(app) == before  # a dry run writes no asset
    assert read_items(data, "qti", "package.zip")[0].definition["stem"].count('src="../images/x.png"') == 1

    report = run_import(app, data)
    assert report.stored and report.items_added == 1, str(report)
    assert not any("image" in note for note in report.notes), report.notes
    url = f"/assets/{hashlib.sha256(picture).hexdigest()}.png"
    assert f'src="{url}"' in stored_stem(app, "q1") and "../images" not in stored_stem(app, "q1")
    assert asset_count(app) == before + 1
    response = client.get(url)
    assert response.status_code == 200 and response.data == picture
    assert response.headers["Content-Type"] == "image/png"

    again = run_import(app, data)  # the same bytes are the same asset: nothing new
    assert again.unchanged == 1 and asset_count(app) == before + 1


def test_a_path_out_of_the_package_and_an_svg_are_refused_and_named(app, unit):
    data = package({"items/q1.xml": ITEM.format(key="slip", src="../../etc/passwd"),
                    "items/q2.xml": ITEM.format(key="vector", src="../images/sign.svg"),
                    "items/q3.xml": ITEM.format(key="gone", src="missing.png")},
                   {"images/sign.svg": SVG, "etc/passwd": b"root:x:0:0"})
    before = asset_count(app)
    report = run_import(app, data)
    assert report.stored and report.items_added == 3, str(report)
    text = str(report)
    assert ("package.zip: items/q1.xml: stem: image '../../etc/passwd' refused: its path leaves the package"
            in text)
    assert ("package.zip: items/q2.xml: stem: image '../images/sign.svg' refused: images/sign.svg is not a PNG, "
            "JPEG, GIF or WebP image (SVG is not accepted)" in text)
    assert "items/q3.xml: stem: image 'missing.png': the package does not hold items/missing.png" in text
    assert asset_count(app) == before  # nothing refused was stored
    assert 'src="../../etc/passwd"' in stored_stem(app, "slip")  # left as written: never read from disk


def test_a_strict_import_with_a_problem_stores_no_asset(app, unit):
    picture = png(4, 4)
    data = package({"items/q1.xml": ITEM.format(key="q1", src="../images/x.png"),
                    "items/hot.xml": HOTSPOT.format(src="../images/x.png")}, {"images/x.png": picture})
    before = asset_count(app)
    report = run_import(app, data, strict=True)
    assert not report.stored and "hotspotInteraction" in str(report)
    assert asset_count(app) == before
    # A refused image is not an exact copy either: strict leaves that question out too.
    slip = run_import(app, package({"items/q1.xml": ITEM.format(key="q9", src="../../x.png")}), strict=True)
    assert not slip.stored and "leaves the package" in str(slip) and asset_count(app) == before


def test_moodle_xml_embedded_files_become_assets(app, unit):
    picture = png(2, 5, b"\x00\xff\x00")
    moodle = f"""<quiz><question type="truefalse"><name><text>Sign</text></name>
      <tags><tag><text>AC1.2</text></tag><tag><text>t-three</text></tag></tags>
      <questiontext format="html"><text><![CDATA[<p>Is this a fire exit? <img src="@@PLUGINFILE@@/fire%20exit.png"
        alt="sign"></p>]]></text>
        <file name="fire exit.png" path="/" encoding="base64">{base64.b64encode(picture).decode()}</file>
      </questiontext>
      <answer fraction="100"><text>true</text></answer><answer fraction="0"><text>false</text></answer>
    </question></quiz>""".encode()
    report = run_import(app, moodle, "moodlexml")
    assert report.stored and not report.notes, str(report)
    assert f'src="/assets/{hashlib.sha256(picture).hexdigest()}.png"' in stored_stem(app, "sign")
