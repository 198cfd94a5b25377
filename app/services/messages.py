"""Messages between an intermediary and the pool: use cases, one transaction each.

A thread belongs to one intermediary and is optionally about one of its
contracts or applications. Pool staff write `from_pool` messages, the
intermediary's login the others. Read state is per user (`MessageRead`):
a message is unread for a user when it comes from the other side and is
newer than the user's `read_until` for its thread.

Visibility of everything referenced is checked here through the caller's
scope (app/security/scope.py); the session guard (app/models/guards.py)
refuses every write outside it as well.
"""
from __future__ import annotations

from flask import has_request_context
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError

from app.domain.errors import (
    N_,
    InvalidValueError,
    OutOfScopeError,
    RequiredFieldError,
)
from app.extensions import db
from app.models.contracts import Application, Contract
from app.models.intermediaries import CombinationMember, Intermediary
from app.models.messages import Message, MessageRead, MessageThread
from app.models.mixins import _now
from app.security.scope import current_scope, scope_condition

SUBJECT_MAX = 200
BODY_MAX = 10_000


class TooLongError(InvalidValueError):
    message = N_("At most %(max)d characters.")


def _visible(model, pk):
    """The row with this id if the caller may see it, else None."""
    if pk is None:
        return None
    if isinstance(pk, bool):
        return None
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    if not 0 < pk <= 2**31 - 1:
        return None
    stmt = select(model).where(model.id == pk)
    condition = scope_condition(model)
    if condition is not None:
        stmt = stmt.where(condition)
    return db.session.execute(stmt).scalar()


def visible_threads():
    """SELECT of the threads the caller may see."""
    condition = scope_condition(MessageThread)
    stmt = select(MessageThread)
    return stmt if condition is None else stmt.where(condition)


def get_thread(pk) -> MessageThread | None:
    return _visible(MessageThread, pk)


def _text(value, field: str, limit: int) -> str:
    text = (value if isinstance(value, str) else "").strip()
    if not text:
        raise RequiredFieldError(field)
    if len(text) > limit:
        raise TooLongError(field, max=limit)
    return text


def _belongs_to(model, intermediary_id: int):
    """Condition: the contract/application is the intermediary's own (itself
    or a combination it is a member of)."""
    own = model.intermediary_id == intermediary_id
    if hasattr(model, "combination_id"):
        own = or_(own, model.combination_id.in_(
            select(CombinationMember.combination_id)
            .where(CombinationMember.intermediary_id == intermediary_id)))
    return own


def _reference(model, pk, field: str, intermediary_id: int):
    """A contract or application the caller may see and that belongs to the
    thread's intermediary; anything else is refused like a missing id."""
    if pk in (None, ""):
        return None
    row = _visible(model, pk)
    if row is None:
        raise OutOfScopeError(field)
    own = db.session.execute(select(model.id).where(
        model.id == row.id, _belongs_to(model, intermediary_id))).scalar()
    if own is None:
        raise OutOfScopeError(field)
    return row


def own_references(intermediary_id: int, limit: int = 200):
    """(contracts, applications) of an intermediary visible to the caller,
    for the choice of what a new thread is about."""
    contracts = db.session.execute(
        select(Contract).where(_belongs_to(Contract, intermediary_id),
                               *_cond(Contract))
        .order_by(Contract.policy_number, Contract.id).limit(limit)).scalars().all()
    applications = db.session.execute(
        select(Application).where(_belongs_to(Application, intermediary_id),
                                  *_cond(Application))
        .order_by(Application.id.desc()).limit(limit)).scalars().all()
    return contracts, applications


def _cond(model):
    condition = scope_condition(model)
    return () if condition is None else (condition,)


def _check_side(from_pool: bool) -> None:
    """Staff write as the pool, an intermediary's login as the intermediary."""
    if not has_request_context():
        return                          # CLI, imports: either side
    scope = current_scope()
    as_intermediary = scope.principal == "intermediary"
    if scope.extranet_only and not as_intermediary:
        raise OutOfScopeError("intermediary")   # a customer, an unlinked login
    if bool(from_pool) == as_intermediary:
        raise OutOfScopeError("thread")


def _attach(message: Message, attachment) -> None:
    """Store the attachment (filename, bytes) with the message; commits the
    whole pending work in one transaction (store_document commits)."""
    from app.services.documents import store_document

    filename, data = attachment
    store_document("message", message, filename, data)


