"""The benchmark as the paper's Table 3: cumulative rows, cost per 100M queries, backends, and Figure 3.

Pure functions over the plain records `compress.benchmark` measured (no
TensorFlow): the rows, the pick within an accuracy budget, Markdown, and the
accuracy-vs-speed plot.
"""

import io

from fastformers_tf.errors import UserError

# Table 3's cumulative steps, in order: (label, test on a candidate record, given the model names present);
# a step's row is the fastest record that passes its test.
STEPS = (
    (
        "Baseline: teacher, Keras fp32, every query padded to the max length",
        lambda r, m: r["model"] == m[0] and r["backend"] == "keras" and r["padding"] == "max",
    ),
    (
        "+ dynamic sequence length",
        lambda r, m: r["model"] == m[0] and r["backend"] == "keras" and r["padding"] == "dynamic",
    ),
    ("+ knowledge distillation", lambda r, m: r["model"] == "distill" and r["backend"] == "keras"),
    (
        "+ INT8 quantization and graph optimization (ONNX Runtime)",
        lambda r, m: (
            r["model"] == "distill" and r["backend"] == "onnx" and r["precision"] == "int8" and r["instances"] == 1
        ),
    ),
    (
        "+ multi-instance",
        lambda r, m: (
            r["model"] == "distill" and (r["backend"], r["precision"]) == ("onnx", "int8") and r["instances"] > 1
        ),
    ),
    (
        "+ structured pruning",
        lambda r, m: (
            r["model"] == "prune" and (r["backend"], r["precision"]) == ("onnx", "int8") and r["instances"] > 1
        ),
    ),
    (
        "+ quantization-aware training (static INT8)",
        lambda r, m: r["model"] == "qat" and (r["backend"], r["precision"]) == ("onnx", "int8") and r["instances"] > 1,
    ),
    (
        "+ cascade (the last student answers, the teacher takes the texts it is unsure of)",
        lambda r, m: bool(r.get("stages")) and r["stages"][0] == last_student(m),
    ),
)


def last_student(models):
    """The last of the job's own students among `models` (`compress.students`, made elsewhere, are not steps)."""
    return next((m for m in reversed(models) if m in ("distill", "prune", "qat")), None)


def main_metric(metrics):
    """`(name, value)` of a task's main metric (the first one its metric function returns)."""
    name = next(iter(metrics))
    return name, metrics[name]


def dollars_per_100m(record, examples, price_per_hour, instance_cores):
    """US$ for 100M queries at this candidate's batch-1 speed, on an instance of `instance_cores` at `price_per_hour`.

    The instance runs `instance_cores / cores used` copies of the candidate side
    by side (linear scaling assumed), each answering a query in
    `split_s / examples` seconds.
    """
    cores = record["instances"] * record["threads"]
    return price_per_hour / 3600 * record["split_s"] / examples * cores / instance_cores * 1e8


def table_rows(records, models, examples, price_per_hour, instance_cores):
    """The cumulative rows present in `records`, each with its step and cumulative speed-up and its cost."""
    rows, base, previous = [], None, None
    for label, test in STEPS:
        record = min((r for r in records if test(r, models)), key=lambda r: r["split_s"], default=None)
        if record is None:
            continue
        base = base or record
        cost = dollars_per_100m(record, examples, price_per_hour, instance_cores)
        rows.append(
            {
                "step": label,
                "candidate": record["name"],
                "split_s": record["split_s"],
                "ms_per_query": record["ms_per_query"],
                "throughput_per_s": record["throughput_per_s"],
                "cumulative_speedup": round(base["split_s"] / record["split_s"], 2),
                "step_speedup": round((previous or record)["split_s"] / record["split_s"], 2),
                "metrics": record["metrics"],
                "dollars_per_100m": round(cost, 2),
            }
        )
        previous = record
    return rows


def within_budget(record, floor):
    """Whether `record` is a way to serve (not the padded baseline) whose selection metric reaches `floor`."""
    return record["padding"] == "dynamic" and main_metric(record["selection_metrics"])[1] >= floor - 1e-9


def budget(reference, max_drop_points):
    """`(reference metric, floor)`: `reference`'s main metric on the selection split and the lowest within budget."""
    _, ref = main_metric(reference["selection_metrics"])
    return ref, ref - max_drop_points / 100


