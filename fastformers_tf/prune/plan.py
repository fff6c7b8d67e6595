"""`PrunePlan`: which heads and FFN units each layer keeps, as plain data."""

import dataclasses
import json


@dataclasses.dataclass
class PrunePlan:
    """Per layer, the indices of the heads and FFN units to keep.

    Indices refer to the model the plan is applied to. Saved as JSON so that a
    user can read and edit what pruning will do.

    Args:
        heads: one sorted list of kept head indices per layer.
        ffn_units: one sorted list of kept FFN unit indices per layer.

    Example:
        >>> plan = PrunePlan(heads=[[0, 1], [0, 2, 3], []], ffn_units=[list(range(37)), [1, 4], []])
        >>> plan.num_heads
        [2, 3, 0]
    """

    heads: list
    ffn_units: list

    def __post_init__(self):
        self.heads = [sorted(int(h) for h in layer) for layer in self.heads]
        self.ffn_units = [sorted(int(u) for u in layer) for layer in self.ffn_units]
        if len(self.heads) != len(self.ffn_units):
            raise ValueError(f"Plan has {len(self.heads)} head lists but {len(self.ffn_units)} FFN lists.")

    @property
    def num_heads(self):
        return [len(layer) for layer in self.heads]

    @property
    def intermediate_dim(self):
        return [len(layer) for layer in self.ffn_units]

    def then(self, later):
        """The plan doing `self`, then `later` (whose indices refer to the model `self` leaves)."""
        return PrunePlan(
            heads=[[kept[i] for i in idx] for kept, idx in zip(self.heads, later.heads, strict=True)],
            ffn_units=[[kept[i] for i in idx] for kept, idx in zip(self.ffn_units, later.ffn_units, strict=True)],
        )

    def validate(self, config):
        """Checks the plan against an `EncoderConfig`; raises ValueError naming the layer."""
        if len(self.heads) != config.num_layers:
            raise ValueError(f"Plan covers {len(self.heads)} layers; the model has {config.num_layers}.")
        for i, (heads, units) in enumerate(zip(self.heads, self.ffn_units, strict=True)):
            for kind, kept, size in (
                ("head", heads, config.num_heads[i]),
                ("FFN unit", units, config.intermediate_dim[i]),
            ):
                if len(set(kept)) != len(kept) or any(not 0 <= k < size for k in kept):
                    raise ValueError(f"Layer {i}: {kind} indices {kept} must be distinct and in [0, {size}).")

    def to_json(self):
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))
