"""The ledger's hash chain in the database: sealing new bookings, verifying.

Every path that adds bookings seals them in its own transaction:

- ORM objects (a single receipt, a cancellation, corrections, Fixum,
  reserve releases): a `before_insert` event hashes each booking as the
  flush inserts it, `after_flush` checks the order and moves the head;
- the batch writer (imports, a month's receipts): `seal_batch` hashes the
  rows before they are copied in.

The chain's head (the last booking's id and hash) is one row of
`ledger_head`. A transaction that books updates it first, which locks it
until commit (PostgreSQL: the row; SQLite: the database), so bookings
are chained in the order of their ids even with several workers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from app.domain import chain as rules


def lock_head(connection) -> tuple[int, str]:
    """Lock the chain's head for this transaction; (last booking id, hash)."""
    connection.execute(text("UPDATE ledger_head SET booking_id = booking_id WHERE id = 1"))
    row = connection.execute(text("SELECT booking_id, hash FROM ledger_head WHERE id = 1")).first()
    if row is None:
        raise RuntimeError("ledger_head is missing: run `flask pool init` (migration 0018)")
    return int(row[0]), row[1]


def move_head(connection, booking_id: int, hash_: str) -> None:
    connection.execute(text("UPDATE ledger_head SET booking_id = :id, hash = :hash WHERE id = 1"),
                       {"id": booking_id, "hash": hash_})


def seal_batch(connection, rows, receipt_base: int = 0) -> list[str]:
    """Hashes for batch rows (app/services/ledger.py BOOKING_COLUMNS order)
    about to be inserted after every booking there is; the head is locked
    until the caller's transaction ends. The caller inserts them in this
    order and then calls `move_head` with the last new id."""
    _, previous = lock_head(connection)
    return rules.batch_links(previous, rows, receipt_base)


# ORM path ---------------------------------------------------------------

@dataclass
class _Flush:
    previous: str
    after_id: int
    sealed: list = field(default_factory=list)


def _values(booking) -> tuple:
    return tuple(getattr(booking, column) for column in rules.CHAIN_COLUMNS)


def _before_insert(mapper, connection, target) -> None:
    from sqlalchemy.orm import object_session

    session = object_session(target)
    state = session.info.get("pool_chain")
    if state is None:
        after_id, previous = lock_head(connection)
        state = session.info["pool_chain"] = _Flush(previous, after_id)
    target.row_hash = rules.link(state.previous, _values(target))
    state.previous = target.row_hash
    state.sealed.append(target)


def _after_flush(session, flush_context) -> None:
    state = session.info.pop("pool_chain", None)
    if state is None or not state.sealed:
        return
    ids = [b.id for b in state.sealed]
    if ids != sorted(ids) or ids[0] <= state.after_id:
        # the database numbered them in another order than they were
        # hashed: refuse rather than write a broken chain
        raise RuntimeError("bookings were not inserted in the order they were chained")
    move_head(session.connection(), ids[-1], state.previous)


def _reset(session, *args) -> None:
    # what a failed flush had begun is gone with its rollback
    session.info.pop("pool_chain", None)


_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from app.models.ledger import Booking

    event.listen(Booking, "before_insert", _before_insert)
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "before_flush", _reset)
    event.listen(Session, "after_rollback", _reset)
    _installed = True


# Verifying --------------------------------------------------------------

def iter_chain_rows(connection, batch: int = 50_000):
    """(id, row_hash, *CHAIN_COLUMNS) of every booking in id order, read in
    id ranges through the primary key."""
    columns = ", ".join(("id", "row_hash") + rules.CHAIN_COLUMNS)
    last = 0
    while True:
        rows = connection.execute(text(
            f"SELECT {columns} FROM booking WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last, "n": batch}).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]
