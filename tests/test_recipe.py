import pytest

from fastformers_tf.recipe import Recipe, load_recipe, save_recipe


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
