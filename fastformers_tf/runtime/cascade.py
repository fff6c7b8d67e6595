"""`CascadePredictor`: the fast model answers, and only the texts it is unsure of go on to a slower one.

Every text goes to the first stage; the texts whose confidence there is below
that stage's threshold go on to the next, and so on; the last stage answers
whatever reaches it. Each stage is any `Predictor` (Keras, ONNX Runtime,
TFLite, multi-instance) with its own tokenizer, so a MiniLM student can hand
over to an MPNet teacher. Only the unsure rows move on, as one batch per
stage, and results come back in input order.

`CascadeWorkers` runs the same rule on N worker processes, each with every
stage on its own cores, the queries shared among them as the multi-instance
predictor shares batches (on 2 cores: 2 single-threaded cascades side by side
rather than one that gives both cores to each stage in turn).

Confidence measures (`CONFIDENCE`): `max_prob`, the top class's probability;
`margin`, the top probability minus the second. A threshold of 0 keeps every
text at its stage (no confidence is below 0); one above 1 sends every text on.

Example:
    >>> cascade = CascadePredictor([student, teacher], thresholds=[0.9])
    >>> cascade.predict(["a gripping film"])
    [('positive', 0.97)]
    >>> cascade.answered  # texts answered per stage so far
    [1, 0]
"""

import os

import numpy as np

from fastformers_tf.cascade.names import CONFIDENCES
from fastformers_tf.data.batching import softmax
from fastformers_tf.errors import ArgumentError
from fastformers_tf.runtime.base import Predictor


def max_prob(probs):
    """The top class's probability per row of `probs` `[n, C]`."""
    return probs.max(-1)


