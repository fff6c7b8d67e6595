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

from fastformers_tf import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "all-MiniLM-L6-v2", "Model directory, packaged model name, export directory or file.")
flags.DEFINE_multi_string("text", [], "A text to classify (repeatable).")
flags.DEFINE_string("input_file", None, "A UTF-8 file with one text per line.")
flags.DEFINE_list("labels", None, "Zero-shot label names, for a sentence encoder without a classification head.")
flags.DEFINE_string("label_template", "This is about {}.", "How a zero-shot label is described to the encoder.")
cli.define_predictor_flags()


def check_labels(labels):
    """Zero-shot labels: at least two, none empty, no duplicates."""
    if labels is None:
        return True
    if len(labels) < 2:
        raise flags.ValidationError(f"--labels needs at least two labels to choose between, got {labels}.")
    if any(not label.strip() for label in labels):
        raise flags.ValidationError(f"--labels has an empty label: {labels}.")
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise flags.ValidationError(f"--labels repeats {duplicates}.")
    return True


flags.register_validator("labels", check_labels)


def read_texts():
    from fastformers_tf.data.readers import read_lines

    texts = list(FLAGS.text)
    empty = [i for i, text in enumerate(texts, 1) if not text.strip()]
    if empty:
        raise app.UsageError(f"--text number {empty[0]} is empty; give a text to classify.")
    if FLAGS.input_file:
        texts += [line for _, line in read_lines(FLAGS.input_file)]
    if not texts:
        raise app.UsageError(
            "Give texts with --text or --input_file" + (f" ({FLAGS.input_file} has none)." if FLAGS.input_file else ".")
        )
    return texts


def main(argv):
    del argv
    from fastformers_tf.runtime.load import load_predictor

    texts = read_texts()
    with load_predictor(
        FLAGS.model,
        FLAGS.backend,
        FLAGS.precision,
        FLAGS.threads,
        FLAGS.instances,
        FLAGS.max_length,
        FLAGS.batch_size,
    ) as predictor:
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
    cli.run(main)
