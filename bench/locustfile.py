"""Month end in the broker extranet, for locust: each broker (gp00001, gp00002,
... of the large demo pool) logs in, opens its overview and its statements,
opens its newest statement and downloads its credit note (PDF), logs out,
and after BENCH_ITERATIONS such visits stops by itself.

`bench/bench_load.py` runs this with 200 brokers against a gunicorn stack it
starts and prints the figures; to aim it at a running stack by hand:

    SECRET_KEY=<the server's> .venv/bin/locust -f bench/locustfile.py --headless \\
        --host http://127.0.0.1:8000 -u 200 -r 10 -t 5m

The passwords are `demo_password(username)`, derived from SECRET_KEY: the same
SECRET_KEY as the server's must be in the environment (or in instance/secret_key).
Every broker sends its own X-Forwarded-For address (10.77.x.y), as a reverse
proxy would: the server needs POOL_PROXY_FIX=1, or all 200 logins count
against one address's login rate limit.

Settings (environment): BENCH_USERS (200: brokers that visit; locust's -u
should be the same), BENCH_ITERATIONS (1: visits each), BENCH_THINK (5: mean
seconds between a broker's clicks, uniform in 0.5×..1.5×; 0 for none),
BENCH_BROKERS (200: logins gp00001 .. gp00200, handed out in turn).
"""
from __future__ import annotations

import itertools
import os
import re

from locust import FastHttpUser, task
from locust.exception import StopUser

ITERATIONS = int(os.environ.get("BENCH_ITERATIONS", "1"))
#: brokers that visit at all: locust starts new users in place of finished ones
#: while it is still spawning; those above this number stop at once
USERS = int(os.environ.get("BENCH_USERS", "200"))
THINK = float(os.environ.get("BENCH_THINK", "5"))
BROKERS = int(os.environ.get("BENCH_BROKERS", "200"))

#: request names: the pages, the login form's POST (password hashing) and the PDF
LOGIN_FORM, LOGIN_POST, OVERVIEW, STATEMENTS, STATEMENT, PDF, LOGOUT = (
    "GET /login/", "POST /login/", "GET /my/", "GET /my/statements/",
    "GET /my/statements/<id>", "GET /my/statements/<id>/pdf", "GET /logout/")
PAGES = (LOGIN_FORM, OVERVIEW, STATEMENTS, STATEMENT, LOGOUT)

_numbers = itertools.count(0)
_passwords: dict[str, str] = {}
#: brokers without a statement to download (withheld: no tax number)
without_statement: set[str] = set()


def reset() -> None:
    """Hand out the logins from gp00001 again (after a warm-up)."""
    global _numbers
    _numbers = itertools.count(0)
    without_statement.clear()


def password(username: str) -> str:
    """demo_password(username) with this environment's SECRET_KEY."""
    if username not in _passwords:
        from flask import Flask

        from app.services.demo import demo_password
        from config import Config

        app = Flask("bench")
        app.config["SECRET_KEY"] = Config.SECRET_KEY
        with app.app_context():
            _passwords[username] = demo_password(username)
    return _passwords[username]


def _think(user) -> float:
    return THINK * (0.5 + user._random.random()) if THINK > 0 else 0


class Broker(FastHttpUser):
    """One broker at month end."""

    network_timeout = 60.0
    connection_timeout = 60.0

    def wait_time(self):
        return _think(self)

    def on_start(self):
        import random

        self.ordinal = next(_numbers)
        number = self.ordinal % BROKERS + 1
        self.username = f"gp{number:05d}"
        self.address = f"10.77.{number // 250}.{number % 250 + 1}"
        self._random = random.Random(number)
        self.visits = 0

    def _get(self, path, name, **kw):
        return self.client.get(path, name=name, headers={"X-Forwarded-For": self.address},
                               catch_response=True, **kw)

    def _pause(self):
        seconds = _think(self)
        if seconds:
            import gevent

            gevent.sleep(seconds)

    @task
    def month_end(self):
        if self.visits >= ITERATIONS or self.ordinal >= USERS:
            raise StopUser()
        self.visits += 1
        self.client.cookiejar.clear()
        with self._get("/login/", LOGIN_FORM) as resp:
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', resp.text or "")
            if resp.status_code != 200 or token is None:
                resp.failure(f"login form: {resp.status_code}")
                return
        self._pause()
        with self.client.post("/login/", name=LOGIN_POST, catch_response=True,
                              allow_redirects=False,
                              headers={"X-Forwarded-For": self.address},
                              data={"username": self.username,
                                    "password": password(self.username),
                                    "csrf_token": token.group(1)}) as resp:
            where = resp.headers.get("Location", "")
            if resp.status_code != 302 or "/login" in where:
                resp.failure(f"login refused: {resp.status_code} {where}")
                return
        with self._get("/my/", OVERVIEW) as resp:
            if resp.status_code != 200 or "/my/statements/" not in (resp.text or ""):
                resp.failure(f"overview: {resp.status_code}")
                return
        self._pause()
        with self._get("/my/statements/", STATEMENTS) as resp:
            page = resp.text or ""
            if resp.status_code != 200 or 'id="statements"' not in page:
                resp.failure(f"statements: {resp.status_code}")
                return
        pdfs = re.findall(r'href="(/my/statements/(\d+)/pdf)"', page)
        if not pdfs:
            without_statement.add(self.username)
        else:
            # The list is newest first. A statement page of its own, where there is one.
            pdf, pk = pdfs[0]
            detail = re.search(rf'href="(/my/statements/{pk}/?)"', page)
            if detail:
                self._pause()
                with self._get(detail.group(1), STATEMENT) as resp:
                    if resp.status_code != 200:
                        resp.failure(f"statement: {resp.status_code}")
                        return
                    pdf = (re.search(rf'href="(/my/statements/{pk}/pdf)"', resp.text or "")
                           or re.match(r"(.*)", pdf)).group(1)
            self._pause()
            with self._get(pdf, PDF) as resp:
                if resp.status_code != 200 or not (resp.content or b"").startswith(b"%PDF"):
                    resp.failure(f"pdf: {resp.status_code} "
                                 f"{resp.headers.get('Content-Type')}")
                    return
        self._pause()
        with self._get("/logout/", LOGOUT, allow_redirects=False) as resp:
            if resp.status_code not in (200, 302):
                resp.failure(f"logout: {resp.status_code}")
