"""Rows per second of batch scoring on Beam (`tools/score.py`) against `tools/predict.py`, on the same texts.

  python tools/bench_score.py --model=runs/sst2/export --precision=int8 \
      --input_file=texts.txt --rounds=2

Runs each command as a user would (a new process each, start-up included),
the commands taking turns for `--rounds` rounds, and prints each one's
wall-clock and rows/s and its ratio to `predict.py --instances=<cores>
--threads=1`, measured in the same run. The texts are one per line; blank
lines are not rows.
"""

import os
import subprocess
import sys
import tempfile

from absl import flags

from fastformers_tf import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Export directory (ONNX or TFLite).", required=True)
flags.DEFINE_enum("precision", None, ["fp32", "int8", "fp16"], "Which file of the export (default: its own).")
flags.DEFINE_string("input_file", None, "A UTF-8 file with one text per line.", required=True)
flags.DEFINE_integer("rounds", 2, "Rounds of turns.", lower_bound=1)

TOOLS = os.path.dirname(os.path.abspath(__file__))


def commands(cores, output):
    model = [f"--model={FLAGS.model}"] + ([f"--precision={FLAGS.precision}"] if FLAGS.precision else [])
    predict = [sys.executable, os.path.join(TOOLS, "predict.py"), *model, f"--input_file={FLAGS.input_file}"]
    score = [sys.executable, os.path.join(TOOLS, "score.py"), *model, f"--input={FLAGS.input_file}", "--format=text"]
    return {
        f"predict.py --instances={cores} --threads=1": [*predict, f"--instances={cores}", "--threads=1"],
        f"predict.py --threads={cores}": [*predict, f"--threads={cores}"],
        f"score.py (1 copy x {cores} threads)": [*score, f"--output={output}/a", f"--threads={cores}"],
        f"score.py --direct_num_workers={cores} (processes x 1 thread)": [
            *score,
            f"--output={output}/b",
            "--threads=1",
            f"--direct_num_workers={cores}",
            "--direct_running_mode=multi_processing",
        ],
        f"score.py --model_copies={cores} --threads=1": [
            *score,
            f"--output={output}/c",
            "--threads=1",
            f"--model_copies={cores}",
        ],
    }


def main(argv):
    del argv
    from fastformers_tf.bench.timing import in_turns, timed
    from fastformers_tf.cpu import cpu_name
    from fastformers_tf.data.readers import read_lines
    from fastformers_tf.runtime import physical_cores

    rows = sum(1 for _ in read_lines(FLAGS.input_file))
    cores = len(physical_cores())
    with tempfile.TemporaryDirectory() as output:
        runs = commands(cores, output)

        def turn(name, round_):
            elapsed, result = timed(subprocess.run, runs[name], capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"{name} failed: {(result.stderr.strip().splitlines() or [''])[-1]}")
            if name.startswith("score.py") and f"{rows} rows: {rows} predicted" not in result.stdout:
                raise RuntimeError(f"{name} did not predict every row: {result.stdout.strip()}")
            print(f"round {round_ + 1}: {name}: {elapsed:.1f} s", flush=True)
            return elapsed

        seconds = in_turns(runs, turn, FLAGS.rounds, pause=0)
    baseline = min(seconds[next(iter(seconds))])
    print(f"\n{rows} rows; {cpu_name()}, {cores} physical cores; best of {FLAGS.rounds} round(s), start-up included")
    for name, times in seconds.items():
        best = min(times)
        print(f"{best:8.1f} s {rows / best:8.0f} rows/s  {best / baseline:5.2f}x the time of the first  {name}")


if __name__ == "__main__":
    cli.run(main)
