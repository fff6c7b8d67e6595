"""tools/predict.py end to end, in a subprocess as a user runs it."""

from fastformers_tf.models import TextClassifier, save_model
from tests import tiny
from tests.harness import run_tool


def predict(*args):
    return run_tool("predict.py", *args)


def test_saved_classifier_labels_texts_from_flags_and_file(tmp_path):
    model = TextClassifier(tiny.randomize(tiny.encoder()), num_classes=2, labels=["neg", "pos"])
    save_model(model, str(tmp_path / "model"), tokenizer=tiny.tokenizer(str(tmp_path)))
    (tmp_path / "texts.txt").write_text("a good film\n\nthe soup\n", encoding="utf-8")
    result = predict(f"--model={tmp_path / 'model'}", "--text=great movie", f"--input_file={tmp_path / 'texts.txt'}")
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.strip().splitlines()]
    assert [text for _, _, text in lines] == ["great movie", "a good film", "the soup"]
    assert all(label in ("neg", "pos") and 0 < float(score) <= 1 for label, score, _ in lines)


def test_encoder_without_labels_is_a_usage_error(tmp_path):
    save_model(tiny.encoder(), str(tmp_path / "encoder"), tokenizer=tiny.tokenizer(str(tmp_path)))
    result = predict(f"--model={tmp_path / 'encoder'}", "--text=hello")
    assert result.returncode != 0
    assert "pass --labels for zero-shot" in result.stderr


def test_no_texts_is_a_usage_error():
    result = predict("--model=all-MiniLM-L6-v2")
    assert result.returncode != 0 and "Give texts with --text or --input_file" in result.stderr
