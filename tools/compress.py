"""The whole FastFormers recipe as one job: teacher -> distill -> prune -> (qat) -> export -> benchmark -> select.

  python tools/compress.py --task=sst2 --preset=quick         # a first look, about 11 minutes on 2 cores
  python tools/compress.py --task=rte                         # the full recipe of configs/rte.yaml
  python tools/compress.py --task=sst2 --teacher=runs/sst2/best --stages=distill,prune,export,benchmark,select
  python tools/compress.py --task=rte --stages=benchmark,select --max_accuracy_drop=2   # another budget
  python tools/compress.py --task=rte --student=aug12=runs/rte/students/minilm-test-aug12/best \
      --stages=export,benchmark,select                       # a student made elsewhere joins the candidates

Each stage writes its own folder under --workdir (default runs/<task>/compress)
with its resolved recipe, written whole or not at all; a rerun keeps the
stages that are complete with the same recipe and redoes one that was killed.
The report (the paper's Table 3 and Figure 3) is <workdir>/select/report.md
and the pick <workdir>/select/selected, served by tools/predict.py --model=.
"""

from absl import flags

from fastformers_tf import cli
from fastformers_tf.compress.stages import OPT_IN_STAGES, STAGES, STUDENT_NAME
from fastformers_tf.errors import ArgumentError

FLAGS = flags.FLAGS
cli.define_recipe_flags("compress", "workdir", "Where the stage folders go (default runs/<task>/compress).")
flags.DEFINE_list(
    "stages", None, f"Stages to run, of {', '.join(STAGES)} (default all but the opt-in {', '.join(OPT_IN_STAGES)})."
)
flags.DEFINE_string("teacher", None, "A fine-tuned task model folder: skips fine-tuning the teacher here.")
flags.DEFINE_float(
    "max_accuracy_drop", None, "Points of the task metric the pick may lose vs the teacher.", lower_bound=0
)
flags.DEFINE_string("selection_split", None, "Split to pick on (default: the report split, and the report says so).")
flags.DEFINE_multi_string(
    "student",
    None,
    "NAME=FOLDER: a student distilled elsewhere (tools/distill.py's best/ folder, same hold-out), exported, timed and "
    "made into a cascade with the teacher beside the job's own models (compress.students.NAME); repeatable.",
)


def _student_overrides():
    """`compress.students.NAME=FOLDER` of each --student."""
    overrides = []
    for item in FLAGS.student or []:
        name, sep, folder = item.partition("=")
        if not (sep and folder and STUDENT_NAME.fullmatch(name)):
            raise ArgumentError(f"--student={item}: expected NAME=FOLDER, NAME of lower-case letters, digits, - and _.")
        overrides.append(f"compress.students.{name}={folder}")
    return overrides


def main(argv):
    del argv
    FLAGS.params_override = [*FLAGS.params_override, *_student_overrides()]
    recipe = cli.recipe_from_flags("compress.teacher", "compress.max_accuracy_drop", "compress.selection_split")
    from fastformers_tf.compress.run import check, compress

    stages = check(recipe, FLAGS.stages)  # before TensorFlow loads
    compress(recipe, stages)


if __name__ == "__main__":
    cli.run(main)