def pick(records, reference, max_drop_points):
    """`(fastest record within budget, reference metric, floor)`: the lowest batch-1 time among the candidates
    whose main metric (on the selection split) is at most `max_drop_points` below `reference`'s.
    The baseline (padded to the max length) is not a way to serve, so it is not a candidate. Where the
    benchmark timed the leaders again (records with `again`), the pick is the fastest of those by that time.
    """
    ref, floor = budget(reference, max_drop_points)
    within = [r for r in records if within_budget(r, floor)]
    if not within:
        raise UserError(
            f"No candidate is within {max_drop_points} points of the teacher's {100 * ref:.2f} on the selection "
            "split; raise compress.max_accuracy_drop (--max_accuracy_drop) or time the teacher with Keras."
        )
    again = [r for r in within if "again" in r]
    if again:
        return min(again, key=lambda r: r["again"]["ms_per_query"]), ref, floor
    return min(within, key=lambda r: r["split_s"]), ref, floor


def to_time_again(records, max_drop_points, leaders=2):
    """Indexes of the records the benchmark times again: the baseline, the `leaders` fastest within budget, and
    the fastest single model within budget where those are all cascades (the pick's rivals, and what its
    speed-up is quoted against)."""
    _, floor = budget(records[0], max_drop_points)
    within = sorted((i for i, r in enumerate(records) if within_budget(r, floor)), key=lambda i: records[i]["split_s"])
    chosen = [0, *within[:leaders]]
    single = next((i for i in within if not records[i].get("stages")), None)
    return chosen if single is None or single in chosen else [*chosen, single]


def versus(slower, faster):
    """`(ratio of the median times, lowest, highest ratio of one round)` of two records timed again together."""
    a, b = slower["again"], faster["again"]
    by_round = [x / y for x, y in zip(a["turns_batch1_s"], b["turns_batch1_s"], strict=True)]
    return a["ms_per_query"] / b["ms_per_query"], min(by_round), max(by_round)


def pick_line(bench, picked, ref, floor, max_drop_points):
    """The one line that says what was picked, how fast and how accurate, and by how much it beats its rivals."""
    records = bench["records"]
    baseline = records[0]
    metric, value = main_metric(picked["selection_metrics"])
    within = [r for r in records if within_budget(r, floor)]
    again = sorted((r for r in within if "again" in r), key=lambda r: r["again"]["ms_per_query"])
    if "again" in picked and "again" in baseline:
        speedup, low, high = versus(baseline, picked)
        speed = (
            f"{picked['again']['ms_per_query']:.2f} ms/query at batch 1, {speedup:.1f}x faster than the baseline "
            f"({low:.1f}-{high:.1f}x by round of {len(picked['again']['turns_batch1_s'])}, timed again alternating)"
        )
        chosen = f"the fastest of the {len(again)} timed again, of the {len(within)} candidates within budget"
    else:
        speedup = baseline["split_s"] / picked["split_s"]
        speed = f"{picked['ms_per_query']:.2f} ms/query at batch 1, {speedup:.1f}x faster than the baseline"
        chosen = f"the fastest of the {len(within)} candidates within budget"
    line = (
        f"Picked {picked['name']}: {speed}; {metric} {100 * value:.2f} on {bench['selection_split']} "
        f"({100 * (value - ref):+.2f} points vs the teacher's {100 * ref:.2f}, budget -{max_drop_points}): "
        f"{chosen} (of {len(records) - 1})."
    )
    single = next((r for r in again if not r.get("stages")), None)
    for r in again if "again" in picked else []:
        if r is picked:
            continue
        ratio, low, high = versus(r, picked)
        what = ", the fastest single model within budget" if r is single and picked.get("stages") else ""
        lead = "" if low > 1 else ": no clear lead"
        line += (
            f" Against {r['name']}{what} ({r['again']['ms_per_query']:.2f} ms/query): {ratio:.2f}x faster by the "
            f"medians, {low:.2f}-{high:.2f}x by round{lead}."
        )
    return (
        f"{line} Serve it with {picked['instances']} instance(s) of {picked['threads']} thread(s) "
        "(--instances, --threads)."
    )


