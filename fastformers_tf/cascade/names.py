"""The names a cascade setting takes, in one module light enough for the recipe and the tools' flags.

`CONFIDENCES`: how sure a stage is of a text (`runtime.cascade.CONFIDENCE`
computes them); `RULES`: which thresholds count as within budget
(`cascade.thresholds.within_budget`). The first of each is the default of
the recipe and the tools.
"""

CONFIDENCES = ("max_prob", "margin")
RULES = ("stable", "cheapest")
