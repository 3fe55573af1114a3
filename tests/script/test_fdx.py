from __future__ import annotations

from typing import Any

import pytest

from reelforge.errors import ScriptParseError
from reelforge.script.fdx import parse_fdx, write_fdx
from reelforge.script.fountain import parse_fountain, write_fountain
from reelforge.script.io import load_sample
from reelforge.script.model import Screenplay

# A document in the shape Final Draft 12 writes (trimmed of styling blocks it would also carry).
FINAL_DRAFT_DOC = """<?xml version="1.0" encoding="UTF-8" standalone="no" ?>
<FinalDraft DocumentType="Script" Template="No" Version="5">
  <Content>
    <Paragraph Type="Transition">
      <Text>FADE IN:</Text>
    </Paragraph>
    <Paragraph Number="1" Type="Scene Heading">
      <SceneProperties Length="1 2/8" Page="1" Title=""/>
      <Text>INT. DINER - NIGHT</Text>
    </Paragraph>
    <Paragraph Type="Action">
      <Text>The neon sign buzzes. </Text>
      <Text Style="Bold">Everything</Text>
      <Text> smells of coffee &amp; bleach.</Text>
    </Paragraph>
    <Paragraph Type="Character">
      <Text>WAITRESS (O.S.)</Text>
    </Paragraph>
    <Paragraph Type="Dialogue">
      <Text>We're closed.</Text>
    </Paragraph>
    <Paragraph Type="Character">
      <Text>JOE</Text>
    </Paragraph>
    <Paragraph Type="Parenthetical">
      <Text>(sitting anyway)</Text>
    </Paragraph>
    <Paragraph Type="Dialogue">
      <Text>Then I'm early for </Text>
      <Text Style="Italic+Underline">tomorrow</Text>
      <Text>.</Text>
    </Paragraph>
    <Paragraph>
      <DualDialogue>
        <Paragraph Type="Character">
          <Text>JOE</Text>
        </Paragraph>
        <Paragraph Type="Dialogue">
          <Text>Coffee.</Text>
        </Paragraph>
        <Paragraph Type="Character">
          <Text>WAITRESS (CONT'D)</Text>
        </Paragraph>
        <Paragraph Type="Dialogue">
          <Text>Out.</Text>
        </Paragraph>
      </DualDialogue>
    </Paragraph>
    <Paragraph Type="Shot">
      <Text>CLOSE ON THE REGISTER</Text>
    </Paragraph>
    <Paragraph Type="Transition">
      <Text>CUT TO:</Text>
    </Paragraph>
    <Paragraph Number="2A" Type="Scene Heading" StartsNewPage="Yes">
      <SceneProperties Length="4/8" Page="2" Title=""/>
      <Text>EXT. PARKING LOT - CONTINUOUS</Text>
    </Paragraph>
    <Paragraph Type="General">
      <Text>A car alarm, somewhere.</Text>
    </Paragraph>
    <Paragraph Alignment="Center" Type="Action">
      <Text>THE END</Text>
    </Paragraph>
  </Content>
  <TitlePage>
    <Content>
      <Paragraph Alignment="Center" Type="Title Page"><Text Style="Bold">NIGHT SHIFT</Text></Paragraph>
      <Paragraph Alignment="Center" Type="Title Page"><Text></Text></Paragraph>
      <Paragraph Alignment="Center" Type="Title Page"><Text>Written by</Text></Paragraph>
      <Paragraph Alignment="Center" Type="Title Page"><Text>Ana Ortiz</Text></Paragraph>
      <Paragraph Alignment="Center" Type="Title Page"><Text></Text></Paragraph>
      <Paragraph Alignment="Left" Type="Title Page"><Text>ana@example.com</Text></Paragraph>
      <Paragraph Alignment="Left" Type="Title Page"><Text>555 0100</Text></Paragraph>
    </Content>
  </TitlePage>
</FinalDraft>
"""


def _sig(sp: Screenplay) -> list[tuple[Any, ...]]:
    return [(e.type, e.text, e.name, tuple(e.extensions), e.dual, e.scene_number) for e in sp.elements]


