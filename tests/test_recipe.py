import os

import pytest

from fastformers_tf.data import get_task
from fastformers_tf.recipe import CONFIGS_DIR, OPT_IN_STAGES, STAGES, Recipe, load_recipe, save_recipe


def test_override_order(tmp_path):
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "cb.yaml").write_text("finetune:\n  epochs: 7\n  learning_rate: 1.0e-4\nmodel: from-task-file\n")
    config_file = tmp_path / "mine.yaml"
    config_file.write_text("finetune:\n  learning_rate: 2.0e-4\n")
    recipe = load_recipe("cb", str(config_file), ["model=from-override"], configs_dir=str(configs))
    assert recipe.task == "cb" and recipe.finetune.epochs == 7  # defaults < task file
    assert recipe.finetune.learning_rate == 2e-4  # task file < --config_file
    assert recipe.model == "from-override"  # --config_file < --params_override
    assert recipe.finetune.batch_size == Recipe().finetune.batch_size


def test_resolved_recipe_round_trips(tmp_path):
    recipe = load_recipe("rte", params_override=["finetune.epochs=2", "seed=3"])
    path = save_recipe(recipe, str(tmp_path / "out" / "recipe.yaml"))
    assert load_recipe(config_file=path) == recipe


@pytest.mark.parametrize(
    "override, message",
    [("finetune.epoch=2", r"--params_override.*Key 'epoch' not in 'FinetuneConfig'"), ("seed=abc", "could not be")],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ValueError, match=message):
        load_recipe("rte", params_override=[override])


def test_bad_config_file_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("finetune:\n  warmup: 3\n")
    with pytest.raises(ValueError, match=r"bad\.yaml.*warmup"):
        load_recipe("rte", str(bad))


def test_a_saved_recipe_with_one_cascade_backend_reads_as_a_list_of_one(tmp_path):
    saved = tmp_path / "recipe.yaml"
    saved.write_text("compress:\n  cascade_backend: tflite/int8\n")  # as recipes saved before stop 36 hold it
    assert load_recipe("rte", str(saved)).compress.cascade_backends == ["tflite/int8"]
    override = ["compress.cascade_backend=onnx/fp32"]
    assert load_recipe("rte", params_override=override).compress.cascade_backends == ["onnx/fp32"]
    assert load_recipe("rte").compress.cascade_backends == ["onnx/int8", "tflite/int8"]
    with pytest.raises(ValueError, match=r"compress\.cascade_backends=\['keras/fp32'\] .* ONNX or TFLite"):
        load_recipe("rte", params_override=["compress.cascade_backends=[keras/fp32]"])


def test_a_preset_sits_between_the_task_file_and_the_config_file(tmp_path):
    configs = tmp_path / "configs"
    (configs / "presets").mkdir(parents=True)
    (configs / "cb.yaml").write_text("finetune:\n  epochs: 7\n  batch_size: 4\n")
    (configs / "presets" / "fast.yaml").write_text("finetune:\n  epochs: 1\n  learning_rate: 1.0e-4\n")
    config_file = tmp_path / "mine.yaml"
    config_file.write_text("finetune:\n  learning_rate: 2.0e-4\n")
    recipe = load_recipe("cb", str(config_file), configs_dir=str(configs), preset="fast")
    assert (recipe.finetune.epochs, recipe.finetune.batch_size, recipe.finetune.learning_rate) == (1, 4, 2e-4)
    with pytest.raises(ValueError, match=r"--preset=slow: no .*slow\.yaml; presets: fast"):
        load_recipe("cb", configs_dir=str(configs), preset="slow")


@pytest.mark.parametrize("preset", [None, "quick"])
@pytest.mark.parametrize("task", sorted(name[:-5] for name in os.listdir(CONFIGS_DIR) if name.endswith(".yaml")))
def test_every_task_recipe_and_preset_loads_and_passes_the_job_checks(task, preset):
    from fastformers_tf.compress.run import check

    recipe = load_recipe(task, preset=preset)
    assert recipe.task == task
    eval_split = recipe.distill.eval_split
    assert eval_split == recipe.finetune.eval_split
    if eval_split == "holdout":  # carved from train: the recipe must say how
        assert recipe.holdout_spec() is not None and recipe.compress.selection_split == "holdout"
        assert recipe.compress.report_split in get_task(task).files
    else:
        assert eval_split in get_task(task).files
    assert check(recipe) == [s for s in STAGES if s not in OPT_IN_STAGES]  # qat is opt-in


def test_models_scored_on_the_holdout_must_carve_one_holdout(tmp_path):
    from fastformers_tf.recipe import RecipeError, shared_holdout

    def model(name, *overrides):
        folder = tmp_path / name
        folder.mkdir()
        save_recipe(load_recipe("rte", params_override=list(overrides)), str(folder / "recipe.yaml"))
        return str(folder)

    a, b = model("a", "holdout.seed=1"), model("b", "holdout.seed=1")
    other, bare = model("other", "holdout.seed=2"), str(tmp_path)  # tmp_path holds no recipe.yaml
    spec = shared_holdout([a, b], "holdout")
    assert spec == load_recipe("rte", params_override=["holdout.seed=1"]).holdout_spec()
    assert shared_holdout([a], "val") == spec and shared_holdout([bare], "val") is None
    with pytest.raises(RecipeError, match="one hold-out; .* carry 2 hold-out"):
        shared_holdout([a, other], "holdout")
    with pytest.raises(RecipeError, match="carry the recipe .* and some none"):
        shared_holdout([a, bare], "holdout")
    assert shared_holdout([a, other], "val") is None  # other splits are read whole: the hold-outs do not matter
