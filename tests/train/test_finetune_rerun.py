"""A fine-tuning rerun that fails leaves the previous run's files as they were."""

import pytest

from fastformers_tf.models import save_model
from fastformers_tf.recipe import RecipeError, load_recipe, save_recipe
from fastformers_tf.train.finetune import finetune
from tests import tiny
from tests.harness import tiny_run_overrides, write_rte


@pytest.mark.parametrize(
    "override, error, message",
    [
        ("finetune.max_length=100", RecipeError, r"finetune\.max_length=100 exceeds the 64 tokens"),
        ("finetune.eval_split=dev", ValueError, r"Task 'rte' has no split 'dev'"),
    ],
)
def test_a_failed_rerun_validates_before_writing(tmp_path, override, error, message):
    write_rte(tmp_path / "data")
    out = tmp_path / "run"
    common = [*tiny_run_overrides(tmp_path), "finetune.max_length=16"]
    previous = load_recipe("rte", params_override=common)
    save_recipe(previous, str(out / "recipe.yaml"))
    (out / "metrics.json").write_text('{"best": {"accuracy": 0.75}}')
    save_model(tiny.classifier(num_classes=2), str(out / "best"))
    before = {
        p.name: p.read_bytes() for p in [out / "recipe.yaml", out / "metrics.json", out / "best" / "manifest.json"]
    }

    with pytest.raises(error, match=message):
        finetune(load_recipe("rte", params_override=[*common, override]))
    assert {
        p.name: p.read_bytes() for p in [out / "recipe.yaml", out / "metrics.json", out / "best" / "manifest.json"]
    } == before
    assert sorted(p.name for p in out.iterdir()) == ["best", "metrics.json", "recipe.yaml"]
