"""The ``init_from`` graph: every walk of it in one place (validation, plan order, ``--only``, the
comparison's chain tables). ``parent_of`` maps an experiment's name to the experiment it starts from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter


def lineage(name: str, parent_of: Mapping[str, str | None]) -> list[str]:
    """``name``, its parent, the parent's parent …, stopping before a name would repeat (a cycle)
    or at an experiment without a parent."""
    path: list[str] = []
    node: str | None = name
    while node and node not in path:
        path.append(node)
        node = parent_of.get(node)
    return path


def cycles(names: Iterable[str], parent_of: Mapping[str, str | None]) -> dict[str, list[str]]:
    """For each experiment whose chain never ends: its walk up to the first repeated name
    (``["a", "b", "a"]``); empty when the graph is acyclic (found by ``graphlib``)."""
    names = list(names)
    try:
        TopologicalSorter({n: [p] if (p := parent_of.get(n)) else [] for n in names}).prepare()
        return {}
    except CycleError:
        found = {}
        for name in names:
            path = lineage(name, parent_of)
            end = parent_of.get(path[-1])
            if end in path:
                found[name] = [*path, end]
        return found


def parents_first(names: Iterable[str], parent_of: Mapping[str, str | None]) -> list[str]:
    """``names`` in their order, except that a child comes after its parent (of those in
    ``names``); raises :class:`graphlib.CycleError` on a cycle."""
    names = list(names)
    position = {n: i for i, n in enumerate(names)}
    sorter = TopologicalSorter({n: [p] if (p := parent_of.get(n)) in position else [] for n in names})
    sorter.prepare()
    ready, order = set(sorter.get_ready()), []
    while ready:
        name = min(ready, key=position.__getitem__)  # the first ready one in the given order
        ready.remove(name)
        order.append(name)
        sorter.done(name)
        ready.update(sorter.get_ready())
    return order


def chains(names: Iterable[str], parent_of: Mapping[str, str | None]) -> list[list[str]]:
    """Every path from a root (an experiment without a parent that has children) to a leaf, in
    the order of ``names``."""
    names = list(names)
    children: dict[str, list[str]] = {}
    for name in names:
        if parent_of.get(name):
            children.setdefault(parent_of[name], []).append(name)

    def paths(name: str) -> list[list[str]]:
        if name not in children:
            return [[name]]
        return [[name, *rest] for child in children[name] for rest in paths(child)]

    return [path for root in names if not parent_of.get(root) and root in children for path in paths(root)]
