"""Task models and task data: the glue between `fastformers_tf.data` and Keras."""

import numpy as np

from fastformers_tf.backend import tf
from fastformers_tf.data import task_data
from fastformers_tf.data.batching import batch_order
from fastformers_tf.models.classifier import TextClassifier
from fastformers_tf.models.encoder import input_signature
from fastformers_tf.models.span_classifier import SpanClassifier
from fastformers_tf.runtime.base import Predictor
from fastformers_tf.runtime.keras_predictor import KerasPredictor


def build_task_model(task, encoder, dropout=0.1, pooling="pooler"):
    """The classifier a task's formulation needs, around `encoder`."""
    if task.formulation == "spans":
        return SpanClassifier(encoder, task.num_spans, len(task.labels), dropout=dropout, labels=list(task.labels))
    return TextClassifier(encoder, len(task.labels), pooling=pooling, dropout=dropout, labels=list(task.labels))


class TaskData(task_data.TaskData):
    """A split (`fastformers_tf.data.task_data.TaskData`) that also makes training batches and scores Keras models."""

    def predict_probs(self, model, batch_size, progress=True):
        """`task_data.TaskData.predict_probs` of a `Predictor`, or of a Keras task model."""
        if not isinstance(model, Predictor):
            model = KerasPredictor(model, batch_size=batch_size)
        return super().predict_probs(model, batch_size, progress)

    def dataset(self, model, batch_size, bucket_window=0, seed=0, extra=None):
        """A `tf.data.Dataset` of shuffled training batches, reshuffled every epoch.

        `extra` maps input names to per-example arrays `[n, ...]` added to each
        batch's inputs (e.g. cached `teacher_logits`); with it, unlabeled
        examples (label -1) are allowed, since the teacher labels them.
        """
        labels = self.features.labels
        if (labels < 0).any() and not extra:
            raise ValueError(f"{self.path} has unlabeled examples; it cannot be used for training.")
        extra = {name: np.asarray(values) for name, values in (extra or {}).items()}
        for name, values in extra.items():
            if len(values) != len(self):
                raise ValueError(f"{name} has {len(values)} rows for {len(self)} examples.")
        num_batches = len(batch_order(self.features.lengths, batch_size))
        epoch = [0]

        def generate():
            order = batch_order(self.features.lengths, batch_size, True, bucket_window, seed + epoch[0])
            epoch[0] += 1
            for indices in order:
                inputs = self.batch_inputs(model, indices)
                inputs.update({name: values[indices] for name, values in extra.items()})
                yield inputs, labels[indices]

        signature = dict(input_signature(model)[0])
        for name, values in extra.items():
            signature[name] = tf.TensorSpec((None, *values.shape[1:]), tf.as_dtype(values.dtype), name=name)
        spec = (signature, tf.TensorSpec((None,), tf.int32))
        dataset = tf.data.Dataset.from_generator(generate, output_signature=spec)
        return dataset.apply(tf.data.experimental.assert_cardinality(num_batches)).prefetch(2)
