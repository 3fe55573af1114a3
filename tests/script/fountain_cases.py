"""Golden Fountain cases: (id, fountain text, expected elements).

Each expected element is ``(type, text)`` or ``(type, text, {field: value})``; fields are compared
against the parsed ``Element`` attributes (``line`` included when given). A parser bug becomes a
one-line case here.
"""

from __future__ import annotations

from typing import Any

Expected = tuple[str, str] | tuple[str, str, dict[str, Any]]

CASES: list[tuple[str, str, list[Expected]]] = [
    # --- scene headings -----------------------------------------------------------------------
    (
        "heading_basic",
        "INT. HOUSE - DAY\n\nShe waits.\n",
        [
            (
                "scene_heading",
                "INT. HOUSE - DAY",
                {"int_ext": "INT", "location": "HOUSE", "time_of_day": "DAY", "line": 1, "forced": False},
            ),
            ("action", "She waits.", {"line": 3}),
        ],
    ),
    (
        "heading_lowercase",
        "ext. brick's pool - day\n",
        [
            (
                "scene_heading",
                "ext. brick's pool - day",
                {"int_ext": "EXT", "location": "BRICK'S POOL", "time_of_day": "DAY"},
            ),
        ],
    ),
    (
        "heading_prefixes",
        "EST. CITY SKYLINE - DUSK\n\nINT./EXT. CAR - NIGHT\n\nINT/EXT GARAGE - DAY\n\n"
        "I/E TRUCK - DAY\n\nINT HOUSE - KITCHEN - MORNING\n",
        [
            ("scene_heading", "EST. CITY SKYLINE - DUSK", {"int_ext": "EST", "location": "CITY SKYLINE"}),
            ("scene_heading", "INT./EXT. CAR - NIGHT", {"int_ext": "INT/EXT", "location": "CAR"}),
            ("scene_heading", "INT/EXT GARAGE - DAY", {"int_ext": "INT/EXT", "location": "GARAGE"}),
            ("scene_heading", "I/E TRUCK - DAY", {"int_ext": "INT/EXT", "location": "TRUCK"}),
            (
                "scene_heading",
                "INT HOUSE - KITCHEN - MORNING",
                {"int_ext": "INT", "location": "HOUSE - KITCHEN", "time_of_day": "MORNING"},
            ),
        ],
    ),
    # Spec: a heading needs a blank line after it; an all-caps line followed by text is a cue
    # (screenplain and jouvence agree).
    (
        "heading_needs_blank_after",
        "INT. HOUSE - DAY\nBob enters.\n",
        [
            ("character", "INT. HOUSE - DAY"),
            ("dialogue", "Bob enters."),
        ],
    ),
    (
        "heading_lowercase_needs_blank_after",
        "int. house - day\nBob enters.\n",
        [
            ("action", "int. house - day\nBob enters."),
        ],
    ),
    (
        "heading_not_a_prefix",
        "INTERIOR decorators arrive.\n\nEXTRA! EXTRA!\n",
        [
            ("action", "INTERIOR decorators arrive."),
            ("action", "EXTRA! EXTRA!"),
        ],
    ),
    (
        "heading_forced",
        ".SNIPER SCOPE POV\n\nNothing moves.\n",
        [
            (
                "scene_heading",
                "SNIPER SCOPE POV",
                {"forced": True, "int_ext": None, "location": "SNIPER SCOPE POV"},
            ),
            ("action", "Nothing moves."),
        ],
    ),
    (
        "heading_forced_ellipsis_is_action",
        "...and then nothing.\n",
        [
            ("action", "...and then nothing."),
        ],
    ),
    (
        "heading_scene_numbers",
        "INT. HOUSE - DAY #1A#\n\nEXT. YARD - NIGHT #I-1-A#\n\nINT. HOUSE - DAY - FLASHBACK (1944) #110A#\n",
        [
            ("scene_heading", "INT. HOUSE - DAY", {"scene_number": "1A"}),
            ("scene_heading", "EXT. YARD - NIGHT", {"scene_number": "I-1-A", "time_of_day": "NIGHT"}),
            (
                "scene_heading",
                "INT. HOUSE - DAY - FLASHBACK (1944)",
                {"scene_number": "110A", "location": "HOUSE - DAY", "time_of_day": "FLASHBACK (1944)"},
            ),
        ],
    ),
    # --- action ---------------------------------------------------------------------------------
    (
        "action_multiline",
        "They look at each other.\nA long beat.\n\nThen they run.\n",
        [
            ("action", "They look at each other.\nA long beat.", {"line": 1}),
            ("action", "Then they run.", {"line": 4}),
        ],
    ),
    (
        "action_forced",
        "!SCANNING THE AREA\nFor signs of life.\n\n!BRICK\nHe is gone.\n",
        [
            ("action", "SCANNING THE AREA\nFor signs of life."),
            ("action", "BRICK\nHe is gone."),
        ],
    ),
    (
        "action_tabs_and_indent",
        "\tIndented with a tab.\n        Eight spaces.\n",
        [
            ("action", "    Indented with a tab.\n        Eight spaces."),
        ],
    ),
    (
        "action_two_space_blank_line",
        "First part.\n  \nSecond part.\n",
        [
            ("action", "First part.\n\nSecond part."),
        ],
    ),
    # --- characters and dialogue ----------------------------------------------------------------
    (
        "character_basic",
        "STEEL\nThe man's a myth!\n",
        [
            ("character", "STEEL", {"name": "STEEL", "extensions": [], "dual": False, "line": 1}),
            ("dialogue", "The man's a myth!", {"line": 2}),
        ],
    ),
    (
        "character_needs_blank_before",
        "He turns.\nSTEEL\nHello.\n",
        [
            ("action", "He turns.\nSTEEL\nHello."),
        ],
    ),
    (
        "character_not_followed_by_blank",
        "STEEL\n\nHello.\n",
        [
            ("action", "STEEL"),
            ("action", "Hello."),
        ],
    ),
    (
        "character_extensions",
        "HANS (on the radio)\nWhat was it you said?\n\nMOM (V.O.) (CONT'D)\nLuke.\n\n"
        "BRICK (O.S.)\nIn here!\n",
        [
            ("character", "HANS (on the radio)", {"name": "HANS", "extensions": ["on the radio"]}),
            ("dialogue", "What was it you said?"),
            ("character", "MOM (V.O.) (CONT'D)", {"name": "MOM", "extensions": ["V.O.", "CONT'D"]}),
            ("dialogue", "Luke."),
            ("character", "BRICK (O.S.)", {"name": "BRICK", "extensions": ["O.S."]}),
            ("dialogue", "In here!"),
        ],
    ),
    (
        "character_lowercase_extension",
        "LENA (cont'd)\nAnyway.\n",
        [
            ("character", "LENA (cont'd)", {"name": "LENA", "extensions": ["cont'd"]}),
            ("dialogue", "Anyway."),
        ],
    ),
    (
        "character_numbers_need_a_letter",
        "R2D2\nBeep boop.\n\nTHX 1138\nHello.\n\n23\nNot a cue.\n",
        [
            ("character", "R2D2", {"name": "R2D2"}),
            ("dialogue", "Beep boop."),
            ("character", "THX 1138", {"name": "THX 1138"}),
            ("dialogue", "Hello."),
            ("action", "23\nNot a cue."),
        ],
    ),
    (
        "character_forced",
        "@McCLANE\nYippee ki-yay!\n",
        [
            ("character", "McCLANE", {"name": "McCLANE"}),
            ("dialogue", "Yippee ki-yay!"),
        ],
    ),
    (
        "character_trailing_spaces",
        "STEEL   \nHi there.   \n",
        [
            ("character", "STEEL", {"name": "STEEL"}),
            ("dialogue", "Hi there."),
        ],
    ),
    (
        "dual_dialogue",
        "BRICK\nScrew retirement.\n\nSTEEL ^\nScrew retirement.\n",
        [
            ("character", "BRICK", {"dual": False}),
            ("dialogue", "Screw retirement."),
            ("character", "STEEL", {"dual": True, "name": "STEEL"}),
            ("dialogue", "Screw retirement."),
        ],
    ),
    (
        "parentheticals",
        "STEEL\n(starting the engine)\nSo much for retirement!\n(beat)\nLet's go.\n",
        [
            ("character", "STEEL"),
            ("parenthetical", "(starting the engine)", {"line": 2}),
            ("dialogue", "So much for retirement!", {"line": 3}),
            ("parenthetical", "(beat)", {"line": 4}),
            ("dialogue", "Let's go.", {"line": 5}),
        ],
    ),
    (
        "dialogue_multiline_and_two_spaces",
        "DEALER\nTen.\nFour.\nDealer gets a seven.\n  \nHit or stand?\n",
        [
            ("character", "DEALER"),
            ("dialogue", "Ten.\nFour.\nDealer gets a seven.\n\nHit or stand?", {"line": 2}),
        ],
    ),
    # --- transitions and centered ---------------------------------------------------------------
    (
        "transition_to",
        "He leaves.\n\nCUT TO:\n\nEXT. STREET - DAY\n",
        [
            ("action", "He leaves."),
            ("transition", "CUT TO:"),
            ("scene_heading", "EXT. STREET - DAY"),
        ],
    ),
    (
        "transition_needs_blank_after",
        "CUT TO:\nThe street.\n",
        [
            ("character", "CUT TO:"),
            ("dialogue", "The street."),
        ],
    ),
    (
        "transition_forced",
        ">Burn to White.\n\n> FADE OUT.\n",
        [
            ("transition", "Burn to White."),
            ("transition", "FADE OUT."),
        ],
    ),
    (
        "centered",
        ">THE END<\n\n> INTERMISSION <\n",
        [
            ("centered", "THE END"),
            ("centered", "INTERMISSION"),
        ],
    ),
    # --- lyrics ---------------------------------------------------------------------------------
    (
        "lyrics",
        "~Willy Wonka! Willy Wonka!\n~The amazing chocolatier!\n",
        [
            ("lyrics", "Willy Wonka! Willy Wonka!\nThe amazing chocolatier!", {"line": 1}),
        ],
    ),
    (
        "lyrics_in_dialogue",
        "WONKA\n~Come with me\n~And you'll be\n",
        [
            ("character", "WONKA"),
            ("lyrics", "Come with me\nAnd you'll be"),
        ],
    ),
    # --- notes ----------------------------------------------------------------------------------
    (
        "note_standalone",
        "[[Check the timeline here.]]\n\nShe runs.\n",
        [
            ("note", "Check the timeline here.", {"line": 1}),
            ("action", "She runs.", {"line": 3}),
        ],
    ),
    (
        "note_inline",
        "His hand is an inch from the receiver. [[Needs work.]] The phone RINGS.\n",
        [
            (
                "action",
                "His hand is an inch from the receiver.  The phone RINGS.",
                {"notes": [{"offset": 39, "text": "Needs work."}]},
            ),
        ],
    ),
    (
        "note_multiline_keeps_line_numbers",
        "[[This note\nspans\nthree lines.]]\n\nShe runs.\n",
        [
            ("note", "This note\nspans\nthree lines.", {"line": 1}),
            ("action", "She runs.", {"line": 5}),
        ],
    ),
    (
        "note_inside_dialogue",
        "BOB\n[[louder?]]\nHello.\n",
        [
            ("character", "BOB"),
            ("note", "louder?", {"line": 2}),
            ("dialogue", "Hello.", {"line": 3}),
        ],
    ),
    # --- boneyard -------------------------------------------------------------------------------
    (
        "boneyard_removed",
        "Before.\n\n/*\nINT. GONE - DAY\n\nCut material.\n*/\n\nAfter.\n",
        [
            ("action", "Before.", {"line": 1}),
            ("action", "After.", {"line": 9}),
        ],
    ),
    (
        "boneyard_inline",
        "Bob /* very slowly */ walks in.\n",
        [
            ("action", "Bob  walks in."),
        ],
    ),
    (
        "boneyard_line_inside_dialogue",
        "BOB\n/* (beat) */\nHello.\n",
        [
            ("character", "BOB"),
            ("dialogue", "Hello.", {"line": 3}),
        ],
    ),
    # --- sections, synopses, page breaks --------------------------------------------------------
    (
        "sections_and_synopsis",
        "# ACT I\n\n## Sequence 1\n\n### The heist\n\n= Brick plans the job.\n",
        [
            ("section", "ACT I", {"depth": 1}),
            ("section", "Sequence 1", {"depth": 2}),
            ("section", "The heist", {"depth": 3}),
            ("synopsis", "Brick plans the job."),
        ],
    ),
    (
        "page_breaks",
        "End of page.\n\n===\n\nNew page.\n\n=====\n",
        [
            ("action", "End of page."),
            ("page_break", ""),
            ("action", "New page."),
            ("page_break", ""),
        ],
    ),
    # --- emphasis -------------------------------------------------------------------------------
    (
        "emphasis_kept",
        "She is *very* **angry** and ***loud*** about _this_.\n",
        [
            ("action", "She is *very* **angry** and ***loud*** about _this_."),
        ],
    ),
    (
        "emphasis_escaped",
        "Steel enters the code: \\*9765\\*\n",
        [
            ("action", "Steel enters the code: \\*9765\\*"),
        ],
    ),
    # --- title page -----------------------------------------------------------------------------
    (
        "fade_in_is_not_a_title_page",
        "FADE IN:\n\nEXT. FIELD - DAY\n",
        [
            ("action", "FADE IN:"),
            ("scene_heading", "EXT. FIELD - DAY"),
        ],
    ),
]

#: Cases parsed with ``strip_emphasis=True``.
STRIPPED_CASES: list[tuple[str, str, list[Expected]]] = [
    (
        "strip_all_kinds",
        "She is *very* **angry** and ***loud*** about _this_.\n",
        [
            ("action", "She is very angry and loud about this."),
        ],
    ),
    (
        "strip_escapes",
        "Code: \\*9765\\* and \\_under\\_\n",
        [
            ("action", "Code: *9765* and _under_"),
        ],
    ),
    (
        "strip_dialogue_and_cue",
        "STEEL\nI am **not** done.\n",
        [
            ("character", "STEEL"),
            ("dialogue", "I am not done."),
        ],
    ),
    (
        "strip_does_not_cross_lines",
        "An *unclosed\nasterisk* here.\n",
        [
            ("action", "An *unclosed\nasterisk* here."),
        ],
    ),
]