def margin(probs):
    """The top probability minus the second per row of `probs` `[n, C]` (1 for a single class)."""
    if probs.shape[-1] < 2:
        return np.ones(len(probs), probs.dtype)
    top2 = np.sort(probs, axis=-1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


CONFIDENCE = {"max_prob": max_prob, "margin": margin}
assert tuple(CONFIDENCE) == CONFIDENCES, "fastformers_tf.cascade.names lists the same measures"


def open_stages(stages, **kwargs):
    """A predictor per stage, `load_predictor(folder, backend, precision, spin_wait=False, **kwargs)` for each
    `(folder, backend, precision)`; those opened are closed again if one fails."""
    from fastformers_tf.runtime.load import load_predictor

    opened = []
    try:
        for folder, backend, precision in stages:
            opened.append(load_predictor(folder, backend=backend, precision=precision, spin_wait=False, **kwargs))
    except BaseException:
        for predictor in opened:
            predictor.close()
        raise
    return opened


def open_cascade(directory, instances=1, threads=None, **kwargs):
    """The predictor of a cascade folder: a `CascadePredictor` whose stages are each opened by
    `load_predictor(stage, threads=threads, **kwargs)`; with `instances` above 1, a `CascadeWorkers` of that many
    workers, each with every stage on `threads` threads.

    The stages' onnxruntime threads do not spin after a call: the stages take
    turns, and a spinning pool would hold the cores the next stage needs.
    """
    from fastformers_tf.export.cascade import read_cascade

    record, folders = read_cascade(directory)
    stages = [(f, s["backend"], s["precision"]) for f, s in zip(folders, record["stages"], strict=True)]
    if instances > 1:
        if kwargs.pop("device", "cpu") != "cpu":
            raise ArgumentError("A cascade on a GPU runs as one instance: drop --instances.")
        return CascadeWorkers(
            stages, record["thresholds"], record["confidence"], instances=instances, threads=threads, **kwargs
        )
    return CascadePredictor(open_stages(stages, threads=threads, **kwargs), record["thresholds"], record["confidence"])


class CascadePredictor(Predictor):
    """Stages `[fast, ..., slow]` and a threshold per stage but the last.

    Args:
        stages: predictors of the same label set, fastest first.
        thresholds: `len(stages) - 1` confidences; at stage i a text whose
            confidence is below `thresholds[i]` goes on to stage i + 1.
        confidence: "max_prob" or "margin" (see the module doc).
        labels: the label names (None: the stages' own, which must agree).

    `predict`, `classify` and `logits` are those of every predictor; the
    logits of a text are those of the stage that answered it. `tokenizer`
    and `max_length` are the first stage's.
    `answer(texts)` also says which stage that was, and `answered` counts
    the texts each stage answered since the predictor was made.
    """

    output_names = ("logits",)
    takes_texts = True  # `logits(texts)`, never `logits_of(features)`: each stage has its own tokenizer

    def __init__(self, stages, thresholds, confidence="max_prob", labels=None):
        stages, thresholds = list(stages), [float(t) for t in thresholds]
        if len(stages) < 2:
            raise ArgumentError(f"A cascade needs two or more stages; got {len(stages)}.")
        if len(thresholds) != len(stages) - 1:
            raise ArgumentError(
                f"A cascade of {len(stages)} stages takes {len(stages) - 1} threshold(s); got {len(thresholds)}."
            )
        if confidence not in CONFIDENCE:
            raise ArgumentError(f"Unknown confidence {confidence!r}; expected one of {sorted(CONFIDENCE)}.")
        names = [None if stage.labels is None else list(stage.labels) for stage in stages]
        known = [n for n in names if n is not None]
        if any(n != known[0] for n in known):
            raise ArgumentError(f"The cascade's stages classify different label sets: {names}.")
        labels = labels if labels is not None else (known[0] if known else None)
        super().__init__(tokenizer=None, labels=labels, batch_size=max(stage.batch_size for stage in stages))
        # The first stage's tokenizer and length, for callers that read a split with them (its labels, lengths).
        self.tokenizer, self.max_length = stages[0].tokenizer, stages[0].max_length
        self.stages, self.thresholds, self.confidence = stages, thresholds, confidence
        self.answered = [0] * len(stages)

    def answer(self, texts, text_pairs=None):
        """`(logits [n, C], stage [n])`: each text's logits and the index of the stage that answered it."""
        if text_pairs is not None and len(text_pairs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(text_pairs)} text_pairs.")

        def stage_logits(i, rows):
            pairs = None if text_pairs is None else [text_pairs[r] for r in rows]
            return self.stages[i].logits([texts[r] for r in rows], pairs)

        return self._cascade(len(texts), stage_logits)

    def answer_features(self, features, batch_size=None):
        """`answer` on texts already tokenized: `features` holds one `Features` per stage, of the same texts."""
        if len(features) != len(self.stages) or len({len(f) for f in features}) > 1:
            raise ValueError(f"Give one Features of the same rows per stage ({len(self.stages)}).")

        def stage_logits(i, rows):
            return self.stages[i].logits_of(features[i].subset(rows), batch_size=batch_size)

        return self._cascade(len(features[0]), stage_logits)

    def answer_many(self, calls):
        """`answer_features` of each item of `calls` (one `Features` per stage each), in order."""
        return [self.answer_features(features) for features in calls]

    def _cascade(self, n, stage_logits):
        """The cascade's rule over `n` rows; `stage_logits(i, rows)` gives stage i's logits `[len(rows), C]`."""
        logits, stage_of = None, np.full(n, -1, np.int64)
        pending = np.arange(n)  # rows not answered yet, in input order
        measure = CONFIDENCE[self.confidence]
        for i in range(len(self.stages)):
            if not len(pending):
                break
            out = np.asarray(stage_logits(i, pending), np.float32)  # [len(pending), C]
            if logits is None:
                logits = np.zeros((n, out.shape[-1]), np.float32)
            last = i == len(self.stages) - 1
            sure = np.ones(len(pending), bool) if last else measure(softmax(out)) >= self.thresholds[i]
            logits[pending[sure]] = out[sure]
            stage_of[pending[sure]] = i
            self.answered[i] += int(sure.sum())
            pending = pending[~sure]
        if logits is None:
            logits = np.zeros((0, len(self.labels or ())), np.float32)
        return logits, stage_of

    def logits(self, texts, text_pairs=None):
        """Logits `[n, C]` of the stage that answered each text, in input order."""
        return self.answer(texts, text_pairs)[0]

    def logits_of(self, features, pad_id=None, batch_size=None, progress=None):
        raise TypeError("A cascade's stages tokenize texts their own way: give texts to logits() or answer().")

    def close(self):
        for stage in self.stages:
            stage.close()


class _CascadeInWorker:
    """What each worker of a `CascadeWorkers` runs: every stage, on the worker's own cores."""

    input_names = ("features",)  # one `Features` per stage
    output_names = ("logits", "stage")

    def __init__(self, stages, thresholds, confidence, **kwargs):
        self.cascade = CascadePredictor(open_stages(stages, **kwargs), thresholds, confidence)

    def forward(self, features):
        logits, stage = self.cascade.answer_features(features)
        return {"logits": logits, "stage": stage}


class CascadeWorkers(Predictor):
    """A cascade on `instances` worker processes, each running every stage on `threads` threads of its own.

    Queries are shared among the workers as a `MultiInstancePredictor` shares
    batches: a worker takes the next query as it comes free and runs it
    through the stages it needs, so a query the first stage answers does not
    wait for another's teacher call. The parent tokenizes with each stage's
    tokenizer. Same interface as `CascadePredictor` (`answer`, `answer_features`,
    `answer_many`, `answered`); the stages are export folders or files.

    Args:
        stages: `(export folder, backend, precision)` per stage, fastest first.
        thresholds, confidence: as `CascadePredictor`'s.
        instances, threads: workers, and each stage's threads in a worker
            (None: the physical cores divided among the workers).
        max_length, batch_size: of every stage.
        allow_oversubscription, cpus: as `MultiInstancePredictor`'s.
    """

    output_names = ("logits",)
    takes_texts = True

    def __init__(
        self,
        stages,
        thresholds,
        confidence="max_prob",
        instances=2,
        threads=None,
        max_length=None,
        batch_size=32,
        allow_oversubscription=False,
        cpus=None,
    ):
        import functools

        from fastformers_tf.runtime.load import load_export_tokenizer, resolve_export
        from fastformers_tf.runtime.multi_instance import MultiInstancePredictor, physical_cores

        stages, thresholds = [tuple(s) for s in stages], [float(t) for t in thresholds]
        # Each stage's tokenizer and lengths, as its predictor in a worker resolves them.
        self.tokenizers = []
        for folder, backend, precision in stages:
            _, export = resolve_export(folder, backend, precision)
            info = export.info if export else {}
            self.tokenizers.append(
                Predictor(
                    load_export_tokenizer(export.directory if export else os.path.dirname(os.path.abspath(folder))),
                    info.get("labels"),
                    max_length,
                    batch_size,
                    info.get("max_tokens"),
                )
            )
        # Checked here (labels, thresholds, measure) with the tokenizers standing in for the stages.
        check = CascadePredictor(self.tokenizers, thresholds, confidence)
        super().__init__(tokenizer=None, labels=check.labels, batch_size=batch_size)
        self.tokenizer, self.max_length = check.tokenizer, check.max_length
        self.thresholds, self.confidence = thresholds, confidence
        self.instances = instances
        self.threads = threads or max(1, len(physical_cores()) // instances)
        self.answered = [0] * len(stages)
        factory = functools.partial(
            _CascadeInWorker,
            stages,
            thresholds,
            confidence,
            threads=self.threads,
            max_length=max_length,
            batch_size=batch_size,
        )
        self._workers = MultiInstancePredictor(
            factory,
            labels=self.labels,
            instances=instances,
            threads=self.threads,
            batch_size=batch_size,
            cpus=cpus,
            allow_oversubscription=allow_oversubscription,
        )

    def answer_many(self, calls):
        """`(logits [n, C], stage [n])` of each item of `calls` (one `Features` per stage each), in order; the
        calls run on the workers side by side."""
        results = []
        for out in self._workers.forward_batches(list(calls)):
            stage = np.asarray(out["stage"])
            for i in range(len(self.answered)):
                self.answered[i] += int((stage == i).sum())
            results.append((np.asarray(out["logits"], np.float32), stage))
        return results

    def answer_features(self, features, batch_size=None):
        """`answer` on texts already tokenized by each stage, as `CascadePredictor.answer_features`."""
        del batch_size  # the workers' own
        if len(features) != len(self.tokenizers) or len({len(f) for f in features}) > 1:
            raise ValueError(f"Give one Features of the same rows per stage ({len(self.tokenizers)}).")
        return self.answer_many([features])[0]

    def answer(self, texts, text_pairs=None):
        """`(logits [n, C], stage [n])`, as `CascadePredictor.answer`: one call on one worker."""
        return self.answer_features([t.tokenize(texts, text_pairs) for t in self.tokenizers])

    def logits(self, texts, text_pairs=None):
        return self.answer(texts, text_pairs)[0]

    def logits_of(self, features, pad_id=None, batch_size=None, progress=None):
        raise TypeError("A cascade's stages tokenize texts their own way: give texts to logits() or answer().")

    def close(self):
        self._workers.close()
