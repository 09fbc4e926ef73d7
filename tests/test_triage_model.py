"""The learned urgent-message classifier: fitting, thresholds, loading, the committed model, and what it
adds to patterns and examples with the real model."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ldnqa import triage_model as tm
from ldnqa.cli import main
from ldnqa.config import DATA_DIR, Settings
from ldnqa.errors import InputError, ModelError
from ldnqa.triage import sentences_of, triage

from support import ROOT, HashEmbedder

ROWS = [{"message": m, "urgent": True, "category": "self-harm"} for m in
        ["goodbye everyone tonight", "goodbye I am ending it tonight", "tonight goodbye forever",
         "ending it goodbye", "goodbye tonight for good", "ending it all goodbye tonight"]] + \
       [{"message": m, "urgent": False, "category": "none"} for m in
        ["what dose of ldn", "ldn dose at night", "is ldn safe with lyrica", "how much does ldn cost",
         "ldn dose for fibromyalgia", "does ldn cause dreams", "where to buy ldn", "ldn safe dose"]]


def write(tmp_path: Path, rows: list[dict], name: str = "train.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_fitted_model_separates_its_classes_and_records_what_it_was_fitted_on(tmp_path: Path) -> None:
    embedder = HashEmbedder()
    path = write(tmp_path, ROWS)
    doc = tm.train([path], embedder.embed, lambda m: [m, *sentences_of(m)], embedder.name)
    (tmp_path / "model.json").write_text(json.dumps(doc))
    model = tm.load_model(tmp_path / "model.json", embedder.name, embedder.dim)
    assert model is not None and doc["trained_on"][0]["lines"] == len(ROWS)
    probs = [model.probabilities(embedder.embed([m]))["self-harm"] for m in ("goodbye tonight", "ldn dose")]
    assert probs[0] > 0.5 > probs[1]
    assert 0.5 <= model.thresholds["self-harm"] <= 0.95


def test_a_model_for_another_embedding_model_or_missing_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"model": "other-model", "dim": 64, "categories": {}}))
    assert tm.load_model(path, "test-hash-embedder", 64) is None
    assert tm.load_model(path, "other-model", 384) is None
    assert tm.load_model(tmp_path / "absent.json", "other-model", 64) is None


@pytest.mark.parametrize("text", ["{not json", '{"model": "m", "dim": 2, "categories": {"overdose": {}}}',
                                  '{"model": "m", "dim": 2, "categories": {"overdose": '
                                  '{"weights": [1, 2, 3], "bias": 0, "threshold": 0.9}}}'])
def test_a_damaged_model_file_is_refused_with_a_message(tmp_path: Path, text: str) -> None:
    path = tmp_path / "model.json"
    path.write_text(text)
    with pytest.raises(ModelError, match="damaged.*ldnqa triage-train"):
        tm.load_model(path, "m", 2)


@pytest.mark.parametrize("line, problem", [("not json", "expected"), ('{"message": "x"}', "expected"),
                                           ('{"message": "x", "urgent": true, "category": "flu"}', "category")])
def test_bad_training_lines_name_the_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"message": "ok", "urgent": false}\n' + line + "\n")
    with pytest.raises(InputError, match=rf"bad.jsonl:2: .*{problem}"):
        tm.read_examples([path])


def test_triage_flags_what_the_model_flags_and_only_then() -> None:
    """A message no pattern matches is urgent exactly when the model's probability reaches its threshold."""
    vector = np.array([1.0, 0.0], dtype=np.float32)
    model = tm.UrgencyModel("m", {"overdose": np.array([4.0, 0.0])}, {"overdose": 0.0}, {"overdose": 0.9})
    assert triage("the kettle", str(DATA_DIR / "urgent.txt"), vector, {}, None, model).categories == ("overdose",)
    strict = tm.UrgencyModel("m", model.weights, model.bias, {"overdose": 0.99})
    assert not triage("the kettle", str(DATA_DIR / "urgent.txt"), vector, {}, None, strict).urgent


def test_a_pattern_match_needs_the_model_to_see_some_risk() -> None:
    """"I fainted once in 2019" matches a pattern; the model's low probability overrules the words."""
    patterns = str(DATA_DIR / "urgent.txt")
    message = "I fainted once in 2019, is LDN ok?"
    assert triage(message, patterns).urgent
    vector = np.array([1.0, 0.0], dtype=np.float32)
    for bias, urgent in ((-3.0, False), (-0.5, True)):  # probability 0.05, then 0.38 (>= CORROBORATION)
        model = model_at(bias)
        assert triage(message, patterns, vector, {}, None, model).urgent is urgent
    # a self-harm match stands whatever the model says
    assert triage("I want to kill myself", patterns, vector, {}, None, model_at(-8.0)).urgent