def test_parse_final_draft_document() -> None:
    sp = parse_fdx(FINAL_DRAFT_DOC.encode("utf-8"))
    assert _sig(sp) == [
        ("transition", "FADE IN:", None, (), False, None),
        ("scene_heading", "INT. DINER - NIGHT", None, (), False, "1"),
        ("action", "The neon sign buzzes. **Everything** smells of coffee & bleach.", None, (), False, None),
        ("character", "WAITRESS (O.S.)", "WAITRESS", ("O.S.",), False, None),
        ("dialogue", "We're closed.", None, (), False, None),
        ("character", "JOE", "JOE", (), False, None),
        ("parenthetical", "(sitting anyway)", None, (), False, None),
        ("dialogue", "Then I'm early for _*tomorrow*_.", None, (), False, None),
        ("character", "JOE", "JOE", (), False, None),
        ("dialogue", "Coffee.", None, (), False, None),
        ("character", "WAITRESS (CONT'D)", "WAITRESS", ("CONT'D",), True, None),
        ("dialogue", "Out.", None, (), False, None),
        ("action", "CLOSE ON THE REGISTER", None, (), False, None),
        ("transition", "CUT TO:", None, (), False, None),
        ("page_break", "", None, (), False, None),
        ("scene_heading", "EXT. PARKING LOT - CONTINUOUS", None, (), False, "2A"),
        ("action", "A car alarm, somewhere.", None, (), False, None),
        ("centered", "THE END", None, (), False, None),
    ]
    heading = sp.elements[1]
    assert (heading.int_ext, heading.location, heading.time_of_day) == ("INT", "DINER", "NIGHT")
    assert heading.line == 7  # XML line of the <Paragraph>
    assert sp.elements[12].attrs == {"fdx_type": "Shot"}
    assert [(f.key, f.value) for f in sp.title_page] == [
        ("Title", "**NIGHT SHIFT**"),
        ("Credit", "Written by"),
        ("Author", "Ana Ortiz"),
        ("Contact", "ana@example.com\n555 0100"),
    ]
    assert sp.title == "NIGHT SHIFT"


def test_parse_fdx_strip_emphasis_and_str_input() -> None:
    sp = parse_fdx(FINAL_DRAFT_DOC, strip_emphasis=True)
    assert sp.elements[2].text == "The neon sign buzzes. Everything smells of coffee & bleach."
    assert sp.title_page[0].value == "NIGHT SHIFT"


def test_fdx_to_fountain_to_fdx_round_trip() -> None:
    original = parse_fdx(FINAL_DRAFT_DOC)
    fountain = write_fountain(original)
    via_fountain = parse_fountain(fountain)
    assert _sig(via_fountain) == _sig(original)
    back = parse_fdx(write_fdx(via_fountain))
    assert _sig(back) == _sig(original)
    assert back.title_page == original.title_page
    # Final Draft paragraph types it cares about survive a direct FDX -> FDX trip too.
    direct = write_fdx(original)
    assert 'Type="Shot"' in direct and 'Type="General"' in direct
    assert "<DualDialogue>" in direct and 'Number="2A"' in direct and 'StartsNewPage="Yes"' in direct


def test_sample_fountain_to_fdx_round_trip() -> None:
    sp = load_sample()
    back = parse_fdx(write_fdx(sp))
    assert _sig(back) == _sig(sp)
    assert [(e.type, e.depth) for e in back.elements] == [(e.type, e.depth) for e in sp.elements]
    assert back.title_page == sp.title_page
    again = parse_fountain(write_fountain(back))
    assert _sig(again) == _sig(sp)


def test_fountain_only_elements_survive_fdx() -> None:
    text = (
        "# ACT ONE\n\n= Setup.\n\n[[Standalone note]]\n\nINT. A - DAY\n\nShe *waits* [[inline]] here.\n\n"
        "~Singing in the rain\n\n===\n\nBOB\nHi.\n"
    )
    sp = parse_fountain(text)
    back = parse_fdx(write_fdx(sp))
    assert _sig(back) == _sig(sp)
    assert back.elements[4].notes == sp.elements[4].notes
    assert back.elements[0].depth == 1


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<FinalDraft><Content><Paragraph Type="Action"><Text>&lol3;</Text></Paragraph></Content></FinalDraft>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<FinalDraft><Content><Paragraph Type="Action"><Text>&xxe;</Text></Paragraph></Content></FinalDraft>
"""


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion_laughs", "xxe"])
def test_dtd_and_entities_are_refused(doc: str) -> None:
    with pytest.raises(ScriptParseError, match="refused") as info:
        parse_fdx(doc.encode("utf-8"))
    assert info.value.line == 2


def test_malformed_xml_reports_line() -> None:
    bad = '<?xml version="1.0"?>\n<FinalDraft>\n<Content>\n<Paragraph Type="Action"><Text>oops</Paragraph>\n'
    with pytest.raises(ScriptParseError, match="malformed FDX") as info:
        parse_fdx(bad)
    assert info.value.line == 4


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ('<?xml version="1.0"?><html><body/></html>', "not a Final Draft"),
        ('<?xml version="1.0"?><FinalDraft Version="5"></FinalDraft>', "no <Content>"),
        ("", "malformed"),
    ],
)
def test_not_an_fdx_script(doc: str, message: str) -> None:
    with pytest.raises(ScriptParseError, match=message):
        parse_fdx(doc)


def test_non_xml_type_is_refused() -> None:
    with pytest.raises(ScriptParseError, match="bytes or str"):
        parse_fdx(12345)  # type: ignore[arg-type]


def test_latin1_declared_encoding_bytes() -> None:
    doc = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<FinalDraft><Content>'
        '<Paragraph Type="Action"><Text>Caf\xe9 au lait.</Text></Paragraph></Content></FinalDraft>'
    )
    sp = parse_fdx(doc.encode("latin-1"))
    assert sp.elements[0].text == "Caf\u00e9 au lait."