def _again_section(bench, picked):
    """Markdown lines: the candidates timed again, each round's time and the ratio to the pick."""
    again = [r for r in bench["records"] if "again" in r]
    if not again:
        return []
    per_query = 1e3 / bench["timed_examples"]
    lines = [
        "",
        "## Timed again",
        "",
        f"The baseline and the leaders within budget, {bench['retime_rounds']} more alternating rounds each "
        "(batch 1 only); the pick and its speed-ups come from these times.",
        "",
        "| candidate | ms/query (median) | ms/query by round | pick faster by (median, by round) |",
        "|---|---:|---|---|",
    ]
    for r in again:
        rounds = ", ".join(f"{per_query * t:.2f}" for t in r["again"]["turns_batch1_s"])
        if r["name"] == picked["name"]:
            versus_pick = "(the pick)"
        elif "again" in picked:
            versus_pick = "{:.2f}x ({:.2f}-{:.2f}x)".format(*versus(r, picked))
        else:
            versus_pick = "-"
        lines.append(f"| {r['name']} | {r['again']['ms_per_query']:.2f} | {rounds} | {versus_pick} |")
    return lines


def _pct(value):
    return f"{100 * value:.2f}"


def markdown(report):
    """The report as Markdown: setting, Table 3, the backends of the final model, every candidate, the pick."""
    b, sel = report["benchmark"], report["selection"]
    metric = report["metric"]
    lines = [
        f"# {report['task']}: compression report",
        "",
        f"Measured on {b['cpu']}, {b['cores']} cores, one run ({b['date']}); {b['examples']} examples of "
        f"`{b['report_split']}`, batch-1 time over {b['timed_examples']} of them"
        + (" (scaled to the split)" if b["timed_examples"] < b["examples"] else "")
        + f", median of {b['rounds']} turn(s). Throughput: batches of {b['throughput_batch']}.",
        f"Baseline: {b['baseline']}.",
        f"Cost: US${report['price_per_hour']}/hour for {report['instance_name']} ({report['instance_cores']} cores), "
        "the instance running as many copies of a candidate as its cores allow.",
        "",
        "## Cumulative speed-up (the paper's Table 3)",
        "",
        f"| step | model | time for the split (s) | ms/query | speed-up (step) | speed-up (cumulative) | {metric} | "
        f"$ per 100M queries | batch-{b['throughput_batch']} queries/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["table"]:
        lines.append(
            f"| {row['step']} | {row['candidate']} | {row['split_s']:.2f} | {row['ms_per_query']:.2f} | "
            f"{row['step_speedup']:.2f}x | {row['cumulative_speedup']:.2f}x | {_pct(main_metric(row['metrics'])[1])} | "
            f"{row['dollars_per_100m']:.2f} | {row['throughput_per_s']:.1f} |"
        )
    lines += [
        "",
        f"## Backends on the final model ({report['final_model']}, one instance)",
        "",
        f"| backend | ms/query | speed-up vs Keras | {metric} | batch-{b['throughput_batch']} queries/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in report["backends"]:
        lines.append(
            f"| {row['backend']}/{row['precision']} | {row['ms_per_query']:.2f} | {row['vs_keras']:.2f}x | "
            f"{_pct(main_metric(row['metrics'])[1])} | {row['throughput_per_s']:.1f} |"
        )
    same = sel["split"] == b["report_split"]
    selection_column = "" if same else f" {metric} ({sel['split']}) |"
    lines += [
        "",
        "## Every candidate",
        "",
        f"| candidate | ms/query | speed-up vs baseline | {metric} ({b['report_split']}) |{selection_column} "
        "within budget |",
        "|---|---:|---:|---:|" + ("" if same else "---:|") + "---|",
    ]
    base = b["records"][0]["split_s"]
    for r in b["records"]:
        mark = " **(picked)**" if r["name"] == sel["picked"]["name"] else ""
        selection = main_metric(r["selection_metrics"])[1]
        within = "not a candidate" if r["padding"] == "max" else "yes" if within_budget(r, sel["floor"]) else "no"
        lines.append(
            f"| {r['name']}{mark} | {r['ms_per_query']:.2f} | {base / r['split_s']:.2f}x | "
            f"{_pct(main_metric(r['metrics'])[1])} |" + ("" if same else f" {_pct(selection)} |") + f" {within} |"
        )
    cascades = [r for r in b["records"] if r.get("stages")]
    if cascades:
        lines += ["", "## Cascades", ""]
        for r in cascades:
            c = b.get("cascades", {}).get(r["name"], {})
            lines.append(
                f"- {r['name']}: threshold {c.get('thresholds')} ({c.get('confidence')}) set on {c.get('split')}, "
                f"where {100 * c.get('share_to_teacher', 0):.1f}% of the texts reach the teacher and the cascade "
                f"scores {c.get('metric', 0):.2f} vs the teacher's {c.get('teacher_metric', 0):.2f}; on "
                f"{b['report_split']} {100 * r['stage_shares'][-1]:.1f}% reach it. "
                + (
                    f"Both stages run as one instance of {r['threads']} threads."
                    if r["instances"] == 1
                    else f"{r['instances']} workers share the queries, each running both stages on "
                    f"{r['threads']} thread(s)."
                )
            )
    lines += _again_section(b, sel["picked"])
    lines += ["", "## Pick", "", sel["line"], ""]
    holdout = b.get("holdout")
    if holdout:
        lines += [holdout_line(holdout, b["report_split"]), ""]
    if sel["split"] == b["report_split"]:
        lines += [
            f"The pick and the report use the same split ({sel['split']}): the picked model's {metric} above "
            "is the number it was picked on, so it is optimistic. Pass "
            "`--params_override=compress.selection_split=SPLIT` to pick on another split.",
            "",
        ]
    return "\n".join(lines)


def holdout_line(holdout, report_split):
    """What the report says of the hold-out: its size, what train kept, and that the report split was unseen."""
    dropped = (
        f", {holdout['dropped']} train examples whose text is (inside) a held-out one dropped"
        if holdout["dropped"]
        else ""
    )
    return (
        f"Hold-out: {holdout['holdout']} examples carved from {holdout['split']} (seed {holdout['seed']}); every "
        f"training stage read the other {holdout['train']}{dropped}. Every best epoch and the pick were made on "
        f"the hold-out; `{report_split}` was read once, by this benchmark."
    )


def plot(report):
    """PNG bytes: main metric vs batch-1 queries per second, every candidate a point, the pick marked (Figure 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b, sel = report["benchmark"], report["selection"]
    markers = {"keras": "o", "onnx": "s", "tflite": "^"}
    colors = {}
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for r in b["records"]:
        color = colors.setdefault(r["model"], f"C{len(colors)}")
        hollow = r["precision"] == "fp32"
        ax.scatter(
            r["queries_per_s"],
            100 * main_metric(r["metrics"])[1],
            marker="P" if r.get("stages") else markers[r["backend"]],
            s=30 + 25 * r["instances"],
            facecolors="none" if hollow else color,
            edgecolors=color,
            label=None,
        )
    for model, color in colors.items():
        ax.scatter([], [], color=color, label=model)
    for backend, marker in markers.items():
        ax.scatter([], [], marker=marker, color="gray", label=f"{backend} (hollow: fp32)")
    if any(r.get("stages") for r in b["records"]):
        ax.scatter([], [], marker="P", color="gray", label="cascade: a student, then the teacher")
    p = sel["picked"]
    ax.scatter(
        p["queries_per_s"],
        100 * main_metric(p["metrics"])[1],
        marker="*",
        s=400,
        color="gold",
        edgecolors="black",
        zorder=5,
        label=f"picked: {p['name']}",
    )
    ax.axhline(
        100 * sel["floor"],
        color="gray",
        linestyle="--",
        linewidth=1,
        label=f"budget: {sel['max_accuracy_drop']} points below the teacher ({sel['split']})",
    )
    ax.set_xscale("log")
    ax.set_xlabel(f"queries per second, batch 1 ({b['cores']} cores of {b['cpu']})")
    ax.set_ylabel(f"{report['metric']} on {b['report_split']} (%)")
    ax.set_title(f"{report['task']}: accuracy vs speed of every candidate")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()
