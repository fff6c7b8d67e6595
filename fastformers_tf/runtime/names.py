"""Input and output names in exported files: Hugging Face's, mapped to the names the models use inside.

Exports name their inputs `input_ids`, `attention_mask` and `token_type_ids`
and an encoder's outputs `last_hidden_state` and `pooler_output`, as
transformers and optimum expect; `logits` and `span_masks` keep their names.
The predictors map a file's names to the inner ones and always speak those.
"""

HF_NAMES = {
    "token_ids": "input_ids",
    "padding_mask": "attention_mask",
    "segment_ids": "token_type_ids",
    "sequence_output": "last_hidden_state",
    "pooled_output": "pooler_output",
}
INNER_NAMES = {hf: inner for inner, hf in HF_NAMES.items()}


def to_hf(name):
    """The name `name` has in an export."""
    return HF_NAMES.get(name, name)


def to_inner(name):
    """The model's own name for a name found in an export (`logits` and `span_masks` are the same in both)."""
    return INNER_NAMES.get(name, name)
