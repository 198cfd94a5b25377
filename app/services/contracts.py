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
    from app.domain.applications import SUBMITTED
    from app.domain.errors import TransitionError
    from app.security.scope import current_scope

    old = application.status.value
    if to not in ApplicationStatus.__members__:
        from app.domain.errors import InvalidChoiceError
        raise InvalidChoiceError("to")
    if current_scope().principal and to != SUBMITTED:
        # a broker submits; the pool reviews, accepts, rejects
        raise TransitionError("to", old=old, new=to)
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


def convert_contract(contract: Contract, scope) -> Contract:
    """Conversion (domain.md, "Applications and contracts"): an intermediary
    copies a pool contract of its own into its broker firm's own contracts.
    The customer is matched in the firm's customers (name, first name, date
    of birth) or copied; the copy names its source. Converting again returns
    the same copy (idempotent)."""
    from sqlalchemy import select

    from app.domain.errors import N_, InvalidValueError
    from app.models.crm import Customer

    firm = scope.home_company_id
    if scope.intermediary_id is None or contract.intermediary_id != scope.intermediary_id:
        raise InvalidValueError("contract", N_(
            "Only the contract's intermediary converts it into its own company."))
    if firm is None:
        raise InvalidValueError("contract", N_(
            "The intermediary belongs to no broker firm that could hold own contracts."))
    if contract.managing_company_id == firm or contract.source_contract_id is not None:
        raise InvalidValueError("contract", N_("This contract is already an own contract."))
    done = db.session.execute(select(Contract).where(
        Contract.managing_company_id == firm,
        Contract.source_contract_id == contract.id)).scalar()
    if done is not None:
        return done
    source = contract.customer
    customer = db.session.execute(select(Customer).where(
        Customer.company_id == firm, Customer.name == source.name,
        Customer.first_name.is_(None) if source.first_name is None
        else Customer.first_name == source.first_name,
        Customer.birth_date.is_(None) if source.birth_date is None
        else Customer.birth_date == source.birth_date)).scalars().first()
    if customer is None:
        customer = Customer(
            company_id=firm, name=source.name, first_name=source.first_name,
            birth_date=source.birth_date, street=source.street, postcode=source.postcode,
            city=source.city, country=source.country, email=source.email,
            phone=source.phone, intermediary_id=scope.intermediary_id)
        db.session.add(customer)
        db.session.flush()
    copy = Contract(
        policy_number=contract.policy_number, insurer_id=contract.insurer_id,
        customer=customer, product_id=contract.product_id,
        line_of_business_id=contract.line_of_business_id,
        intermediary_id=contract.intermediary_id, start_date=contract.start_date,
        term_months=contract.term_months, payment_frequency=contract.payment_frequency,
        premium=contract.premium, premium_supplementary=contract.premium_supplementary,
        valuation_sum=contract.valuation_sum, status=contract.status,
        policed_on=contract.policed_on, cancelled_on=contract.cancelled_on,
        managing_company_id=firm, source_contract_id=contract.id)
    db.session.add(copy)
    db.session.commit()
    return copy
