"""A small character-level Transformer that writes new dialogue for a named character.

The studio's screenplays are serialised as Fountain-like turns (``CHARACTER\\nline\\n\\n``) so the
model learns the cue → speech → blank-line structure; generation primes it with a context and a
cue and stops at the blank line that ends that character's speech.

Training is deterministic from the seed and resumable: the resume state is a nested dict of
tensors / ints / floats / strings (no pickle), which the platform stores as it likes.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reelforge.errors import InvalidInput
from reelforge.training.callbacks import CheckpointFn, MetricFn, ProgressFn, StopFn
from reelforge.training.device import as_torch_device
from reelforge.training.optim import load_optimizer_state, optimizer_state
from reelforge.training.saved import load_model_folder, save_model_folder
from reelforge.training.seeds import global_rng_state, seeded_generator, set_global_rng_state
from reelforge.training.weights import cpu_state_dict, load_weights

__all__ = [
    "UNK",
    "CharVocab",
    "DialogueLM",
    "DialogueLMConfig",
    "TrainedLM",
    "build_corpus",
    "format_cue",
    "generate",
    "train_dialogue_lm",
]

UNK = "<unk>"
MODEL_FILE = "model.safetensors"
FORMAT = "reelforge.script.dialogue_lm"
FORMAT_VERSION = 1
STATE_VERSION = 2  # 2: optimizer state in the toolkit's format

# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------

_BLANK_LINES = re.compile(r"\n[ \t]*\n+")


def format_cue(character: str) -> str:
    """Canonical cue: one line, upper case, single spaces (how Fountain writes character names)."""
    if not isinstance(character, str):
        raise InvalidInput("character name must be a string")
    cue = " ".join(character.split()).upper()
    if not cue:
        raise InvalidInput("character name must not be empty")
    return cue


def _clean_speech(text: str) -> str:
    # A blank line ends a speech in Fountain, so a speech itself may not contain one.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _BLANK_LINES.sub("\n", text)
    return "\n".join(line.strip() for line in text.strip().split("\n"))


def build_corpus(turns: Sequence[tuple[str, str]]) -> str:
    """Serialise (CHARACTER, line) turns, in screenplay order, as ``CHARACTER\\nline\\n\\n`` blocks.

    Turns whose text is empty are skipped (a cue with no speech teaches nothing).
    """
    parts: list[str] = []
    for i, turn in enumerate(turns):
        try:
            character, text = turn
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"turn #{i} must be a (character, line) pair") from exc
        cue = format_cue(character)
        speech = _clean_speech(str(text or ""))
        if speech:
            parts.append(f"{cue}\n{speech}\n\n")
    if not parts:
        raise InvalidInput("no dialogue to build a corpus from")
    return "".join(parts)


@dataclass
class CharVocab:
    """Characters seen in the corpus; id 0 is the reserved ``<unk>`` for anything else."""

    chars: list[str]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(set(self.chars)) != len(self.chars) or any(len(c) != 1 for c in self.chars):
            raise InvalidInput("vocabulary chars must be distinct single characters")
        self._index = {c: i + 1 for i, c in enumerate(self.chars)}

    @classmethod
    def build(cls, corpus: str) -> CharVocab:
        if not corpus:
            raise InvalidInput("cannot build a vocabulary from an empty corpus")
        return cls(sorted(set(corpus)))

    @property
    def size(self) -> int:
        return len(self.chars) + 1

    unk_id = 0

    def id(self, ch: str) -> int:
        return self._index.get(ch, 0)

    def encode(self, text: str) -> list[int]:
        return [self._index.get(c, 0) for c in text]

    def decode(self, ids: Sequence[int]) -> str:
        # <unk> has no surface form; it is never sampled during generation anyway.
        return "".join(self.chars[i - 1] for i in ids if 0 < i <= len(self.chars))

    def to_dict(self) -> dict[str, Any]:
        return {"unk": UNK, "chars": list(self.chars)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharVocab:
        try:
            chars = [str(c) for c in data["chars"]]
        except (KeyError, TypeError) as exc:
            raise InvalidInput("vocabulary data needs a 'chars' list") from exc
        return cls(chars)


# --------------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------------


@dataclass
class DialogueLMConfig:
    vocab_size: int
    block_size: int = 256
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.1

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInput(f"DialogueLMConfig.{name} must be a positive integer, got {value!r}")
        if self.vocab_size < 2:
            raise InvalidInput("DialogueLMConfig.vocab_size must be >= 2")
        if self.n_embd % self.n_head:
            raise InvalidInput(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise InvalidInput("dropout must be in [0, 1)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DialogueLMConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise InvalidInput(f"unknown DialogueLMConfig fields: {sorted(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise InvalidInput(f"bad DialogueLMConfig: {exc}") from exc


class _SelfAttention(nn.Module):
    def __init__(self, cfg: DialogueLMConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True
        )
        y = y.transpose(1, 2).contiguous().view(b, t, c)
        return self.resid_drop(self.proj(y))


class _Block(nn.Module):
    def __init__(self, cfg: DialogueLMConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = _SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.n_embd, 4 * cfg.n_embd),
            nn.GELU(),
            nn.Linear(4 * cfg.n_embd, cfg.n_embd),
            nn.Dropout(cfg.dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class DialogueLM(nn.Module):
    """Decoder-only, pre-norm GPT: learned positions, causal SDPA, output tied to the token embedding."""

    def __init__(self, cfg: DialogueLMConfig) -> None:
        super().__init__()
        self.config = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.pos_emb = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.apply(self._init_weights)
        # Scaled init of the residual projections keeps the residual stream's variance flat in depth.
        for name, p in self.named_parameters():
            if name.endswith("attn.proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, time, vocab)`` for token ids ``(batch, time)``, time <= block_size."""
        _, t = idx.shape
        if t > self.config.block_size:
            raise InvalidInput(f"sequence of {t} exceeds the model's block_size {self.config.block_size}")
        pos = torch.arange(t, device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
        for block in self.blocks:
            x = block(x)
        # Weight tying: the output projection is the token embedding itself (no separate tensor).
        return F.linear(self.ln_f(x), self.tok_emb.weight)


# --------------------------------------------------------------------------------------------------
# Trained model + persistence
# --------------------------------------------------------------------------------------------------


@dataclass
class TrainedLM:
    model: DialogueLM
    vocab: CharVocab
    config: DialogueLMConfig
    step: int = 0
    val_loss: float | None = None
    train_loss: float | None = None
    stopped_early: bool = False

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def logits(self, text: str) -> torch.Tensor:
        """Next-char logits after each position of ``text`` (eval mode): handy for scoring lines."""
        ids = self.vocab.encode(text)[-self.config.block_size :]
        if not ids:
            raise InvalidInput("text must not be empty")
        self.model.eval()
        with torch.no_grad():
            return self.model(torch.tensor([ids], dtype=torch.long, device=self.device))[0]

    def save(self, directory: str | Path) -> Path:
        """Write ``model.safetensors`` + ``config.json`` (config; vocab and training summary as metadata)."""
        meta = {
            "vocab": self.vocab.to_dict(),
            "step": self.step,
            "val_loss": self.val_loss,
            "train_loss": self.train_loss,
        }
        return save_model_folder(
            directory, self.config.to_dict(), {"model": self.model}, format=FORMAT,
            format_version=FORMAT_VERSION, metadata=meta, filenames={"model": MODEL_FILE},
        )

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> TrainedLM:
        folder = load_model_folder(directory, FORMAT, FORMAT_VERSION, what="dialogue model")
        config = DialogueLMConfig.from_dict(folder.config)
        meta = folder.metadata
        if not isinstance(meta.get("vocab"), dict):
            raise InvalidInput(f"{folder.path} has no vocabulary in its config.json")
        vocab = CharVocab.from_dict(meta["vocab"])
        if vocab.size != config.vocab_size:
            raise InvalidInput(f"vocab has {vocab.size} entries but the config says {config.vocab_size}")
        model = folder.load_into("model", DialogueLM(config), as_torch_device(device)).eval()
        return cls(
            model=model,
            vocab=vocab,
            config=config,
            step=int(meta.get("step") or 0),
            val_loss=meta.get("val_loss"),
            train_loss=meta.get("train_loss"),
        )


# --------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------


def _lr_at(step: int, total: int, lr: float, warmup: int, min_ratio: float = 0.1) -> float:
    """Linear warmup then cosine decay to ``min_ratio * lr``; stateless so resume needs no scheduler."""
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    span = max(total - warmup, 1)
    progress = min(max(step - warmup, 0) / span, 1.0)
    return lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def _split_corpus(ids: torch.Tensor, corpus: str, val_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    n = len(ids)
    cut = int(n * (1 - val_fraction))
    # Cut at a turn boundary so validation starts on a cue, as generation does.
    boundary = corpus.rfind("\n\n", 0, cut)
    if boundary > n // 2:
        cut = boundary + 2
    return ids[:cut], ids[cut:]


def _batch(
    data: torch.Tensor, block: int, batch_size: int, gen: torch.Generator, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    t = min(block, len(data) - 1)
    starts = torch.randint(0, len(data) - t, (batch_size,), generator=gen)
    x = torch.stack([data[s : s + t] for s in starts.tolist()])
    y = torch.stack([data[s + 1 : s + 1 + t] for s in starts.tolist()])
    return x.to(device), y.to(device)


@torch.no_grad()
def _evaluate(
    model: DialogueLM,
    data: torch.Tensor,
    block: int,
    batch_size: int,
    batches: int,
    seed: int,
    device: torch.device,
) -> float:
    # A fixed generator: every evaluation scores the same windows, so val curves are comparable,
    # and the training RNG streams are left untouched (eval mode also disables dropout).
    gen = torch.Generator().manual_seed(seed + 7919)
    was_training = model.training
    model.eval()
    total = 0.0
    for _ in range(batches):
        x, y = _batch(data, block, batch_size, gen, device)
        logits = model(x)
        total += F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1)).item()
    model.train(was_training)
    return total / batches


def _param_groups(model: DialogueLM, weight_decay: float) -> list[dict[str, Any]]:
    decay = [p for _, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for _, p in model.named_parameters() if p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _corpus_digest(corpus: str) -> str:
    return hashlib.sha256(corpus.encode("utf-8")).hexdigest()


def train_dialogue_lm(
    corpus: str,
    config: DialogueLMConfig | None,
    steps: int,
    batch_size: int = 32,
    lr: float = 3e-4,
    seed: int = 0,
    device: str = "cpu",
    progress: ProgressFn | None = None,
    on_metric: MetricFn | None = None,
    should_stop: StopFn | None = None,
    state: dict[str, Any] | None = None,
    checkpoint: CheckpointFn | None = None,
    checkpoint_every: int = 100,
    *,
    val_fraction: float = 0.1,
    eval_every: int | None = None,
    eval_batches: int = 4,
    warmup_steps: int | None = None,
    weight_decay: float = 0.1,
    grad_clip: float = 1.0,
) -> TrainedLM:
    """Train a :class:`DialogueLM` on a :func:`build_corpus` corpus; deterministic from ``seed``.

    ``config.vocab_size`` is set from the corpus (pass ``config=None`` for defaults). Reports
    ``train_loss``, ``val_loss`` and ``lr`` via ``on_metric``. Every ``checkpoint_every`` steps (and
    when ``should_stop`` says so, before returning early with ``stopped_early=True``) it hands
    ``checkpoint`` a state dict; passing that dict back as ``state`` continues the same run and ends
    with the same weights as an uninterrupted one (bit-exact on CPU).
    """
    if not isinstance(corpus, str) or not corpus.strip():
        raise InvalidInput("the dialogue corpus is empty")
    if steps < 1:
        raise InvalidInput("steps must be >= 1")
    if batch_size < 1:
        raise InvalidInput("batch_size must be >= 1")
    if not lr > 0:
        raise InvalidInput("lr must be > 0")
    if checkpoint_every < 1:
        raise InvalidInput("checkpoint_every must be >= 1")
    if not 0.0 < val_fraction < 0.5:
        raise InvalidInput("val_fraction must be in (0, 0.5)")
    if eval_batches < 1:
        raise InvalidInput("eval_batches must be >= 1")

    vocab = CharVocab.build(corpus)
    base = config.to_dict() if config is not None else {}
    base["vocab_size"] = vocab.size
    cfg = DialogueLMConfig.from_dict(base)
    dev = as_torch_device(device)

    ids = torch.tensor(vocab.encode(corpus), dtype=torch.long)
    train_data, val_data = _split_corpus(ids, corpus, val_fraction)
    if len(train_data) < 16 or len(val_data) < 8:
        raise InvalidInput(f"the corpus is too small to train on ({len(ids)} characters)")
    eval_every = eval_every or max(1, min(250, steps // 10))
    warmup = warmup_steps if warmup_steps is not None else min(100, steps // 10)

    cuda_devices = [dev.index or 0] if dev.type == "cuda" else []
    # fork_rng: training seeds the global RNG (dropout) without disturbing the caller's stream.
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        model = DialogueLM(cfg).to(dev)
        opt = torch.optim.AdamW(_param_groups(model, weight_decay), lr=lr, betas=(0.9, 0.95))
        batch_gen = seeded_generator(seed)
        start = 0
        last_val: float | None = None
        if state is not None:
            start, last_val = _restore(state, model, opt, batch_gen, cfg, vocab, corpus, seed, steps, dev)

        def snapshot(step: int) -> dict[str, Any]:
            rng = {**global_rng_state(dev), "batch": batch_gen.get_state()}
            snap: dict[str, Any] = {
                "version": STATE_VERSION,
                "step": step,
                "steps": steps,
                "seed": seed,
                "corpus_sha256": _corpus_digest(corpus),
                "config": cfg.to_dict(),
                "vocab": "".join(vocab.chars),
                "model": cpu_state_dict(model),
                "optimizer": optimizer_state(opt, model),
                "rng": rng,
            }
            if last_val is not None:
                snap["val_loss"] = float(last_val)
            return snap

        model.train()
        loss_value: float | None = None
        stopped = False
        step = start
        while step < steps:
            if should_stop is not None and should_stop():
                stopped = True
                if checkpoint is not None:
                    checkpoint(snapshot(step))
                break
            cur_lr = _lr_at(step, steps, lr, warmup)
            for group in opt.param_groups:
                group["lr"] = cur_lr
            x, y = _batch(train_data, cfg.block_size, batch_size, batch_gen, dev)
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            opt.step()
            step += 1
            loss_value = float(loss.item())
            if not math.isfinite(loss_value):
                raise InvalidInput(f"training diverged at step {step} (loss {loss_value}): lower the lr")
            if on_metric is not None:
                on_metric("train_loss", loss_value, step)
                on_metric("lr", cur_lr, step)
            if step % eval_every == 0 or step == steps:
                last_val = _evaluate(model, val_data, cfg.block_size, batch_size, eval_batches, seed, dev)
                if on_metric is not None:
                    on_metric("val_loss", last_val, step)
            if progress is not None:
                progress(step, steps, f"step {step}/{steps} loss {loss_value:.3f}")
            if checkpoint is not None and step % checkpoint_every == 0 and step < steps:
                checkpoint(snapshot(step))

    model.eval()
    return TrainedLM(
        model=model,
        vocab=vocab,
        config=cfg,
        step=step,
        val_loss=last_val,
        train_loss=loss_value,
        stopped_early=stopped,
    )


def _restore(
    state: dict[str, Any],
    model: DialogueLM,
    opt: torch.optim.Optimizer,
    batch_gen: torch.Generator,
    cfg: DialogueLMConfig,
    vocab: CharVocab,
    corpus: str,
    seed: int,
    steps: int,
    dev: torch.device,
) -> tuple[int, float | None]:
    try:
        if state.get("version") != STATE_VERSION:
            raise InvalidInput(
                f"unsupported resume state version {state.get('version')!r} (this reelforge reads "
                f"{STATE_VERSION}): start the run again"
            )
        if state["corpus_sha256"] != _corpus_digest(corpus):
            raise InvalidInput("resume state was made on a different corpus")
        if state["config"] != cfg.to_dict() or state["vocab"] != "".join(vocab.chars):
            raise InvalidInput("resume state was made with a different model config or vocabulary")
        if int(state["seed"]) != seed:
            raise InvalidInput(f"resume state was made with seed {state['seed']}, not {seed}")
        step = int(state["step"])
        if not 0 <= step <= steps:
            raise InvalidInput(f"resume state is at step {step}, outside 0..{steps}")
        load_weights(model, state["model"], where="resume state")
        load_optimizer_state(opt, state["optimizer"], model)
        rng = state["rng"]
        set_global_rng_state(rng, dev)
        batch_gen.set_state(torch.as_tensor(rng["batch"]).to(torch.uint8))
        val = state.get("val_loss")
        return step, (float(val) if val is not None else None)
    except KeyError as exc:
        raise InvalidInput(f"resume state is missing {exc}") from exc


# --------------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------------


def _normalise_context(context: str) -> str:
    context = context.replace("\r\n", "\n").replace("\r", "\n").strip()
    # The cue must start a new turn: a blank line before it, as in the training corpus.
    return context + "\n\n" if context else ""


@torch.no_grad()
def generate(
    lm: TrainedLM,
    character: str,
    context: str = "",
    max_new_chars: int = 300,
    temperature: float = 0.8,
    top_k: int = 20,
    seed: int | None = None,
) -> str:
    """Write ``character``'s next speech after ``context``; returns ``CUE\\nline...\\n``.

    Stops at the blank line that ends the speech (or after ``max_new_chars``). Characters the
    vocabulary never saw become ``<unk>``; ``<unk>`` is never sampled, nor an empty first line.
    """
    if not isinstance(context, str):
        raise InvalidInput("context must be a string")
    cue = format_cue(character)
    if "\n" in cue:
        raise InvalidInput("character name must be one line")
    if not (isinstance(temperature, int | float) and math.isfinite(temperature) and temperature > 0):
        raise InvalidInput(f"temperature must be > 0, got {temperature!r}")
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        raise InvalidInput(f"top_k must be an integer >= 1, got {top_k!r}")
    if not isinstance(max_new_chars, int) or max_new_chars < 1:
        raise InvalidInput("max_new_chars must be >= 1")

    vocab, model = lm.vocab, lm.model
    device = lm.device
    prompt = vocab.encode(_normalise_context(context) + cue + "\n")
    gen = torch.Generator(device="cpu").manual_seed(seed if seed is not None else secrets.randbits(63))
    newline_id = vocab.id("\n")
    k = min(top_k, vocab.size - 1)  # <unk> is always masked out
    was_training = model.training
    model.eval()
    ids = list(prompt)
    out: list[int] = []
    try:
        for _ in range(max_new_chars):
            window = torch.tensor([ids[-lm.config.block_size :]], dtype=torch.long, device=device)
            logits = model(window)[0, -1].float().cpu() / float(temperature)
            logits[vocab.unk_id] = -math.inf
            if not out and newline_id:
                logits[newline_id] = -math.inf  # an empty first line would end the speech before it began
            top = torch.topk(logits, k)
            probs = torch.softmax(top.values, dim=-1)
            choice = int(top.indices[torch.multinomial(probs, 1, generator=gen)].item())
            out.append(choice)
            ids.append(choice)
            if newline_id and len(out) >= 2 and out[-1] == newline_id and out[-2] == newline_id:
                break
    finally:
        model.train(was_training)
    speech = _clean_speech(vocab.decode(out))
    return f"{cue}\n{speech}\n" if speech else f"{cue}\n"
