"""Benchmark: staff and extranet pages with the large demo pool loaded.

Target (issue 9): list, search and detail pages of staff and of the broker
extranet answer with a p95 under 150 ms with the large pool (50,000
intermediaries, 1,000,000 contracts, 500,000 customers, about 5,000,000
bookings). Each page is requested at least 50 times, each time with another
id, page or search term (deterministic), through the Flask test client:
as `gpstaff` (Pool staff) and as the extranet logins gp00001... Every answer
must be 200.

Runs on the database DATABASE_URL names, or on the SQLite file given by
--sqlite. Nothing is dropped: the schema is brought to the newest migration
(`pool init`), the large pool is built with --build SCALE when it is not there
yet (as `pool demo-data --size large --scale SCALE`), and a final settlement of
2026-10 is made when there is none (`pool settle --period 2026-10 --final`).
After any of these, VACUUM ANALYZE (PostgreSQL) or ANALYZE (SQLite). The
logins' passwords are `demo_password(username)`, derived from SECRET_KEY: run
with the SECRET_KEY the pool was built with (unset: the one `flask` uses,
instance/secret_key). The first requests of a page are not timed; the credit
notes requested are rendered (and stored) then, as `pool render-statements`
does for a run. Accounts: the ten intermediaries with the most bookings and
others; extranet: gp00001 ... gp00050 in turn (gp00001 is the top of the
hierarchy). --sql adds the three slowest statements of each page.

    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/bench_pages.py [--build 1]
    .venv/bin/python bench/bench_pages.py --sqlite /tmp/pool.db --build 0.1
    [--requests 50] [--only REGEX] [--sql]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if "SECRET_KEY" not in os.environ and (ROOT / "instance" / "secret_key").exists():
    # The key `flask --app run.py ...` uses (common.py points the instance
    # folder elsewhere): the demo logins' passwords derive from it.
    os.environ["SECRET_KEY"] = (ROOT / "instance" / "secret_key").read_text().strip()

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import analyze  # noqa: E402
from sqlalchemy import bindparam, event, func, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from config import Config, _database_url  # noqa: E402

TARGET_MS = 150.0
PERIOD = "2026-10"
BROKERS = 50          # extranet logins used: gp00001 ... gp00050


def page_app(uri: str):
    return create_app(type("PagesConfig", (Config,), {
        "SQLALCHEMY_DATABASE_URI": uri, "WTF_CSRF_ENABLED": False,
        "AUTH_RATE_LIMITED": False, "RATELIMIT_ENABLED": False}))


def prepare(scale: float | None) -> None:
    """Schema at the newest migration; the large pool and its settlement."""
    from alembic.migration import MigrationContext

    from app.models.crm import Company
    from app.models.ledger import Statement
    from app.services.large_demo import POOL_NAME, create_large_pool
    from app.services.setup import init_database

    def revision():
        with db.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    before = revision()
    t = time.perf_counter()
    init_database()
    changed = revision() != before
    if changed:
        print(f"schema {before} -> {revision()} in {time.perf_counter() - t:.0f} s")
    if not db.session.execute(select(Company.id).where(Company.name == POOL_NAME)).first():
        if scale is None:
            sys.exit("The large demo pool is not there: build it with --build SCALE "
                     "(or `flask --app run.py pool demo-data --size large`).")
        t = time.perf_counter()
        last = {}

        def progress(step, done, total):
            if last.get(step, -1) < done * 10 // max(total, 1):
                last[step] = done * 10 // max(total, 1)
                print(f"  {step}: {done:,}/{total:,} ({time.perf_counter() - t:.0f} s)",
                      flush=True)
        answer = create_large_pool(scale, progress=progress)
        print(f"built the large pool at scale {scale} in {time.perf_counter() - t:.0f} s: "
              f"{answer['intermediaries']:,} intermediaries, {answer['contracts']:,} "
              f"contracts, {answer['bookings']:,} bookings")
        changed = True
    if not db.session.execute(select(Statement.id).where(Statement.period == PERIOD)
                              .limit(1)).first():
        from app.services.settlement import run_settlement

        t = time.perf_counter()
        answer = run_settlement(PERIOD, final=True)
        print(f"final settlement {PERIOD}: {len(answer['statements']):,} statements in "
              f"{time.perf_counter() - t:.0f} s")
        changed = True
    if changed:
        # statistics, and on PostgreSQL the visibility map that index-only
        # scans need (autovacuum would do both soon after a bulk load)
        t = time.perf_counter()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            analyze()
        print(f"VACUUM ANALYZE in {time.perf_counter() - t:.0f} s")
    db.session.remove()


def login(app, username: str):
    """A test client logged in with the demo password (form login)."""
    from app.services.demo import demo_password

    with app.app_context():
        password = demo_password(username)
    client = app.test_client()
    resp = client.post("/login/", data={"username": username, "password": password})
    if resp.status_code != 302 or "/login" in resp.headers.get("Location", ""):
        sys.exit(f"login {username} failed: run with the SECRET_KEY the pool was built with")
    return client


def api_login(app, username: str):
    from app.services.demo import demo_password

    with app.app_context():
        password = demo_password(username)
    client = app.test_client()
    resp = client.post("/api/v1/security/login", json={
        "username": username, "password": password, "provider": "db"})
    assert resp.status_code == 200, (username, resp.status_code)
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {resp.json['access_token']}"
    return client


def spread(values: list, n: int) -> list:
    """n values spread evenly over `values` (deterministic), repeating if short."""
    if not values:
        raise SystemExit("no rows to request")
    step = max(1, len(values) // n)
    picked = values[::step][:n]
    while len(picked) < n:
        picked += picked[:n - len(picked)]
    return picked


def ids(sql: str, n: int, **params) -> list[int]:
    rows = db.session.execute(text(sql), params).scalars().all()
    return spread(list(rows), n)


def id_range(table: str, n: int) -> list[int]:
    """n ids spread over the table (its ids of the bulk load are dense)."""
    low, high = db.session.execute(text(f"SELECT min(id), max(id) FROM {table}")).one()
    step = max(1, (high - low) // n)
    return [low + 7 + i * step for i in range(n) if low + 7 + i * step <= high] or [low]


def rison(text_: str) -> str:
    return "'" + text_.replace("!", "!!").replace("'", "!'") + "'"


def staff_pages(n: int) -> list[tuple[str, list[str]]]:
    from app.services.large_demo import POOL_NAME

    pool = db.session.execute(text("SELECT id FROM company WHERE name = :n"),
                              {"n": POOL_NAME}).scalar()
    people = db.session.execute(text(
        "SELECT id, name FROM intermediary WHERE company_id = :p ORDER BY id"),
        {"p": pool}).all()
    picked = spread(people, n)
    contracts = id_range("contract", n)
    policies = dict(db.session.execute(text(
        "SELECT id, policy_number FROM contract WHERE id IN :ids").bindparams(
            bindparam("ids", expanding=True)), {"ids": contracts}).all())
    customers = id_range("customer", n)
    names = dict(db.session.execute(text(
        "SELECT id, name FROM customer WHERE id IN :ids").bindparams(
            bindparam("ids", expanding=True)), {"ids": customers}).all())
    # accounts: the ten with the most bookings (the top of the hierarchy), and
    # others spread over those with a statement
    heavy = db.session.execute(text(
        "SELECT intermediary_id FROM booking GROUP BY intermediary_id "
        "ORDER BY count(*) DESC, intermediary_id LIMIT 10")).scalars().all()
    with_bookings = heavy + ids("SELECT DISTINCT intermediary_id FROM statement "
                                "WHERE period = :p ORDER BY intermediary_id", n - len(heavy),
                                p=PERIOD)
    statements = ids("SELECT id FROM statement WHERE period = :p ORDER BY id", n, p=PERIOD)
    # search terms: a whole name, a prefix of ten, a prefix of a hundred
    def prefixes(values, cut=(0, 1, 2)):
        return [v[:len(v) - cut[i % len(cut)]] for i, v in enumerate(values)]
    person_names = prefixes([name for _, name in picked])
    policy_numbers = prefixes([policies[c] for c in contracts if c in policies])
    customer_names = prefixes([names[c] for c in customers if c in names])

    def q(x):
        from urllib.parse import quote
        return quote(x)
    return [
        ("staff intermediary list", [f"/intermediaryview/list/?page_IntermediaryView={i}"
                                     for i in range(n)]),
        ("staff intermediary search name", [f"/intermediaryview/list/?_flt_0_name={q(s)}"
                                            for s in person_names]),
        ("staff intermediary search contains", [
            f"/intermediaryview/list/?_flt_2_name={q(s.split()[-1])}" for s in person_names]),
        ("staff intermediary show", [f"/intermediaryview/show/{pid}" for pid, _ in picked]),
        ("staff contract list", [f"/contractview/list/?page_ContractView={i}"
                                 for i in range(n)]),
        ("staff contract list policy no.", [f"/contractview/list/?_flt_0_policy_number={q(s)}"
                                            for s in policy_numbers]),
        ("staff contract search policy no.", [f"/contracts/search/?policy_number={q(s)}"
                                              for s in policy_numbers]),
        ("staff contract search customer", [f"/contracts/search/?customer={q(s)}"
                                            for s in customer_names]),
        ("staff contract show", [f"/contractview/show/{c}" for c in contracts]),
        ("staff customer list", [f"/customerview/list/?page_CustomerView={i}"
                                 for i in range(n)]),
        ("staff customer search name", [f"/customerview/list/?_flt_0_name={q(s)}"
                                        for s in customer_names]),
        ("staff customer show", [f"/customerview/show/{c}" for c in customers]),
        ("staff bookings of intermediary", [f"/bookingview/list/?_flt_0_intermediary={p}"
                                            for p in with_bookings]),
        ("staff account of intermediary", [f"/account/{p}" for p in with_bookings]),
        ("staff receipt list", [f"/receiptview/list/?page_ReceiptView={i}" for i in range(n)]),
        ("staff settlement runs", ["/settlement/"] * n),
        ("staff statement list (API)", [
            f"/api/v1/statement/?q=(filters:!((col:period,opr:eq,value:'{PERIOD}')),"
            f"order_column:id,order_direction:asc,page:{i},page_size:25)" for i in range(n)]),
        ("staff statement show (API)", [f"/api/v1/statement/{s}" for s in statements]),
        ("API intermediary list by name", [
            f"/api/v1/intermediary/?q=(filters:!((col:name,opr:sw,value:{q(rison(s))})))"
            for s in person_names]),
        ("API contract list by intermediary", [
            f"/api/v1/contract/?q=(filters:!((col:intermediary,opr:rel_o_m,value:{p})))"
            for p in ids("SELECT DISTINCT intermediary_id FROM customer ORDER BY 1", n)]),
    ]


def broker_pages(n: int, brokers: dict[str, int]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(login, url) pairs: each request as the next of the brokers."""
    names = list(brokers)
    rows = []
    for i in range(n):
        who = names[i % len(names)]
        rows.append((who, brokers[who]))
    own = {}
    for who, pid in brokers.items():
        own[who] = {
            "contract": db.session.execute(text(
                "SELECT id, policy_number FROM contract WHERE intermediary_id = :p "
                "ORDER BY id LIMIT 3"), {"p": pid}).all(),
            "customer": db.session.execute(text(
                "SELECT id FROM customer WHERE intermediary_id = :p ORDER BY id LIMIT 3"),
                {"p": pid}).scalars().all(),
            "statement": db.session.execute(text(
                "SELECT id FROM statement WHERE intermediary_id = :p AND status = 'FINAL' "
                "ORDER BY id"), {"p": pid}).scalars().all(),
        }
    with_contracts = [w for w in names if own[w]["contract"]]
    with_statements = [w for w in names if own[w]["statement"]]
    if not with_contracts or not with_statements:
        raise SystemExit("the extranet logins have no contracts or statements")

    def cycle(logins, make):
        return [(logins[i % len(logins)], make(logins[i % len(logins)], i // len(logins)))
                for i in range(n)]
    return [
        ("extranet overview", [(w, "/my/") for w, _ in rows]),
        ("extranet statements", [(w, "/my/statements/") for w, _ in rows]),
        ("extranet statement PDF", cycle(with_statements, lambda w, k: (
            f"/my/statements/{own[w]['statement'][k % len(own[w]['statement'])]}/pdf"))),
        ("extranet contract list", [(w, "/my/contracts/list/") for w, _ in rows]),
        ("extranet contract search", cycle(with_contracts, lambda w, k: (
            "/my/contracts/list/?_flt_0_policy_number="
            + own[w]["contract"][k % len(own[w]["contract"])][1][:-1]))),
        ("extranet contract show", cycle(with_contracts, lambda w, k: (
            f"/my/contracts/show/{own[w]['contract'][k % len(own[w]['contract'])][0]}"))),
        ("extranet customer list", [(w, "/my/customers/list/") for w, _ in rows]),
        ("extranet customer show", cycle(
            [w for w in with_contracts if own[w]["customer"]], lambda w, k: (
                f"/my/customers/show/{own[w]['customer'][k % len(own[w]['customer'])]}"))),
        ("extranet account", [(w, f"/account/{pid}") for w, pid in rows]),
    ]


class Statements:
    """Counts the SQL statements; with `timed`, the time of each by its text."""

    def __init__(self, timed: bool = False):
        self.n, self.timed, self.times, self._start = 0, timed, {}, 0.0

    def before(self, *args):
        self.n += 1
        self._start = time.perf_counter()

    def after(self, conn, cursor, statement, *args):
        if self.timed:
            entry = self.times.setdefault(" ".join(statement.split()), [0, 0.0])
            entry[0] += 1
            entry[1] += (time.perf_counter() - self._start) * 1000

    def slowest(self, count: int = 3) -> list[str]:
        rows = sorted(self.times.items(), key=lambda kv: -kv[1][1])[:count]
        return [f"    {total / calls:7.1f} ms x{calls:<4} {sql[:220]}"
                for sql, (calls, total) in rows]


def measure(engine, requests, clients, timed: bool = False):
    """[(client key, url)] -> median, p95 (ms), SQL statements per request."""
    # first requests outside the timing (templates, caches; credit notes are
    # rendered once and stored, as `pool render-statements` does for a run)
    for key, url in requests[:3] + [r for r in requests if r[1].endswith("/pdf")]:
        clients[key].get(url)
    stats = Statements(timed)
    times = []
    event.listen(engine, "before_cursor_execute", stats.before)
    event.listen(engine, "after_cursor_execute", stats.after)
    try:
        for key, url in requests:
            t = time.perf_counter()
            resp = clients[key].get(url)
            times.append((time.perf_counter() - t) * 1000)
            assert resp.status_code == 200, (key, url, resp.status_code,
                                             resp.headers.get("Location"))
    finally:
        event.remove(engine, "before_cursor_execute", stats.before)
        event.remove(engine, "after_cursor_execute", stats.after)
    times.sort()
    p95 = times[max(0, -(-len(times) * 95 // 100) - 1)]
    return statistics.median(times), p95, stats.n / len(requests), stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sqlite", help="a SQLite file instead of DATABASE_URL")
    ap.add_argument("--build", type=float, metavar="SCALE",
                    help="build the large pool at this scale if it is not there")
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--only", help="only pages whose label matches this regex")
    ap.add_argument("--sql", action="store_true",
                    help="also the three slowest SQL statements of each page")
    args = ap.parse_args()
    if args.sqlite:
        uri = f"sqlite:///{Path(args.sqlite).resolve()}"
    elif os.environ.get("DATABASE_URL"):
        uri = _database_url()
    else:
        sys.exit("Name the database: DATABASE_URL=... or --sqlite FILE")
    app = page_app(uri)
    n = args.requests
    with app.app_context():
        prepare(args.build)
        from app.models.intermediaries import Intermediary
        from app.services.large_demo import BROKER_LOGINS, STAFF_LOGIN, broker_login

        counts = {t: db.session.execute(select(func.count()).select_from(text(t))).scalar()
                  for t in ("intermediary", "contract", "customer", "booking", "statement")}
        print(f"{db.engine.dialect.name}: " + ", ".join(f"{v:,} {k}" for k, v in
                                                      counts.items()))
        users = app.appbuilder.sm.user_model
        logins = [broker_login(i) for i in range(1, min(BROKERS, BROKER_LOGINS) + 1)]
        persons = dict(db.session.execute(
            select(users.username, Intermediary.id)
            .join(Intermediary, Intermediary.user_id == users.id)
            .where(users.username.in_(logins))).all())
        pages = [(label, [("staff", u) for u in urls]) for label, urls in staff_pages(n)]
        pages += broker_pages(n, {w: persons[w] for w in logins if w in persons})
        engine = db.engine
        db.session.remove()
    if args.only:
        pages = [p for p in pages if re.search(args.only, p[0])]
    # Requests outside any app context: inside one, every request would share
    # its `g`, and Flask-Login would keep the first request's user.
    clients = {"staff": login(app, STAFF_LOGIN), "api": api_login(app, STAFF_LOGIN)}
    for who in persons:
        clients[who] = login(app, who)
    print(f"{'page':<38}{'n':>5}{'median ms':>11}{'p95 ms':>9}{'SQL':>6}")
    worst = []
    for label, requests in pages:
        if label.endswith("(API)") or label.startswith("API"):
            requests = [("api", url) for _, url in requests]
        med, p95, sql, stats = measure(engine, requests, clients, args.sql)
        flag = "" if p95 < TARGET_MS else "  > target"
        print(f"{label:<38}{len(requests):>5}{med:>11.1f}{p95:>9.1f}{sql:>6.1f}{flag}",
              flush=True)
        if args.sql:
            print("\n".join(stats.slowest()))
        if p95 >= TARGET_MS:
            worst.append(label)
    print(f"all p95 < {TARGET_MS:.0f} ms: {'yes' if not worst else 'no'}"
          + (f" (over: {', '.join(worst)})" if worst else ""))


if __name__ == "__main__":
    main()
