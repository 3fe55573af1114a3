"""Size limits for screenplay breakdown and analysis, stated up front and checked right after parsing.

Parsing is linear in the input, so even a hostile file is read quickly; what follows parsing is not
free (the layout, sentiment scoring of every unit, the character network and its centralities), so
a screenplay far beyond any real one is refused before that work starts, with a one-line
``LimitExceeded`` such as ``screenplay has 200000 scenes, over the limit of 5000``.

The defaults are generous for real scripts: a feature has about 100-250 scenes, 2,000-6,000
elements, 150-250 thousand characters of text and rarely more than 100 speaking parts. The byte
size of an uploaded file is limited earlier, at ingest (``MediaLimits.max_text_bytes``) and by
``reelforge.script.formats.MAX_SCRIPT_BYTES``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from reelforge.errors import InvalidInput, LimitExceeded

from .model import Screenplay

__all__ = ["DEFAULT_LIMITS", "ScriptLimits"]


@dataclass(frozen=True)
class ScriptLimits:
    #: Scenes (headings, plus a prologue scene when there is one).
    max_scenes: int = 5_000
    #: Paragraph elements of every kind.
    max_elements: int = 100_000
    #: Characters of element and title page text (about 25 features' worth).
    max_text_chars: int = 5_000_000
    #: Distinct speaking characters; only analysis checks it (the interaction network and its
    #: betweenness centrality grow with the cube of the cast in the worst case).
    max_speakers: int = 200

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInput(f"screenplay limit {f.name} must be a positive integer, got {value!r}")

    def check(self, sp: Screenplay, *, speakers: bool = False) -> None:
        """Raise ``LimitExceeded`` if ``sp`` is over a limit; costs one pass over the elements."""
        if not isinstance(sp, Screenplay):
            raise InvalidInput(f"expected a Screenplay, got {type(sp).__name__}")
        # Scenes first (the number people know their script by), counted without building them.
        headings = sum(1 for e in sp.elements if e.type == "scene_heading")
        if headings > self.max_scenes:
            raise LimitExceeded(f"screenplay has {headings} scenes, over the limit of {self.max_scenes}")
        n = len(sp.elements)
        if n > self.max_elements:
            raise LimitExceeded(f"screenplay has {n} elements, over the limit of {self.max_elements}")
        if headings == self.max_scenes and len(sp.scenes()) > self.max_scenes:  # plus a prologue scene
            raise LimitExceeded(f"screenplay has {headings + 1} scenes, over the limit of {self.max_scenes}")
        chars = sum(len(e.text) for e in sp.elements) + sum(len(f.value) for f in sp.title_page)
        if chars > self.max_text_chars:
            raise LimitExceeded(
                f"screenplay has {chars} characters of text, over the limit of {self.max_text_chars}"
            )
        if speakers:
            cast = len(sp.characters())
            if cast > self.max_speakers:
                raise LimitExceeded(
                    f"screenplay has {cast} speaking characters, over the analysis limit of {self.max_speakers}"
                )


DEFAULT_LIMITS = ScriptLimits()
