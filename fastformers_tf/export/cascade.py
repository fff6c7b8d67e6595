"""Cascade folders: two or more exports served as one `CascadePredictor`, and the one-file copy they are made of.

A cascade folder is an export folder (`manifest.json`, `export.json`) whose
`export.json` has a `cascade` record instead of model files:

    stages/0/ ... stages/N-1/   each an export folder holding one model file
                                (copied, with its tokenizer), served as it is
    export.json                 {"labels": [...], "serve": {"backend": "cascade"},
                                 "cascade": {"stages": [{"folder", "source",
                                 "backend", "precision", "sha256"}, ...],
                                 "thresholds": [...], "confidence": "max_prob"}}

Every file is in the manifests (the cascade's and each stage's), so a stage
file changed after writing is refused when the cascade is opened; stages of
different label sets are refused when it is written and when it is opened.
Nothing here imports TensorFlow.
"""

import os
import shutil

from fastformers_tf import artifacts
from fastformers_tf.artifacts import EXPORT_FILES, EXPORT_INFO_FILE, EXPORT_KIND, MANIFEST_FILE, ArtifactError
from fastformers_tf.errors import ArgumentError

CASCADE = "cascade"


def copy_served(export, backend, precision, folder, **info):
    """Copies `export`'s `backend`/`precision` file and its tokenizer files into `folder` (checksums verified first).

    `export.json` there names only that file, and `serve` (with `info`'s
    other keys) says to serve it. Returns the copied file's name.
    """
    chosen = export.files.get(f"{backend}/{precision}")
    if chosen is None:
        raise ArtifactError(f"{export.directory} has no {precision} {backend} model; it has {sorted(export.files)}.")
    skip = ({*EXPORT_FILES.values(), artifacts.RAW_ONNX_FILE} - {chosen}) | {EXPORT_INFO_FILE, MANIFEST_FILE}
    for name in export.manifest.files:
        if name not in skip:
            os.makedirs(os.path.dirname(os.path.join(folder, name)), exist_ok=True)
            shutil.copyfile(export.manifest.path(name), os.path.join(folder, name))
    serve = {"backend": backend, "precision": precision, **info.pop("serve", {})}
    record = {**export.info, "files": {f"{backend}/{precision}": chosen}, "serve": serve, **info}
    artifacts.write_json(os.path.join(folder, EXPORT_INFO_FILE), record)
    return chosen


def write_cascade(target, stages, thresholds, confidence="max_prob", files=None, **info):
    """Writes the cascade folder `target`; returns its `export.json` record.

    Args:
        target: the folder (replaced only by another export or cascade).
        stages: `(export folder, backend, precision)` per stage, fastest first.
        thresholds: `len(stages) - 1` confidences (see `runtime.cascade`).
        confidence: "max_prob" or "margin".
        files: `{name: bytes}` written beside `export.json` (a calibration plot).
        info: more keys for the `cascade` record (the calibration's numbers).
    """
    from fastformers_tf.runtime.cascade import CONFIDENCE
    from fastformers_tf.runtime.load import Export

    if len(stages) < 2 or len(thresholds) != len(stages) - 1:
        raise ArgumentError(
            f"A cascade needs two or more stages and one threshold fewer; got {len(stages)} and {len(thresholds)}."
        )
    if confidence not in CONFIDENCE:
        raise ArgumentError(f"Unknown confidence {confidence!r}; expected one of {sorted(CONFIDENCE)}.")
    exports = [Export(folder) for folder, _, _ in stages]
    labels = _agreed_labels([e.info.get("labels") for e in exports], [folder for folder, _, _ in stages])
    records = []
    with artifacts.writing(target, EXPORT_KIND) as folder:
        for i, (export, (source, backend, precision)) in enumerate(zip(exports, stages, strict=True)):
            stage = os.path.join("stages", str(i))
            os.makedirs(os.path.join(folder, stage))
            name = copy_served(export, backend, precision, os.path.join(folder, stage))
            artifacts.write_manifest(os.path.join(folder, stage), EXPORT_KIND)
            records.append(
                {
                    "folder": stage.replace(os.sep, "/"),
                    "source": os.path.abspath(source),
                    "backend": backend,
                    "precision": precision,
                    "sha256": artifacts.sha256_of(os.path.join(folder, stage, name)),
                }
            )
        record = {
            "labels": labels,
            "serve": {"backend": CASCADE},
            CASCADE: {
                "stages": records,
                "thresholds": [float(t) for t in thresholds],
                "confidence": confidence,
                **info,
            },
        }
        artifacts.write_json(os.path.join(folder, EXPORT_INFO_FILE), record)
        for name, data in (files or {}).items():
            artifacts.write_bytes(os.path.join(folder, name), data)
    return record


def _agreed_labels(label_sets, names):
    if any(labels is None for labels in label_sets) or any(labels != label_sets[0] for labels in label_sets):
        described = ", ".join(f"{name}: {labels}" for name, labels in zip(names, label_sets, strict=True))
        raise ArgumentError(f"The cascade's stages must classify one label set; they have {described}.")
    return list(label_sets[0])


def read_cascade(directory):
    """`(cascade record, [stage folder])` of a cascade folder, each stage's model file checked against its sha256."""
    from fastformers_tf.runtime.load import Export

    export = Export(directory)
    record = export.info.get(CASCADE)
    if record is None:
        raise ArtifactError(f"{directory} is an export, not a cascade folder.")
    folders = []
    for stage in record["stages"]:
        folder = os.path.join(directory, stage["folder"])
        path = Export(folder).model_file(stage["backend"], stage["precision"])  # checked against its manifest
        if artifacts.sha256_of(path) != stage["sha256"]:
            raise ArtifactError(f"{path} is not the file this cascade was written with (sha256 differs).")
        folders.append(folder)
    _agreed_labels([Export(f).info.get("labels") for f in folders] + [export.info.get("labels")], [*folders, directory])
    return record, folders


def is_cascade(directory):
    """True for a folder whose `export.json` describes a cascade (complete or not)."""
    import json

    path = os.path.join(directory, EXPORT_INFO_FILE)
    if not os.path.isfile(path):
        return False
    try:
        with open(path, encoding="utf-8") as f:
            return CASCADE in json.load(f)
    except (OSError, ValueError):
        return False
