"""Semantic search over the scenes and dialogue lines of a studio's screenplays.

Screenplays are turned into small text units (scene chunks and dialogue lines) with
:func:`units_for_search`, embedded once by an :class:`Embedder` and kept in a :class:`SearchIndex`
that can be saved (safetensors + JSON) so a query never re-embeds the corpus.

The embedders (:class:`MiniLMEmbedder`, the lexical :class:`HashingEmbedder`) live in the shared
training toolkit, ``reelforge.training.embed``; they are re-exported here.

This module takes plain data (no dependency on ``script.model``) so any parser can feed it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reelforge.errors import Cancelled, InvalidInput, NotFound
from reelforge.training.embed import Embedder, HashingEmbedder, MiniLMEmbedder

__all__ = [
    "Doc",
    "Embedder",
    "HashingEmbedder",
    "Hit",
    "MiniLMEmbedder",
    "SceneData",
    "SearchIndex",
    "units_for_search",
]

INDEX_FORMAT = "reelforge.script.search_index"
INDEX_VERSION = 1
VECTORS_FILE = "vectors.safetensors"
DOCS_FILE = "index.json"


# --------------------------------------------------------------------------------------------------
# Index
# --------------------------------------------------------------------------------------------------


@dataclass
class Doc:
    """One searchable unit; ``meta`` must be JSON-serialisable (it is saved with the index)."""

    id: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "meta": dict(self.meta)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Doc:
        return cls(id=str(data["id"]), text=str(data["text"]), meta=dict(data.get("meta") or {}))


@dataclass
class Hit:
    id: str
    score: float
    text: str
    meta: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "score": self.score, "text": self.text, "meta": dict(self.meta)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hit:
        return cls(
            id=str(data["id"]),
            score=float(data["score"]),
            text=str(data["text"]),
            meta=dict(data.get("meta") or {}),
        )


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _id_matches_prefix(doc_id: str, prefix: str) -> bool:
    # Prefixes are path-like ("sp_1" or "sp_1/sc_3"): "sp_1" must not also drop "sp_10/...".
    if prefix.endswith("/"):
        return doc_id.startswith(prefix)
    return doc_id == prefix or doc_id.startswith(prefix + "/") or doc_id.startswith(prefix + "#")


class SearchIndex:
    """Documents plus their vectors, bound to one embedder (by name and dim) on first use.

    Vectors are kept as one float32 matrix, so a search is a single matrix-vector product; that is
    fast enough for every line of a studio's screenplays (10^5 rows) without an ANN library.
    """

    def __init__(self) -> None:
        self.embedder_name: str | None = None
        self.dim: int | None = None
        self._docs: list[Doc] = []
        self._hashes: list[str] = []
        self._pos: dict[str, int] = {}
        self._vectors = np.zeros((0, 0), dtype=np.float32)

    # ---- bookkeeping -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._pos

    @property
    def docs(self) -> list[Doc]:
        return list(self._docs)

    def get(self, doc_id: str) -> Doc:
        if doc_id not in self._pos:
            raise NotFound(f"no document {doc_id!r} in the search index")
        return self._docs[self._pos[doc_id]]

    def vector(self, doc_id: str) -> np.ndarray:
        self.get(doc_id)
        return self._vectors[self._pos[doc_id]].copy()

    def _bind(self, embedder: Embedder) -> None:
        name, dim = str(embedder.name), int(embedder.dim)
        if self.embedder_name is None:
            self.embedder_name, self.dim = name, dim
            self._vectors = np.zeros((0, dim), dtype=np.float32)
            return
        if name != self.embedder_name or dim != self.dim:
            raise InvalidInput(
                f"this index was built with embedder {self.embedder_name!r} (dim {self.dim}); "
                f"got {name!r} (dim {dim}): rebuild the index or use the same embedder"
            )

    def _embed(self, embedder: Embedder, texts: list[str]) -> np.ndarray:
        vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
        if vectors.shape != (len(texts), self.dim):
            raise InvalidInput(
                f"embedder {embedder.name!r} returned shape {vectors.shape}, "
                f"expected ({len(texts)}, {self.dim})"
            )
        if not np.all(np.isfinite(vectors)):
            raise InvalidInput(f"embedder {embedder.name!r} returned non-finite values")
        return vectors

    # ---- mutation --------------------------------------------------------------------------------

    def add(
        self,
        docs: Sequence[Doc],
        embedder: Embedder,
        batch: int = 64,
        progress: Callable[[int, int, str], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> int:
        """Embed and store docs that are new or whose text changed; returns how many were embedded.

        Same id with the same text only refreshes ``meta`` (no embedding). Batches already embedded
        stay in the index if ``should_stop`` cancels, so a re-run continues where it stopped.
        """
        if batch < 1:
            raise InvalidInput("batch must be >= 1")
        self._bind(embedder)
        seen: set[str] = set()
        todo: list[tuple[Doc, str]] = []
        for doc in docs:
            if not isinstance(doc, Doc):
                raise InvalidInput(f"SearchIndex.add takes Doc objects, got {type(doc).__name__}")
            if not doc.id or not isinstance(doc.id, str):
                raise InvalidInput("every Doc needs a non-empty string id")
            if doc.id in seen:
                raise InvalidInput(f"duplicate document id {doc.id!r} in one add() call")
            seen.add(doc.id)
            try:
                json.dumps(doc.meta)
            except (TypeError, ValueError) as exc:
                raise InvalidInput(f"meta of document {doc.id!r} is not JSON-serialisable: {exc}") from exc
            digest = _text_hash(doc.text)
            pos = self._pos.get(doc.id)
            if pos is not None and self._hashes[pos] == digest:
                self._docs[pos] = Doc(doc.id, doc.text, dict(doc.meta))
                continue
            todo.append((doc, digest))

        total = len(todo)
        if progress is not None:
            progress(0, total, f"embedding {total} new documents with {embedder.name}")
        for start in range(0, total, batch):
            if should_stop is not None and should_stop():
                raise Cancelled(f"indexing cancelled after {start} of {total} documents")
            chunk = todo[start : start + batch]
            vectors = self._embed(embedder, [d.text for d, _ in chunk])
            new_rows: list[np.ndarray] = []
            for (doc, digest), vec in zip(chunk, vectors, strict=True):
                stored = Doc(doc.id, doc.text, dict(doc.meta))
                pos = self._pos.get(doc.id)
                if pos is not None:
                    self._docs[pos], self._hashes[pos] = stored, digest
                    self._vectors[pos] = vec
                else:
                    self._pos[doc.id] = len(self._docs)
                    self._docs.append(stored)
                    self._hashes.append(digest)
                    new_rows.append(vec)
            if new_rows:
                self._vectors = np.concatenate([self._vectors, np.stack(new_rows)], axis=0)
            if progress is not None:
                done = min(start + batch, total)
                progress(done, total, f"embedded {done}/{total}")
        return total

    def remove(self, prefix: str) -> int:
        """Drop every doc whose id is ``prefix`` or lies under it (``prefix/...``); returns the count.

        Used before re-indexing a screenplay, whose docs all share the id prefix given to
        :func:`units_for_search`.
        """
        if not prefix:
            raise InvalidInput("remove() needs a non-empty id prefix")
        keep = [i for i, d in enumerate(self._docs) if not _id_matches_prefix(d.id, prefix)]
        removed = len(self._docs) - len(keep)
        if removed:
            self._docs = [self._docs[i] for i in keep]
            self._hashes = [self._hashes[i] for i in keep]
            self._vectors = self._vectors[keep]
            self._pos = {d.id: i for i, d in enumerate(self._docs)}
        return removed

    # ---- query -----------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        embedder: Embedder,
        k: int = 10,
        filter: Callable[[Doc], bool] | None = None,
    ) -> list[Hit]:
        """Top-``k`` docs by cosine similarity to ``query``; ``filter(doc)`` keeps only matching docs."""
        if not isinstance(query, str) or not query.strip():
            raise InvalidInput("search query must be a non-empty string")
        if k < 1:
            raise InvalidInput("k must be >= 1")
        self._bind(embedder)
        if not self._docs:
            return []
        qvec = self._embed(embedder, [query])[0]
        scores = self._vectors @ qvec
        order = np.argsort(-scores, kind="stable")
        hits: list[Hit] = []
        for i in order:
            doc = self._docs[int(i)]
            if filter is not None and not filter(doc):
                continue
            hits.append(Hit(doc.id, float(scores[i]), doc.text, dict(doc.meta)))
            if len(hits) >= k:
                break
        return hits

    # ---- persistence -----------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write ``vectors.safetensors`` + ``index.json`` into the folder ``path``."""
        from safetensors.numpy import save_file

        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": INDEX_FORMAT,
            "version": INDEX_VERSION,
            "embedder": self.embedder_name,
            "dim": self.dim,
            "count": len(self._docs),
            "docs": [{**d.to_dict(), "sha256": h} for d, h in zip(self._docs, self._hashes, strict=True)],
        }
        vectors = self._vectors if self.dim is not None else np.zeros((0, 0), dtype=np.float32)
        # Write beside and rename, so a crash never leaves a half-written index behind.
        tmp_vec, tmp_json = folder / (VECTORS_FILE + ".tmp"), folder / (DOCS_FILE + ".tmp")
        save_file({"vectors": np.ascontiguousarray(vectors, dtype=np.float32)}, str(tmp_vec))
        tmp_json.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp_vec, folder / VECTORS_FILE)
        os.replace(tmp_json, folder / DOCS_FILE)
        return folder

    @classmethod
    def load(cls, path: str | Path, embedder: Embedder | None = None) -> SearchIndex:
        """Read an index saved by :meth:`save`; with ``embedder``, check it matches the index's."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        folder = Path(path)
        vec_path, json_path = folder / VECTORS_FILE, folder / DOCS_FILE
        if not vec_path.is_file() or not json_path.is_file():
            raise NotFound(f"no search index at {folder} (expected {VECTORS_FILE} and {DOCS_FILE})")
        try:
            meta = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"search index {json_path} is not valid JSON: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != INDEX_FORMAT:
            raise InvalidInput(f"{json_path} is not a reelforge search index")
        if meta.get("version") != INDEX_VERSION:
            raise InvalidInput(f"unsupported search index version {meta.get('version')!r}")
        try:
            tensors = load_file(str(vec_path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise InvalidInput(f"search index vectors {vec_path} are unreadable: {exc}") from exc
        vectors = tensors.get("vectors")
        docs_raw = meta.get("docs") or []
        name, dim = meta.get("embedder"), meta.get("dim")
        index = cls()
        if name is None:
            if docs_raw:
                raise InvalidInput(f"search index {folder} has documents but no embedder name")
        else:
            if vectors is None or vectors.dtype != np.float32 or vectors.shape != (len(docs_raw), int(dim)):
                shape = None if vectors is None else vectors.shape
                raise InvalidInput(
                    f"search index {folder} is inconsistent: "
                    f"vectors {shape} for {len(docs_raw)} docs of dim {dim}"
                )
            index.embedder_name, index.dim = str(name), int(dim)
            index._vectors = np.array(vectors, dtype=np.float32)
            for i, raw in enumerate(docs_raw):
                doc = Doc.from_dict(raw)
                if doc.id in index._pos:
                    raise InvalidInput(f"search index {folder} has duplicate document id {doc.id!r}")
                index._pos[doc.id] = i
                index._docs.append(doc)
                index._hashes.append(str(raw.get("sha256") or _text_hash(doc.text)))
        if embedder is not None:
            index._bind(embedder)
        return index


# --------------------------------------------------------------------------------------------------
# Screenplay -> search units
# --------------------------------------------------------------------------------------------------

#: (scene id, heading, [(character or None for action, text, line number), ...])
SceneData = tuple[str, str, Sequence[tuple[str | None, str, int]]]


def _words(text: str) -> list[str]:
    return text.split()


def _chunk_words(words: list[str], max_words: int, overlap: int) -> list[tuple[int, int]]:
    if len(words) <= max_words:
        return [(0, len(words))]
    step = max_words - overlap
    spans = []
    start = 0
    while True:
        end = min(start + max_words, len(words))
        spans.append((start, end))
        if end == len(words):
            return spans
        start += step


def units_for_search(
    screenplay_id: str,
    scenes: Sequence[SceneData],
    *,
    max_words: int = 160,
    overlap_words: int = 32,
    min_line_chars: int = 1,
    extra_meta: dict[str, Any] | None = None,
) -> list[Doc]:
    """Turn a screenplay (plain data) into scene-chunk and dialogue-line Docs.

    Scene docs hold the heading plus the scene's action and dialogue (``CHARACTER: line``), cut into
    overlapping word windows of ``max_words`` (≈ 200 word-piece tokens, inside MiniLM's 256-token
    window, so nothing is silently truncated) each prefixed with the heading. Line docs hold one
    dialogue line with its character in ``meta``. Ids are ``{screenplay_id}/{scene_id}#{chunk}`` and
    ``{screenplay_id}/{scene_id}/L{line}``, so ``SearchIndex.remove(screenplay_id)`` drops them all.
    """
    if not isinstance(screenplay_id, str) or not screenplay_id.strip() or "/" in screenplay_id:
        raise InvalidInput("screenplay_id must be a non-empty string without '/'")
    if max_words < 8:
        raise InvalidInput("max_words must be >= 8")
    if not 0 <= overlap_words < max_words // 2:
        raise InvalidInput("overlap_words must be >= 0 and less than half of max_words")
    base = dict(extra_meta or {})
    docs: list[Doc] = []
    seen_scenes: set[str] = set()
    for number, scene in enumerate(scenes):
        try:
            scene_id, heading, elements = scene
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"scene #{number} must be (scene_id, heading, elements)") from exc
        scene_id = str(scene_id)
        if not scene_id:
            raise InvalidInput(f"scene #{number} has an empty id")
        if scene_id in seen_scenes:
            raise InvalidInput(f"duplicate scene id {scene_id!r} in screenplay {screenplay_id!r}")
        seen_scenes.add(scene_id)
        heading = " ".join(str(heading or "").split())
        scene_meta = {
            **base,
            "screenplay": screenplay_id,
            "scene": scene_id,
            "scene_index": number,
            "heading": heading,
        }

        body: list[str] = []  # words of the scene body
        word_lines: list[int] = []  # source line of each body word, to locate chunks
        first_line: int | None = None
        for element in elements:
            try:
                character, text, line = element
            except (TypeError, ValueError) as exc:
                raise InvalidInput(
                    f"scene {scene_id!r}: elements must be (character or None, text, line)"
                ) from exc
            text = " ".join(str(text or "").split())
            if not text:
                continue
            line = int(line)
            first_line = line if first_line is None else first_line
            cue = " ".join(str(character).split()).upper() if character else None
            rendered = f"{cue}: {text}" if cue else text
            words = _words(rendered)
            body.extend(words)
            word_lines.extend([line] * len(words))
            if cue and len(text) >= min_line_chars:
                line_words = _words(text)
                truncated = len(line_words) > max_words
                docs.append(
                    Doc(
                        id=f"{screenplay_id}/{scene_id}/L{line}",
                        text=" ".join(line_words[:max_words]),
                        meta={
                            **scene_meta,
                            "kind": "line",
                            "character": cue,
                            "line": line,
                            "truncated": truncated,
                        },
                    )
                )

        heading_words = _words(heading)
        budget = max(max_words - len(heading_words), 8)
        spans = _chunk_words(body, budget, min(overlap_words, budget // 2 - 1)) if body else [(0, 0)]
        if not body and not heading:
            continue
        for chunk, (start, end) in enumerate(spans):
            text = " ".join(heading_words + body[start:end]) if heading else " ".join(body[start:end])
            docs.append(
                Doc(
                    id=f"{screenplay_id}/{scene_id}#{chunk}",
                    text=text,
                    meta={
                        **scene_meta,
                        "kind": "scene",
                        "chunk": chunk,
                        "chunks": len(spans),
                        "line": word_lines[start] if end > start else first_line,
                    },
                )
            )
    # Line ids must be unique; two elements on one source line would collide.
    ids = [d.id for d in docs]
    if len(ids) != len(set(ids)):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InvalidInput(f"two dialogue lines share the id {dup!r}: line numbers must be unique per scene")
    return docs
