"""The sales hierarchy at a day, as a tree (org chart, GET /api/v1/hierarchy/)."""
from __future__ import annotations

import gc
from datetime import date

from sqlalchemy import and_, func, select
from sqlalchemy.dialects.postgresql import distinct_on

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


def entries_at(day: date):
    """(intermediary id, name, career level id, supervisor id) of every visible
    intermediary's entry valid at `day`, in one set-based query."""
    columns = (Intermediary.id, Intermediary.name, IntermediaryLevel.career_level_id,
               IntermediaryLevel.supervisor_id)
    if db.engine.dialect.name == "postgresql":
        # DISTINCT ON keeps the latest entry per intermediary in one sort:
        # about half the time of the portable GROUP BY self-join there.
        stmt = (select(*columns)
                .join(IntermediaryLevel, IntermediaryLevel.intermediary_id == Intermediary.id)
                .where(IntermediaryLevel.valid_from <= day)
                .ext(distinct_on(Intermediary.id))
                .order_by(Intermediary.id, IntermediaryLevel.valid_from.desc()))
    else:
        latest = (select(IntermediaryLevel.intermediary_id,
                         func.max(IntermediaryLevel.valid_from).label("valid_from"))
                  .where(IntermediaryLevel.valid_from <= day)
                  .group_by(IntermediaryLevel.intermediary_id).subquery())
        stmt = (select(*columns)
                .join(latest, latest.c.intermediary_id == Intermediary.id)
                .join(IntermediaryLevel, and_(
                    IntermediaryLevel.intermediary_id == latest.c.intermediary_id,
                    IntermediaryLevel.valid_from == latest.c.valid_from)))
    condition = scope_filter(Intermediary.company_id)
    if condition is not None:
        stmt = stmt.where(condition)
    # Core execution: plain tuples, none of the ORM's per-row bookkeeping.
    return db.session.connection().execute(stmt).all()


_CACHE: dict = {}
_CACHE_SIZE = 16


def data_version():
    """Changes whenever an intermediary or a hierarchy entry is added, changed
    or removed (count and last change of both tables)."""
    counts = db.session.connection().execute(select(
        select(func.count()).select_from(IntermediaryLevel).scalar_subquery(),
        select(func.max(IntermediaryLevel.changed_on)).scalar_subquery(),
        select(func.count()).select_from(Intermediary).scalar_subquery(),
        select(func.max(Intermediary.changed_on)).scalar_subquery(),
        select(func.count()).select_from(CareerLevel).scalar_subquery(),
        select(func.max(CareerLevel.changed_on)).scalar_subquery(),
    )).one()
    return tuple(counts)


def cached_tree_json(day: date, scope_key, render) -> str:
    """The org chart JSON for (day, scope), rebuilt only when the data changed.
    The hierarchy of a large pool changes a few times a day but is opened
    often, and building 50,000 nodes costs about 0.3 s."""
    key = (day, scope_key, db.engine.url.render_as_string(), data_version())
    body = _CACHE.get(key)
    if body is None:
        body = render()
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = body
    return body


def hierarchy_rows(day: date) -> tuple[dict, list[tuple]]:
    """The hierarchy at `day` flat: ({level id: (rank, name)}, rows) with rows
    (id, name, level id, supervisor id) sorted by name, restricted to the
    intermediaries the caller may see. A supervisor the caller may not see is
    None (its people become roots); a visible supervisor without an entry of
    its own at that day appears with no level, as a root."""
    levels = {lid: (rank, name) for lid, rank, name in db.session.execute(
        select(CareerLevel.id, CareerLevel.rank, CareerLevel.name)).all()}
    # Tens of thousands of rows and tuples: the cyclic GC would scan them again
    # and again while they are built (a third of the time); no cycles here.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        rows = [tuple(r) for r in entries_at(day)]
        present = {r[0] for r in rows}
        missing = {r[3] for r in rows if r[3] is not None and r[3] not in present}
        if missing:
            stmt = select(Intermediary.id, Intermediary.name).where(Intermediary.id.in_(missing))
            condition = scope_filter(Intermediary.company_id)
            if condition is not None:
                stmt = stmt.where(condition)
            extra = db.session.connection().execute(stmt).all()
            rows += [(pid, name, None, None) for pid, name in extra]
            present.update(pid for pid, _ in extra)
        rows = [r if r[3] is None or r[3] in present else (r[0], r[1], r[2], None) for r in rows]
        rows.sort(key=lambda r: ((r[1] or "").lower(), r[0]))
        return levels, rows
    finally:
        if gc_was_on:
            gc.enable()


def hierarchy_tree(day: date, level_as_rank: bool = False) -> list[dict]:
    """Roots of the hierarchy at `day`, each node {"id", "name", "career_level",
    "children"} (see hierarchy_rows), children sorted by name. `career_level`
    is {"rank", "name"}, or the rank alone (the REST API's form), or None."""
    levels, rows = hierarchy_rows(day)
    shown = {lid: rank if level_as_rank else {"rank": rank, "name": name}
             for lid, (rank, name) in levels.items()}
    nodes = {pid: {"id": pid, "name": name, "career_level": shown.get(level), "children": []}
             for pid, name, level, _ in rows}
    roots = []
    for pid, _, _, sup in rows:
        (nodes[sup]["children"] if sup is not None else roots).append(nodes[pid])
    return roots
