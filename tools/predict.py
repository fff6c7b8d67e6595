"""Classify texts with a saved classifier or its export, or zero-shot with a sentence encoder.

  python tools/predict.py --model=all-MiniLM-L6-v2 --labels=sports,politics \
      --text="The team won the final."
  python tools/predict.py --model=runs/rte/teacher --input_file=texts.txt
  python tools/predict.py --model=runs/rte/export --backend=onnx --precision=int8 \
      --instances=2 --threads=1 --input_file=texts.txt

Prints one tab-separated line per text: label, score, text. A classifier's
score is its softmax probability; zero-shot's is the cosine similarity between
the text and the label description. The onnx and tflite backends read an
export directory written by tools/export.py (or one file in it) and do not
import TensorFlow.
"""

from absl import app, flags

from fastformers_tf.runtime.load import BACKENDS, PRECISIONS, load_predictor

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "all-MiniLM-L6-v2", "Model directory, packaged model name, export directory or file.")
flags.DEFINE_enum("backend", "auto", ["auto", *BACKENDS], "auto: from the file suffix or export.json, else keras.")
flags.DEFINE_enum("precision", "fp32", PRECISIONS, "Which file of an export directory to run.")
flags.DEFINE_integer("instances", 1, "Worker processes, each with its own session pinned to its own cores.")
flags.DEFINE_integer("threads", None, "Threads per session (default: the backend's, or cores / instances).")
flags.DEFINE_multi_string("text", [], "A text to classify (repeatable).")
flags.DEFINE_string("input_file", None, "A UTF-8 file with one text per line.")
flags.DEFINE_list("labels", None, "Zero-shot label names, for a sentence encoder without a classification head.")
flags.DEFINE_string("label_template", "This is about {}.", "How a zero-shot label is described to the encoder.")
flags.DEFINE_integer("batch_size", 32, "Texts per forward pass.")
flags.DEFINE_integer("max_length", 128, "Tokens kept per text.")


def read_texts():
    texts = list(FLAGS.text)
    if FLAGS.input_file:
        with open(FLAGS.input_file, encoding="utf-8") as f:
            texts += [line.rstrip("\n") for line in f if line.strip()]
    if not texts:
        raise app.UsageError("Give texts with --text or --input_file.")
    return texts


def main(argv):
    del argv
    texts = read_texts()
    with load_predictor(
        FLAGS.model, FLAGS.backend, FLAGS.precision, FLAGS.threads, FLAGS.instances, FLAGS.max_length,
        FLAGS.batch_size,
    ) as predictor:  # fmt: skip
        if "logits" in predictor.output_names:
            if FLAGS.labels:
                raise app.UsageError("--labels is for zero-shot with an encoder; this model has its own labels.")
            results = predictor.predict(texts)
        elif FLAGS.labels:
            results = predictor.zero_shot(texts, FLAGS.labels, FLAGS.label_template)
        else:
            raise app.UsageError(
                f"{FLAGS.model} is an encoder without a classification head: pass --labels for zero-shot "
                "classification, or a fine-tuned classifier directory."
            )
    for text, (label, score) in zip(texts, results, strict=True):
        print(f"{label}\t{score:.4f}\t{text}")


if __name__ == "__main__":
    app.run(main)
