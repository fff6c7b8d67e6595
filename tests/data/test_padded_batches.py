"""`padded_batches`, the one batch builder of predictors, benchmarks and calibration; `data` never imports `runtime`."""

import subprocess
import sys

import numpy as np

from fastformers_tf.data.batching import Features, padded_batches

LENGTHS = [3, 7, 2, 5, 4]


def features():
    total = sum(LENGTHS)
    return Features(
        token_ids=np.arange(1, total + 1, dtype=np.int32),
        segment_ids=np.zeros(total, np.int32),
        offsets=np.concatenate([[0], np.cumsum(LENGTHS)]),
        labels=np.zeros(len(LENGTHS), np.int32),
        spans=np.zeros((len(LENGTHS), 0, 2), np.int32),
    )


def test_batches_sorted_by_length_each_padded_to_its_longest_row_with_only_the_model_inputs():
    batched = padded_batches(features(), ("token_ids", "padding_mask"), pad_id=9, batch_size=2)
    assert [rows.tolist() for rows, _ in batched] == [[2, 0], [4, 3], [1]]
    assert [x["token_ids"].shape for _, x in batched] == [(2, 3), (2, 5), (1, 7)]
    rows, first = batched[0]
    assert set(first) == {"token_ids", "padding_mask"}
    np.testing.assert_array_equal(first["token_ids"], [[11, 12, 9], [1, 2, 3]])
    np.testing.assert_array_equal(first["padding_mask"], [[1, 1, 0], [1, 1, 1]])


def test_rows_in_given_order_padded_to_a_fixed_length():
    batched = padded_batches(
        features(), ("token_ids", "segment_ids"), batch_size=1, pad_to=6, rows=[3, 1], by_length=False
    )
    assert [rows.tolist() for rows, _ in batched] == [[3], [1]]
    # A row longer than pad_to keeps its length.
    assert [x["token_ids"].shape for _, x in batched] == [(1, 6), (1, 7)]
    assert set(batched[0][1]) == {"token_ids", "segment_ids"}


def test_the_data_package_does_not_import_runtime():
    code = (
        "import sys; import fastformers_tf.data.task_data, fastformers_tf.data.batching; "
        "print(sorted(m for m in sys.modules if m.startswith('fastformers_tf.runtime')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