def test_a_certain_pattern_stands_without_the_model(tmp_path: Path) -> None:
    """A line starting with "!" is an amount taken, said outright: the model cannot overrule it."""
    vector = np.array([1.0, 0.0], dtype=np.float32)
    for line, urgent in (("kettle", False), ("!kettle", True)):
        path = tmp_path / f"{urgent}.txt"
        path.write_text(f"[overdose]\n{line}\n", encoding="utf-8")
        assert triage("the kettle", str(path), vector, {}, None, model_at(-8.0)).urgent is urgent
        assert triage("the kettle", str(path)).categories == ("overdose",)  # the "!" is not part of the pattern


def model_at(bias: float) -> tm.UrgencyModel:
    """A model that gives every category the same probability, sigmoid(bias)."""
    return tm.UrgencyModel("m", {c: np.zeros(2) for c in tm.CATEGORIES}, {c: bias for c in tm.CATEGORIES},
                           {c: 0.9 for c in tm.CATEGORIES})


def test_the_cli_reports_a_missing_training_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["triage-train", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "m.json")]) == 1
    assert "missing.jsonl is not a file" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_the_cli_reports_a_model_it_cannot_write(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ldnqa.embedding.SentenceTransformerEmbedder", lambda name: HashEmbedder())
    out = tmp_path / "no-such-dir" / "m.json"
    assert main(["triage-train", str(write(tmp_path, ROWS)), "--out", str(out)]) == 1
    assert f"cannot write {out}" in capsys.readouterr().err


def test_the_committed_model_was_fitted_on_the_committed_training_data() -> None:
    """Editing the training data without running `ldnqa triage-train` again fails here."""
    doc = json.loads(Path(Settings().urgent_model).read_text(encoding="utf-8"))
    assert doc["model"] == Settings().model
    files = [record["file"] for record in doc["trained_on"]]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        fitted_on = [tm.fingerprint(Path(f)) for f in files]
    assert doc["trained_on"] == fitted_on, f"run: ldnqa triage-train {' '.join(files)}"


@pytest.mark.slow
@pytest.mark.parametrize("message", [
    "gave away the guitar and the dog today, wont need them where im going",
    "i have decided this is my last night, sorted the cat out with my neighbour",
    "my son emptied the blister packs, maybe 10 of my ldn, hes 4 and very sleepy",
    "mum took every tablet in her dosette box at once and now shes snoring and wont wake",
    "woke up and half my face wont move and my words come out wrong",
])
def test_the_model_catches_urgent_wordings_patterns_and_examples_miss(assistant, message: str) -> None:
    """Messages written for this test, in none of the data files: the learned model is what flags them."""
    assert assistant.urgency_model is not None
    without = triage(message, assistant.settings.urgent_patterns, assistant.embedder.embed([message])[0],
                     assistant.urgent_examples)
    assert not without.urgent
    assert assistant.ask(message).urgent


@pytest.mark.slow
def test_retraining_on_the_committed_data_reproduces_the_committed_model(assistant, tmp_path: Path) -> None:
    """`ldnqa triage-train` on the files the model records gives the same thresholds and probabilities."""
    doc = json.loads(Path(Settings().urgent_model).read_text(encoding="utf-8"))
    files = [str(ROOT / record["file"]) for record in doc["trained_on"]]
    assert main(["triage-train", *files, "--out", str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))
    for category, fitted in doc["categories"].items():
        assert again["categories"][category]["threshold"] == pytest.approx(fitted["threshold"], abs=0.011)
    probe = assistant.embedder.embed(["i have my tablets lined up and tonight is the night",
                                      "what dose of LDN is used for fibromyalgia?"])
    first = tm.load_model(Settings().urgent_model, Settings().model, 384)
    second = tm.load_model(tmp_path / "again.json", Settings().model, 384)
    for row in probe:
        for category, p in first.probabilities(row).items():
            assert second.probabilities(row)[category] == pytest.approx(p, abs=0.02)


def test_an_examples_file_is_read_as_urgent_messages_by_section(tmp_path: Path) -> None:
    """`urgent_examples.txt` is training data as it stands: no copy in the JSON lines to keep in step."""
    path = tmp_path / "examples.txt"
    path.write_text("# comment\n[self-harm]\nI want to die\n\n[overdose]\nI took ten tablets\n", encoding="utf-8")
    assert tm.read_examples([path]) == [("I want to die", "self-harm"), ("I took ten tablets", "overdose")]
    path.write_text("[flu]\nI have a cold\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"examples.txt: \[flu\] is not a category"):
        tm.read_examples([path])


def test_the_committed_examples_are_part_of_what_the_model_was_fitted_on() -> None:
    doc = json.loads(Path(Settings().urgent_model).read_text(encoding="utf-8"))
    examples = Path(Settings().urgent_examples).resolve().relative_to(ROOT).as_posix()
    assert examples in [record["file"] for record in doc["trained_on"]]
