"""Batch scoring on Apache Beam (`tools/score.py`): files of texts in, one JSONL of predictions per file out.

`handler.ExportModelHandler` loads an ONNX or TFLite export once per worker (or
`model_copies` times per machine) and classifies the `read.Row`s of each Beam
batch with the same predictor `tools/predict.py` serves. `pipeline.score_files`
is the job: `read.ReadRows` reads each file (a bad row goes to the dead
letters with its file and line), `RunInference` classifies, and `write`
writes one JSONL of predictions per input file, in line order, and the dead
letters. Nothing here imports TensorFlow: the serving install plus
`apache-beam` runs it (`pip install fastformers_tf[beam]`).
"""
