"""The lineage graph as positions for an inline SVG: one column per generation (depth), parents to
the left of their children. Server-side layout, so the page needs no script."""

from __future__ import annotations

from dataclasses import dataclass

COLUMN, ROW, MAX_NODES = 230, 46, 200


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    kind: str
    x: int
    y: int


@dataclass(frozen=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int


def layout(records) -> tuple[list[Node], list[Edge], int, int]:
    """Nodes, edges, width and height for the newest ``MAX_NODES`` records of a lineage store."""
    records = list(records)[-MAX_NODES:]
    # real data sits at depth 0 like its splits; a real child of real data goes one column right
    column: dict[str, int] = {}
    for record in sorted(records, key=lambda r: r.created_at):
        above = [column[p] for p in record.parents if p in column]
        column[record.id] = max(record.depth, 1 + max(above)) if above else record.depth
    rows: dict[int, int] = {}
    nodes: dict[str, Node] = {}
    for record in sorted(records, key=lambda r: (column[r.id], r.created_at)):
        depth = column[record.id]
        rows[depth] = rows.get(depth, 0) + 1
        name = (record.name or "").rsplit("/", 1)[-1]
        label = f"{record.id[:8]} {name or record.synthesizer or ''}".strip()[:28]
        nodes[record.id] = Node(record.id, label, record.kind, 10 + depth * COLUMN, 10 + (rows[depth] - 1) * ROW)
    edges = [Edge(nodes[p].x + COLUMN - 40, nodes[p].y + 15, node.x, node.y + 15)
             for record in records for node in [nodes[record.id]] for p in record.parents if p in nodes]
    width = 20 + (max(column.values(), default=0) + 1) * COLUMN
    height = 20 + max(rows.values(), default=0) * ROW
    return list(nodes.values()), edges, width, height
