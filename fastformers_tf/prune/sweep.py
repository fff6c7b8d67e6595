"""Prune one model to several sizes and measure accuracy against batch-1 latency (the paper's Figure 2).

Each `prune.sweep` fraction is a `target_params` run of `prune_model` (scored,
pruned and re-distilled as the recipe says) in `<output_dir>/params-<f>/`.
Then the unpruned model and every pruned one are exported to ONNX Runtime
INT8 (`<run>/onnx/`), scored on the evaluation split, and timed side by side
at batch 1 on its texts, in one run, taking turns. Written to the output directory:
`sweep.json`, `sweep.md` and `sweep.png` (accuracy vs latency).
"""

import dataclasses
import io
import os

from fastformers_tf.artifacts import write_json, write_text
from fastformers_tf.prune.run import check, prune_model


def _export_int8(model_dir, export_dir):
    from fastformers_tf.export import ExportOptions, export_all
    from fastformers_tf.models.pretrained import load_tokenizer
    from fastformers_tf.models.saving import load_model

    export_all(load_model(model_dir), export_dir, load_tokenizer(model_dir), ExportOptions(int8=True), source=model_dir)
    return export_dir


def split_examples(task, split, recipe):
    """The examples of `split` as every stage reads it (the hold-out carved when the recipe has one)."""
    from fastformers_tf.data.holdout import HOLDOUT, carve

    spec = recipe.holdout_spec()
    source = spec.split if split == HOLDOUT and spec else split
    examples = task.read(os.path.join(recipe.resolved_data_dir(), task.files[source]), source)
    if spec is None or source != spec.split:
        return examples
    cut = carve(examples, spec, task.nested_phrases)
    return [examples[i] for i in (cut.holdout if split == HOLDOUT else cut.train)]


def _int8_metrics(export_dir, task, split, recipe):
    """The task metrics of an export's INT8 model on `split`."""
    from fastformers_tf.models.pretrained import load_tokenizer
    from fastformers_tf.runtime.load import load_predictor
    from fastformers_tf.train.tasks import TaskData

    predictor = load_predictor(export_dir, "onnx", "int8", batch_size=recipe.distill.eval_batch_size)
    data = TaskData.read(
        task,
        split,
        recipe.resolved_data_dir(),
        load_tokenizer(export_dir),
        recipe.distill.max_length,
        holdout=recipe.holdout_spec(),
    )
    return data.evaluate(predictor, recipe.distill.eval_batch_size, progress=False)[0]


def table(rows, split, cpu):
    """The sweep as Markdown: one row per model, the first the unpruned baseline."""
    lines = [
        f"Accuracy on {split} (Keras fp32, and the ONNX Runtime INT8 export) and batch-1 latency of the INT8 "
        f"export ({cpu}), all timed side by side in one run.",
        "",
        "| model | layer params kept | heads | FFN units | accuracy fp32 | accuracy INT8 | batch-1 ms | speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['kept']:.0%} | {sum(r['heads'])} | {sum(r['ffn'])} | "
            f"{100 * r['accuracy']:.2f} | {100 * r['int8_accuracy']:.2f} | {r['median_ms']:.2f} | "
            f"{r['speedup']:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def plot(rows, path, title):
    """Accuracy vs batch-1 latency, one labelled point per model; written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fastformers_tf.artifacts import write_bytes

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r["median_ms"] for r in rows], [100 * r["int8_accuracy"] for r in rows], "o-")
    for r in rows:
        ax.annotate(
            r["name"], (r["median_ms"], 100 * r["int8_accuracy"]), textcoords="offset points", xytext=(4, 4), fontsize=8
        )
    ax.set_xlabel("batch-1 latency, ms (ONNX Runtime INT8)")
    ax.set_ylabel("accuracy, % (INT8)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=120)
    plt.close(fig)
    write_bytes(path, png.getvalue())


def sweep(recipe, examples=200, rounds=5, threads=None, verbose=1):
    """Runs the sweep of `recipe.prune.sweep` (fractions of the layers' parameters); returns its record."""
    from fastformers_tf.bench.models import compare_folders
    from fastformers_tf.cpu import cpu_name
    from fastformers_tf.data import get_task

    cfg = check(recipe)
    if not cfg.sweep:
        raise ValueError("prune.sweep is empty: give the fractions of the layers' parameters to keep, e.g. 0.5,0.3.")
    out = recipe.resolved_output_dir()
    runs = []
    for fraction in cfg.sweep:
        section = dataclasses.replace(cfg, target_params=float(fraction), target_heads=0.0, target_ffn=0.0)
        run_dir = os.path.join(out, f"params-{float(fraction):g}")
        result = prune_model(dataclasses.replace(recipe, prune=section, output_dir=run_dir), verbose=verbose)
        final = os.path.join(
            run_dir, "redistill" if cfg.redistill_epochs else "", "best" if cfg.redistill_epochs else "pruned"
        )
        runs.append((f"{float(fraction):.0%} params", run_dir, final, result))

    first = runs[0][3]
    task = get_task(first["task"])
    folders = [_export_int8(cfg.model, os.path.join(out, "unpruned-onnx"))]
    folders += [_export_int8(final, os.path.join(run_dir, "onnx")) for _, run_dir, final, _ in runs]
    texts = split_examples(task, first["eval_split"], recipe)[:examples]
    times = compare_folders(folders, texts, rounds, backend="onnx", precision="int8", threads=threads)

    full = first["before"]["layer_params"]
    rows = [{"name": "unpruned", **first["before"], "kept": 1.0}]
    for name, _, _, result in runs:
        metrics = result.get("after_redistill", result["after_pruning"])["metrics"]
        rows.append(
            {
                "name": name,
                **result["after_pruning"],
                "metrics": metrics,
                "kept": result["after_pruning"]["layer_params"] / full,
            }
        )
    main = next(iter(first["before"]["metrics"]))  # the task's main metric comes first
    for row, folder in zip(rows, folders, strict=True):
        int8 = _int8_metrics(folder, task, first["eval_split"], recipe)
        row.update(accuracy=row["metrics"][main], int8_metrics=int8, int8_accuracy=int8[main], **times[folder])
    record = {
        "task": task.name,
        "eval_split": first["eval_split"],
        "metric": main,
        "cpu": cpu_name(),
        "timed_examples": len(texts),
        "rows": rows,
    }
    write_json(os.path.join(out, "sweep.json"), record)
    write_text(os.path.join(out, "sweep.md"), table(rows, first["eval_split"], record["cpu"]))
    plot(rows, os.path.join(out, "sweep.png"), f"{task.name}: pruned to several sizes")
    return record
