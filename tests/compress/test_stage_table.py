"""The stage table is the one description of the stages: order, opt-in, keys and the README's table come from it."""

import os

from fastformers_tf import recipe as recipes
from fastformers_tf.compress.stages import OPT_IN_STAGES, STAGES, TABLE, markdown_table
from tests.harness import ROOT


def test_the_readme_shows_the_stage_table():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        assert markdown_table() in f.read()


def test_upstream_stages_come_first_and_recipe_keys_exist():
    fields = recipes.Recipe()
    for position, stage in enumerate(TABLE.values()):
        assert all(STAGES.index(name) < position for name in stage.upstream), stage.name
        for key in stage.reads:
            value = fields
            for name in key.split("."):
                value = getattr(value, name)  # raises for a key the recipe does not have
    assert recipes.CompressConfig().stages == [s for s in STAGES if s not in OPT_IN_STAGES] and OPT_IN_STAGES
