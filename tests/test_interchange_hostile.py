"""Hostile imports are refused or neutralised with a clear message: XXE, billion laughs, zip slip,
zip bombs and oversized files, and script in item HTML."""
from __future__ import annotations

import io
import zipfile

import pytest

from engine.interchange import InterchangeError, packages, read_items, safe_xml
from engine.interchange.model import ParsedItem
from interchange_support import INTERCHANGE, URN, write_bank, zip_folder

ITEM = """<?xml version="1.0" encoding="UTF-8"?>
{doctype}<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="x" title="x"
    adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
    <correctResponse><value>A</value></correctResponse>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <itemBody>{body}
    <choiceInteraction responseIdentifier="RESPONSE" maxChoices="1">
      <simpleChoice identifier="A">{choice}</simpleChoice>
      <simpleChoice identifier="B">No</simpleChoice>
    </choiceInteraction>
  </itemBody>
  <responseProcessing template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"/>
</assessmentItem>"""


def item(doctype: str = "", body: str = "<p>Question?</p>", choice: str = "Yes") -> bytes:
    return ITEM.format(doctype=doctype, body=body, choice=choice).encode()


def package(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_a_plain_item_reads():
    found = read_items(item(), "qti", "plain.xml")
    assert isinstance(found[0], ParsedItem) and found[0].definition["key"] == "A"


def test_xxe_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    hostile = item(f'<!DOCTYPE assessmentItem [<!ENTITY xxe SYSTEM "file://{secret}">]>\n', choice="&xxe;")
    with pytest.raises(InterchangeError, match="refused: the XML declares entities") as error:
        read_items(hostile, "qti", "xxe.xml")
    assert "TOP SECRET" not in str(error.value)


def test_external_entity_over_the_network_is_refused():
    hostile = item('<!DOCTYPE a [<!ENTITY net SYSTEM "http://127.0.0.1:9/x">]>\n', choice="&net;")
    with pytest.raises(InterchangeError, match="entities or external references"):
        read_items(hostile, "qti", "net.xml")


def test_billion_laughs_is_refused_quickly():
    lol = "".join(f'<!ENTITY lol{n} "{("&lol%d;" % (n - 1)) * 10}">' for n in range(1, 10))
    hostile = item(f'<!DOCTYPE a [<!ENTITY lol0 "lol">{lol}]>\n', choice="&lol9;")
    with pytest.raises(InterchangeError, match="entities"):
        read_items(hostile, "qti", "lol.xml")
    with pytest.raises(InterchangeError, match="entities"):
        read_items(b'<?xml version="1.0"?><!DOCTYPE quiz [<!ENTITY a "aaaa">]><quiz>&a;</quiz>', "moodlexml", "q.xml")


@pytest.mark.parametrize("name", ["../evil.xml", "/etc/evil.xml", "items/../../evil.xml", "C:/evil.xml",
                                  "items\\..\\evil.xml"])
def test_zip_slip_is_refused(name):
    hostile = package({"imsmanifest.xml": b"<manifest/>", name: item()})
    with pytest.raises(InterchangeError, match="zip slip"):
        read_items(hostile, "qti", "slip.zip")


def test_a_manifest_pointing_outside_the_package_is_reported():
    manifest = (b'<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"><resources>'
                b'<resource identifier="x" type="imsqti_item_xmlv2p1" href="../../etc/passwd"/>'
                b'<resource identifier="y" type="imsqti_item_xmlv2p1" href="items/y.xml"/></resources></manifest>')
    found = read_items(package({"imsmanifest.xml": manifest, "items/y.xml": item()}), "qti", "p.zip")
    assert "leaves the package" in found[0].reason and isinstance(found[1], ParsedItem)


def test_a_zip_bomb_is_stopped_by_what_it_unpacks_to():
    bomb = package({"imsmanifest.xml": b"<manifest/>", "items/big.xml": b"0" * (packages.MAX_MEMBER_BYTES + 10)})
    assert len(bomb) < 100_000
    with pytest.raises(InterchangeError, match="larger than 5 MiB once unpacked"):
        read_items(bomb, "qti", "bomb.zip")


def test_too_many_members_and_too_much_in_total_are_refused(monkeypatch):
    monkeypatch.setattr(packages, "MAX_MEMBERS", 3)
    many = package({f"items/{n}.xml": item() for n in range(4)})
    with pytest.raises(InterchangeError, match="4 files; at most 3"):
        read_items(many, "qti", "many.zip")
    monkeypatch.setattr(packages, "MAX_MEMBERS", 2000)
    monkeypatch.setattr(packages, "MAX_TOTAL_BYTES", 2000)
    with pytest.raises(InterchangeError, match="unpacks to more than"):
        read_items(package({f"items/{n}.xml": item() for n in range(4)}), "qti", "total.zip")


def test_oversized_files_are_refused(monkeypatch):
    with pytest.raises(InterchangeError, match="larger than 5 MiB"):
        read_items(b"<quiz>" + b" " * safe_xml.MAX_XML_BYTES + b"</quiz>", "moodlexml", "huge.xml")
    with pytest.raises(InterchangeError, match="refused: larger than 50 MiB"):
        read_items(b"x" * (packages.MAX_UPLOAD_BYTES + 1), "gift", "huge.gift")


def test_script_in_item_html_is_neutralised_in_every_format():
    body = ('<p onclick="steal()">Question <a href="javascript:alert(1)">here</a>?</p><script>alert(1)</script>'
            '<div hx-get="/x" data-hx-post="/y">more</div><img src="x.png" alt="A picture" onerror="alert(1)"/>')
    found = read_items(item(body=body, choice="<b onmouseover=\"x()\">Yes</b>"), "qti", "xss.xml")[0]
    text = repr(found.definition)
    for bad in ("<script", "onclick", "javascript:", "hx-get", "data-hx", "onerror", "onmouseover"):
        assert bad not in text
    assert "Question" in text and any("unsafe HTML" in note for note in found.notes)
    moodle = (b'<quiz><question type="truefalse"><name><text>x</text></name><questiontext format="html"><text>'
              b'<![CDATA[<p>Safe?</p><script>alert(1)</script><iframe src="https://evil"></iframe>]]></text>'
              b'</questiontext><answer fraction="100"><text>true</text></answer>'
              b'<answer fraction="0"><text>false</text></answer></question></quiz>')
    found = read_items(moodle, "moodlexml", "xss.xml")[0]
    assert found.definition["stem"] == "<p>Safe?</p>" and found.notes
    aiken = read_items(b"<script>alert(1)</script> Safe?\nA. yes\nB. no\nANSWER: A\n", "aiken", "x.txt")[0]
    assert "<script>" not in aiken.definition["stem"] and "&lt;script&gt;" in aiken.definition["stem"]


def test_not_xml_and_wrong_roots_have_clear_messages():
    with pytest.raises(InterchangeError, match="not well-formed XML"):
        read_items(b"<quiz><question>", "moodlexml", "broken.xml")
    with pytest.raises(InterchangeError, match="not a Moodle XML file"):
        read_items(item(), "moodlexml", "qti.xml")
    with pytest.raises(InterchangeError, match="not a QTI assessment item"):
        read_items(b"<quiz/>", "qti", "moodle.xml")
    with pytest.raises(InterchangeError, match="no imsmanifest.xml"):
        read_items(package({"items/a.xml": item()}), "qti", "nomanifest.zip")
    with pytest.raises(InterchangeError, match="unknown import format"):
        read_items(b"", "csv", "x.csv")


def test_cli_refuses_a_hostile_package_with_a_clear_message_and_stores_nothing(app, runner, tmp_path):
    assert runner.invoke(args=["bank", "load", str(write_bank(tmp_path / "bank"))]).exit_code == 0
    hostile = tmp_path / "slip.zip"
    hostile.write_bytes(zip_folder(INTERCHANGE / "qti21", extra={"../../outside.xml": item()}))
    outcome = runner.invoke(args=["bank", "import", str(hostile), "--format", "qti", "--unit", URN,
                                  "--criterion", "1.1"])
    assert outcome.exit_code == 1
    assert "Nothing imported" in outcome.output and "zip slip" in outcome.output
    assert not (tmp_path.parent / "outside.xml").exists()
