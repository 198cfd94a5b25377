"""Use cases of applications and contracts."""
from __future__ import annotations

from datetime import date

from app.domain.applications import ACCEPTED, check_transition
from app.extensions import db
from app.models.contracts import Application, ApplicationStatus, Contract
from app.services.crm import pool_company


def transition_application(application: Application, to: str,
                           policy_number: str | None = None) -> Contract | None:
    """Change an application's status along the workflow table. ACCEPTED creates
    the contract in the same transaction (commits once)."""
    old = application.status.value
    if to not in ApplicationStatus.__members__:
        from app.domain.errors import InvalidChoiceError
        raise InvalidChoiceError("to")
    check_transition(old, to, policy_number)
    application._transition_checked = True
    application.status = ApplicationStatus(to)
    contract = None
    if to == ACCEPTED:
        contract = Contract(
            policy_number=policy_number.strip(), customer=application.customer,
            product=application.product, intermediary=application.intermediary,
            combination=application.combination, premium=application.premium,
            start_date=application.start_date or date.today(),
            term_months=application.term_months, policed_on=date.today(),
            managing_company=pool_company())
        db.session.add(contract)
        application.contract = contract
        db.session.flush()
        from app.services.ledger import bookings_for_policing

        db.session.add_all(bookings_for_policing(contract))
    db.session.commit()
    return contract
