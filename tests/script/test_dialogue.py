"""Character-level dialogue model: real (small) training runs, generation, persistence, resume."""

from __future__ import annotations

import json
import random

import pytest
import torch
from safetensors.torch import load_file, save_file

from reelforge.errors import InvalidInput, NotFound
from reelforge.script.dialogue import (
    CharVocab,
    DialogueLMConfig,
    TrainedLM,
    build_corpus,
    generate,
    train_dialogue_lm,
)

CATCHPHRASES = {
    "GANDALF": ["You shall not pass!", "Fly, you fools!", "A wizard is never late."],
    "YODA": ["Do or do not, there is no try.", "Much to learn you still have."],
    "ARNOLD": ["I'll be back.", "Get to the chopper!", "Hasta la vista, baby."],
}
SMALL = DialogueLMConfig(vocab_size=2, block_size=64, n_layer=2, n_head=2, n_embd=64, dropout=0.0)


def make_turns(n: int = 120, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    names = sorted(CATCHPHRASES)
    return [(c, rng.choice(CATCHPHRASES[c])) for c in (rng.choice(names) for _ in range(n))]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def corpus() -> str:
    return build_corpus(make_turns())


@pytest.fixture(scope="module")
def trained(corpus):
    metrics: list[tuple[str, float, int]] = []
    progress: list[tuple[int, int]] = []
    lm = train_dialogue_lm(
        corpus,
        SMALL,
        steps=300,
        batch_size=16,
        lr=3e-3,
        seed=0,
        on_metric=lambda name, value, step: metrics.append((name, value, step)),
        progress=lambda done, total, msg: progress.append((done, total)),
    )
    return lm, metrics, progress


def test_build_corpus_is_fountain_like():
    corpus = build_corpus([("gandalf", "  You shall\n\n not pass! "), ("Yoda ", "Hmm."), ("ARNOLD", "  ")])
    assert corpus == "GANDALF\nYou shall\nnot pass!\n\nYODA\nHmm.\n\n"
    with pytest.raises(InvalidInput):
        build_corpus([])
    with pytest.raises(InvalidInput):
        build_corpus([("", "line")])
    with pytest.raises(InvalidInput):
        build_corpus([("A", "")])


def test_char_vocab_round_trip_and_unk():
    vocab = CharVocab.build("ab\nc")
    assert vocab.size == 5 and vocab.encode("a\nz") == [vocab.id("a"), vocab.id("\n"), 0]
    assert vocab.decode(vocab.encode("cab")) == "cab"
    again = CharVocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again.chars == vocab.chars and again.to_dict()["unk"] == "<unk>"


def test_config_validation():
    with pytest.raises(InvalidInput):
        DialogueLMConfig(vocab_size=10, n_embd=30, n_head=4)
    with pytest.raises(InvalidInput):
        DialogueLMConfig.from_dict({"vocab_size": 10, "bogus": 1})
    assert DialogueLMConfig.from_dict(SMALL.to_dict()) == SMALL


def test_training_loss_falls_and_metrics_are_reported(trained):
    lm, metrics, progress = trained
    train = [v for name, v, _ in metrics if name == "train_loss"]
    val = [(s, v) for name, v, s in metrics if name == "val_loss"]
    assert len(train) == 300 and progress[-1] == (300, 300)
    assert train[0] > 3.0  # ~ln(vocab): the model starts knowing nothing
    assert sum(train[-20:]) / 20 < 0.4
    assert val[-1][0] == 300 and val[-1][1] < 0.5 < val[0][1]
    assert lm.val_loss == val[-1][1] and lm.step == 300 and lm.config.vocab_size == lm.vocab.size


@pytest.mark.parametrize("character", sorted(CATCHPHRASES))
def test_generation_gives_a_fountain_fragment_in_character(trained, character):
    lm, _, _ = trained
    in_character = 0
    for seed in range(5):
        text = generate(lm, character.lower(), context="ARNOLD\nI'll be back.", temperature=0.5, seed=seed)
        assert text.startswith(character + "\n") and text.endswith("\n") and "\n\n" not in text
        speech = text[len(character) + 1 :].strip()
        assert speech
        in_character += speech in CATCHPHRASES[character]
    # The toy corpus is learnt well: sampled speeches are that character's own catchphrases
    # (allowing one sampling slip, since temperature 0.5 still samples).
    assert in_character >= 4


def test_same_seed_same_text(trained):
    lm, _, _ = trained
    runs = {generate(lm, "YODA", temperature=1.5, top_k=40, seed=7) for _ in range(3)}
    assert len(runs) == 1
    samples = {generate(lm, "YODA", temperature=1.5, top_k=40, seed=s, max_new_chars=40) for s in range(8)}
    assert len(samples) > 1  # different seeds do explore


def test_generation_handles_unknown_chars_and_limits(trained):
    lm, _, _ = trained
    text = generate(lm, "GANDALF", context="ZOË\n¿Qué pasa?\n\n", seed=0, max_new_chars=5)
    assert text.startswith("GANDALF\n") and len(text) <= len("GANDALF\n") + 6
    for bad in ({"temperature": 0}, {"temperature": -1.0}, {"top_k": 0}, {"max_new_chars": 0}):
        with pytest.raises(InvalidInput):
            generate(lm, "GANDALF", **bad)
    with pytest.raises(InvalidInput):
        generate(lm, "   ")


def test_save_load_round_trip_gives_same_logits(trained, tmp_path):
    lm, _, _ = trained
    lm.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    loaded = TrainedLM.load(tmp_path / "m")
    probe = "GANDALF\nYou shall not pass!\n\nYODA\n"
    assert torch.equal(loaded.logits(probe), lm.logits(probe))
    assert loaded.vocab.chars == lm.vocab.chars and loaded.config == lm.config
    assert generate(loaded, "ARNOLD", seed=3) == generate(lm, "ARNOLD", seed=3)
    with pytest.raises(NotFound):
        TrainedLM.load(tmp_path / "nothing")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    meta["config"]["n_embd"] = 32
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(InvalidInput):
        TrainedLM.load(tmp_path / "m")


def _flatten(state, prefix=""):
    """Split a resume state into tensors and JSON, as a platform would store it (no pickle)."""
    tensors, plain = {}, {}
    for key, value in state.items():
        assert isinstance(key, str)
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            t, p = _flatten(value, name + ".")
            tensors.update(t)
            plain[key] = p
        elif isinstance(value, torch.Tensor):
            tensors[name] = value
            plain[key] = {"__tensor__": name}
        else:
            assert isinstance(value, int | float | str), (name, type(value))
            plain[key] = value
    return tensors, plain


def _unflatten(plain, tensors):
    out = {}
    for key, value in plain.items():
        if isinstance(value, dict) and "__tensor__" in value:
            out[key] = tensors[value["__tensor__"]]
        elif isinstance(value, dict):
            out[key] = _unflatten(value, tensors)
        else:
            out[key] = value
    return out


def test_resume_from_mid_training_state_matches_uninterrupted_run(corpus, tmp_path):
    cfg = DialogueLMConfig(vocab_size=2, block_size=32, n_layer=1, n_head=2, n_embd=32, dropout=0.1)
    kwargs = {"steps": 40, "batch_size": 8, "lr": 3e-3, "seed": 5, "eval_every": 10}
    states: list[dict] = []
    torch.manual_seed(1234)
    expected_next = torch.rand(3)
    torch.manual_seed(1234)
    full = train_dialogue_lm(corpus, cfg, checkpoint=states.append, checkpoint_every=15, **kwargs)
    assert torch.equal(torch.rand(3), expected_next)  # the caller's global RNG is left alone
    assert [s["step"] for s in states] == [15, 30]

    # Store the step-15 state the way the platform would (safetensors + JSON) and resume from it.
    tensors, plain = _flatten(states[0])
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp_path / "state.safetensors"))
    (tmp_path / "state.json").write_text(json.dumps(plain))
    stored = _unflatten(
        json.loads((tmp_path / "state.json").read_text()), load_file(str(tmp_path / "state.safetensors"))
    )
    resumed = train_dialogue_lm(corpus, cfg, state=stored, **kwargs)

    assert resumed.step == full.step == 40
    full_sd, resumed_sd = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(full_sd[k], resumed_sd[k]) for k in full_sd)
    assert resumed.val_loss == full.val_loss

    with pytest.raises(InvalidInput, match="seed"):
        train_dialogue_lm(corpus, cfg, state=states[0], **{**kwargs, "seed": 6})
    with pytest.raises(InvalidInput, match="corpus"):
        train_dialogue_lm(corpus + "YODA\nHmm.\n\n", cfg, state=states[0], **kwargs)


def test_should_stop_checkpoints_and_returns_early(corpus):
    cfg = DialogueLMConfig(vocab_size=2, block_size=32, n_layer=1, n_head=2, n_embd=32, dropout=0.0)
    states: list[dict] = []
    calls = {"n": 0}

    def stop_after_10() -> bool:
        calls["n"] += 1
        return calls["n"] > 10

    lm = train_dialogue_lm(
        corpus, cfg, steps=50, batch_size=4, should_stop=stop_after_10, checkpoint=states.append
    )
    assert lm.stopped_early and lm.step == 10 and states[-1]["step"] == 10


def test_training_rejects_bad_input(corpus):
    with pytest.raises(InvalidInput):
        train_dialogue_lm("", SMALL, steps=10)
    with pytest.raises(InvalidInput):
        train_dialogue_lm("A\nhi\n\n", SMALL, steps=10)
    with pytest.raises(InvalidInput):
        train_dialogue_lm(corpus, SMALL, steps=0)
