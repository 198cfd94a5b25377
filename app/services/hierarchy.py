"""The sales hierarchy at a day, as a tree (org chart, GET /api/v1/hierarchy/)."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.domain.hierarchy import Hierarchy, LevelEntry
from app.extensions import db
from app.models.intermediaries import Intermediary, IntermediaryLevel
from app.models.products import CareerLevel
from app.security.scope import scope_filter


def load_hierarchy() -> Hierarchy:
    rows = db.session.execute(select(
        IntermediaryLevel.intermediary_id, IntermediaryLevel.valid_from,
        IntermediaryLevel.career_level_id, IntermediaryLevel.supervisor_id,
        IntermediaryLevel.id)).all()
    return Hierarchy(LevelEntry(*r) for r in rows)


def hierarchy_tree(day: date) -> list[dict]:
    """Roots of the hierarchy at `day`, each node {"id", "name", "career_level",
    "children"}, restricted to the intermediaries the caller may see (a node
    whose supervisor is hidden becomes a root)."""
    stmt = select(Intermediary.id, Intermediary.name)
    condition = scope_filter(Intermediary.company_id)
    if condition is not None:
        stmt = stmt.where(condition)
    names = dict(db.session.execute(stmt).all())
    levels = {lid: {"rank": rank, "name": name} for lid, rank, name in db.session.execute(
        select(CareerLevel.id, CareerLevel.rank, CareerLevel.name)).all()}
    hierarchy = load_hierarchy()
    nodes: dict[int, dict] = {}
    roots: list[dict] = []
    entries = []
    for person in names:
        entry = hierarchy.entry_at(person, day)
        if entry is None:
            continue
        nodes[person] = {"id": person, "name": names[person],
                         "career_level": levels.get(entry.level_id), "children": []}
        entries.append(entry)
    # A visible supervisor without an entry of its own at that day heads a tree.
    for entry in entries:
        sup = entry.supervisor_id
        if sup is not None and sup not in nodes and sup in names:
            nodes[sup] = {"id": sup, "name": names[sup], "career_level": None, "children": []}
            roots.append(nodes[sup])
    for entry in entries:
        node = nodes[entry.intermediary_id]
        parent = nodes.get(entry.supervisor_id) if entry.supervisor_id else None
        (parent["children"] if parent is not None else roots).append(node)
    sort_key = lambda n: (n["name"] or "").lower()  # noqa: E731
    roots.sort(key=sort_key)
    for node in nodes.values():
        node["children"].sort(key=sort_key)
    return roots
