"""Provisionskontrolle: expected commission per contract and month (from the
pool's agreements with the insurers) against the receipts."""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import func, or_, select

from app.domain.reconciliation import Agreement, ContractTerms, expected, reason
from app.domain.settlement import parse_period
from app.extensions import db
from app.models.contracts import Contract
from app.models.crm import Company, Customer
from app.models.ledger import Receipt
from app.models.products import InsurerAgreement
from app.security.scope import scope_condition

KINDS = ("AP", "AP_ZV", "FP")


def _agreements() -> dict:
    out = {}
    for a in db.session.execute(select(InsurerAgreement)).scalars():
        out[(a.insurer_id, a.product_id, a.line_of_business_id)] = Agreement(
            a.ap_rate, a.ap_zv_rate, a.fp_rate)
    return out


def _agreement_for(agreements: dict, contract) -> Agreement | None:
    insurer, product, line = contract.insurer_id, contract.product_id, contract.line_of_business_id
    return (agreements.get((insurer, product, None)) or agreements.get((insurer, None, line))
            or agreements.get((insurer, None, None)))


def reconcile(period: str, insurer_id: int | None = None) -> list[dict]:
    """One row per contract and kind with something expected or received in
    the month: expected, received, difference, reason code."""
    first, last = parse_period(period)
    agreements = _agreements()
    received: dict[tuple, Decimal] = defaultdict(Decimal)
    stmt = (select(Receipt.contract_id, Receipt.kind, func.sum(Receipt.amount))
            .where(Receipt.value_date >= first, Receipt.value_date <= last)
            .group_by(Receipt.contract_id, Receipt.kind))
    for contract_id, kind, amount in db.session.execute(stmt):
        received[(contract_id, getattr(kind, "value", kind))] += Decimal(amount)
    received_ids = {c for c, _ in received}
    query = (select(Contract, Customer.name, Company.name)
             .join(Customer, Customer.id == Contract.customer_id)
             .join(Company, Company.id == Contract.insurer_id)
             .where(Contract.start_date <= last,
                    or_(Contract.cancelled_on.is_(None), Contract.cancelled_on >= first)))
    condition = scope_condition(Contract)
    if condition is not None:
        query = query.where(condition)
    if insurer_id:
        query = query.where(Contract.insurer_id == insurer_id)
    rows = []
    for contract, customer, insurer in db.session.execute(query.order_by(
            Company.name, Contract.policy_number)):
        agreement = _agreement_for(agreements, contract)
        due = {}
        if agreement is not None:
            due = expected(ContractTerms(
                contract.start_date, contract.payment_frequency.value, contract.premium,
                contract.premium_supplementary or Decimal(0), contract.policed_on,
                contract.cancelled_on), agreement, first)
        if not due and contract.id not in received_ids:
            continue
        for kind in KINDS:
            exp, got = due.get(kind), received.get((contract.id, kind))
            if exp is None and got is None:
                continue
            rows.append({
                "contract": contract.id, "policy_number": contract.policy_number,
                "insurer": insurer, "insurer_id": contract.insurer_id, "customer": customer,
                "kind": kind, "expected": exp or Decimal("0.00"),
                "received": got or Decimal("0.00"),
                "difference": (got or Decimal(0)) - (exp or Decimal(0)),
                "reason": reason(exp, got), "agreement": agreement is not None})
    return rows


def claims_csv(period: str, insurer_id: int | None = None) -> bytes:
    """What to claim from the insurers: every missing or short receipt."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["Versicherer", "Vers.-Nr.", "Kunde", "Art", "Monat", "Erwartet",
                     "Erhalten", "Differenz", "Grund"])
    for row in reconcile(period, insurer_id):
        if row["reason"] in ("NO_RECEIPT", "AMOUNT_DIFFERS") and row["difference"] < 0:
            writer.writerow([row["insurer"], row["policy_number"], row["customer"], row["kind"],
                             period, _de(row["expected"]), _de(row["received"]),
                             _de(row["difference"]), row["reason"]])
    return out.getvalue().encode("utf-8-sig")


def _de(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")
