"""Builders of test rows and logins (call inside the app fixture)."""
from __future__ import annotations

import itertools

from flask import current_app

from app.domain.access import ADMIN
from app.extensions import db
from app.models.crm import Company, CompanyKind, Customer, Staff
from app.models.intermediaries import Intermediary, IntermediaryStatus
from app.services.crm import hash_password

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def make_company(name=None, kind=CompanyKind.BROKER_FIRM, parent=None, **kw):
    company = Company(name=name or f"Firma {next(_seq)}", kind=kind, parent=parent, **kw)
    db.session.add(company)
    db.session.commit()
    return company


def make_user(role, username=None, password=PASSWORD):
    sm = current_app.appbuilder.sm
    username = username or f"user{next(_seq)}"
    user = sm.user_model(username=username, first_name="Test", last_name=username,
                         email=f"{username}@example.com", active=True,
                         password=hash_password(password), roles=[sm.find_role(role)])
    db.session.add(user)
    db.session.commit()
    return user


def make_staff(company, role, username=None, **kw):
    user = make_user(role, username)
    staff = Staff(first_name="Test", last_name=user.username, company=company,
                  email=user.email, user=user, **kw)
    db.session.add(staff)
    db.session.commit()
    return staff


def make_admin(username="root"):
    return make_user(ADMIN, username)


def make_customer(company, name=None, **kw):
    customer = Customer(name=name or f"Kunde {next(_seq)}", company=company, **kw)
    db.session.add(customer)
    db.session.commit()
    return customer


def make_intermediary(company, name=None, status=IntermediaryStatus.ACTIVE,
                      tax_number="12/345/67890"):
    person = Intermediary(name=name or f"Vermittler {next(_seq)}", company=company,
                          status=status, tax_number=tax_number)
    db.session.add(person)
    db.session.commit()
    return person


def ui_login(client, username, password=PASSWORD):
    resp = client.post("/login/", data={"username": username, "password": password})
    assert resp.status_code == 302, resp.data[:500]
    return client


def api_token(client, username, password=PASSWORD):
    resp = client.post("/api/v1/security/login", json={
        "username": username, "password": password, "provider": "db"})
    assert resp.status_code == 200, resp.json
    return {"Authorization": f"Bearer {resp.json['access_token']}"}