def _commit(message: Message, attachment) -> None:
    try:
        if attachment is not None:
            _attach(message, attachment)
        else:
            db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def start_thread(intermediary_id, subject, body, contract_id=None, application_id=None, *,
                 from_pool: bool, sender_user_id: int | None,
                 attachment: tuple[str | None, bytes] | None = None) -> MessageThread:
    """A new thread with its first message (and attachment); one commit."""
    _check_side(from_pool)
    scope = current_scope()
    if scope.principal == "intermediary":
        if intermediary_id in (None, ""):
            intermediary_id = scope.intermediary_id
        if str(intermediary_id) != str(scope.intermediary_id):
            raise OutOfScopeError("intermediary")
    if intermediary_id in (None, ""):
        raise RequiredFieldError("intermediary")
    intermediary = _visible(Intermediary, intermediary_id)
    if intermediary is None:
        raise OutOfScopeError("intermediary")
    subject = _text(subject, "subject", SUBJECT_MAX)
    body = _text(body, "body", BODY_MAX)
    if contract_id not in (None, "") and application_id not in (None, ""):
        raise InvalidValueError("application", N_(
            "A thread is about a contract or an application, not both."))
    contract = _reference(Contract, contract_id, "contract", intermediary.id)
    application = _reference(Application, application_id, "application", intermediary.id)
    now = _now()
    thread = MessageThread(intermediary_id=intermediary.id, subject=subject,
                           contract_id=contract.id if contract else None,
                           application_id=application.id if application else None,
                           last_message_on=now, created_on=now, changed_on=now)
    message = Message(thread=thread, body=body, from_pool=bool(from_pool),
                      sender_id=sender_user_id, created_on=now)
    db.session.add_all([thread, message])
    _commit(message, attachment)
    return thread


def reply(thread: MessageThread, body, *, from_pool: bool, sender_user_id: int | None,
          attachment: tuple[str | None, bytes] | None = None) -> Message:
    """A message in an existing thread (and its attachment); one commit."""
    _check_side(from_pool)
    if thread is None or _visible(MessageThread, thread.id) is None:
        raise OutOfScopeError("thread")
    body = _text(body, "body", BODY_MAX)
    now = _now()
    message = Message(thread=thread, body=body, from_pool=bool(from_pool),
                      sender_id=sender_user_id, created_on=now)
    thread.last_message_on = now
    db.session.add(message)
    _commit(message, attachment)
    return message


def mark_read(thread: MessageThread, user_id: int) -> None:
    """The user has read the thread up to its newest message; one commit."""
    if thread is None or _visible(MessageThread, thread.id) is None:
        raise OutOfScopeError("thread")
    newest = db.session.execute(select(func.max(Message.created_on))
                                .where(Message.thread_id == thread.id)).scalar()
    if newest is None:
        return
    row = db.session.execute(select(MessageRead).where(
        MessageRead.thread_id == thread.id, MessageRead.user_id == user_id)).scalar()
    if row is not None and row.read_until >= newest:
        return
    try:
        if row is None:
            db.session.add(MessageRead(thread_id=thread.id, user_id=user_id,
                                       read_until=newest))
        else:
            row.read_until = newest
        db.session.commit()
    except IntegrityError:
        # A concurrent request of the same user marked it first.
        db.session.rollback()
        row = db.session.execute(select(MessageRead).where(
            MessageRead.thread_id == thread.id, MessageRead.user_id == user_id)).scalar()
        if row is None:
            raise
        if row.read_until < newest:
            row.read_until = newest
            db.session.commit()


def unread_select(user_id: int, from_pool: bool):
    """FROM message (visible, from the other side, newer than read_until)."""
    read = MessageRead.__table__.alias("mr")
    stmt = (select(Message.thread_id.label("thread_id"), Message.id.label("id"))
            .join(read, and_(read.c.thread_id == Message.thread_id,
                             read.c.user_id == user_id), isouter=True)
            .where(Message.from_pool.is_(from_pool),
                   or_(read.c.read_until.is_(None), Message.created_on > read.c.read_until)))
    condition = scope_condition(MessageThread)
    if condition is not None:
        stmt = stmt.where(Message.thread_id.in_(select(MessageThread.id).where(condition)))
    return stmt


def reads_from_pool() -> bool:
    """The side whose messages the caller reads: staff read the
    intermediaries' (from_pool False), an intermediary the pool's."""
    return current_scope().principal == "intermediary"


def unread_count(user_id: int | None = None) -> int:
    """Unread messages of the current user in all threads it may see (one COUNT)."""
    scope = current_scope()
    user_id = scope.user_id if user_id is None else user_id
    if user_id is None or scope.principal == "customer":
        return 0
    sub = unread_select(user_id, reads_from_pool()).subquery()
    return db.session.execute(select(func.count()).select_from(sub)).scalar() or 0


def unread_by_thread(thread_ids, user_id: int | None = None) -> dict[int, int]:
    """{thread id: unread messages} of the current user for these threads."""
    ids = [i for i in thread_ids if i is not None]
    if not ids:
        return {}
    scope = current_scope()
    user_id = scope.user_id if user_id is None else user_id
    if user_id is None:
        return {}
    sub = unread_select(user_id, reads_from_pool()).where(Message.thread_id.in_(ids)).subquery()
    rows = db.session.execute(select(sub.c.thread_id, func.count())
                              .group_by(sub.c.thread_id)).all()
    return {tid: n for tid, n in rows}
