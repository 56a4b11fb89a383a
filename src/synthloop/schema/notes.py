"""Plain-language notes on a fitted schema: what a user may not expect a model to do with a column.

Shown by ``synthloop fit`` and returned by :func:`synthloop.workflows.fit_table`, so every front end
says the same thing.
"""

from __future__ import annotations

#: Above this many levels a categorical column is worth a note: it may really be an id or free text.
MANY_LEVELS = 1000


def schema_notes(schema) -> list[str]:
    """Plain-language notes on columns a user may not expect a model to treat the way it does."""
    notes = []
    for column in schema.columns:
        if column.kind == "constant" and column.value is None:
            notes.append(f"column '{column.name}' is entirely missing: it is copied as empty, not learned. "
                         "Drop it from the data if it carries nothing.")
        elif column.kind == "constant":
            notes.append(f"column '{column.name}' always holds {column.value!r}: it is copied, not learned.")
        elif column.kind == "id":
            notes.append(f"column '{column.name}' is unique per row: treated as an id and regenerated, not learned "
                         f"(override with: synthloop schema infer DATA --kind '{column.name}=categorical').")
        elif column.kind == "categorical" and len(column.categories or ()) > MANY_LEVELS:
            notes.append(f"column '{column.name}' has {len(column.categories or ()):,} categories: rare levels are "
                         "hard to learn and may leak individual rows. If it identifies rows, declare it an id "
                         f"(--kind '{column.name}=id'); otherwise consider grouping rare levels.")
    return notes
