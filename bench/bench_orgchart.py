"""Benchmark: the org chart for 50,000 intermediaries, 10 levels deep.

Target (issue 3): the org chart renders in under 1 s. Measured: the server's
JSON for a date (median/p95 of 10 requests), and, when Debian's chromium and
Playwright are installed, the page in the browser from navigation until the
tree is drawn.

    .venv/bin/python bench/bench_orgchart.py [--intermediaries 50000] [--depth 10]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    PASSWORD,
    analyze,
    api_client,
    bench_app,
    fresh_schema,
    staff_client,
)
from sqlalchemy import insert, text  # noqa: E402

from app.extensions import db  # noqa: E402
from app.models.crm import Company, CompanyKind  # noqa: E402
from app.models.intermediaries import Intermediary, IntermediaryLevel  # noqa: E402
from app.models.products import CareerLevel  # noqa: E402


def build(n: int, depth: int) -> None:
    from tests.factories import make_staff

    fresh_schema()
    pool = Company(name="Bench Pool", kind=CompanyKind.POOL)
    db.session.add(pool)
    db.session.add_all([CareerLevel(rank=r, name=f"Stufe {r}", value_per_unit=r) for r in
                        range(1, depth + 1)])
    db.session.flush()
    levels = dict(db.session.execute(text("SELECT rank, id FROM career_level")).all())
    rnd = random.Random(7)
    first = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hans", "Ida", "Jonas"]
    last = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"]
    db.session.execute(insert(Intermediary), [
        {"name": f"{rnd.choice(first)} {rnd.choice(last)} {i}", "company_id": pool.id,
         "status": "ACTIVE"} for i in range(n)])
    ids = [r[0] for r in db.session.execute(text("SELECT id FROM intermediary ORDER BY id"))]
    # Breadth first: 5 roots at the top level, each level below branches out
    # until n people are placed, at most `depth` levels deep.
    entries, frontier, k = [], [], 0
    for _ in range(5):
        entries.append((ids[k], depth, None)); frontier.append((ids[k], depth)); k += 1
    while k < n:
        next_frontier = []
        for boss, lvl in frontier:
            if lvl <= 1:
                continue
            for _ in range(rnd.randint(2, 4)):
                if k >= n:
                    break
                entries.append((ids[k], lvl - 1, boss)); next_frontier.append((ids[k], lvl - 1))
                k += 1
        if not next_frontier:
            break
        frontier = next_frontier
    rows = [{"intermediary_id": who, "valid_from": date(2025, 1, 1),
             "career_level_id": levels[lvl], "supervisor_id": boss} for who, lvl, boss in entries]
    # History: a fifth of them were promoted in mid 2026 (same supervisor).
    rows += [{"intermediary_id": who, "valid_from": date(2026, 6, 1),
              "career_level_id": levels[min(lvl + 1, depth)], "supervisor_id": boss}
             for who, lvl, boss in entries if rnd.random() < 0.2 and boss is not None]
    db.session.execute(insert(IntermediaryLevel), rows)
    make_staff(pool, "Pool staff", "bench")
    db.session.commit()
    analyze()
    deepest = max(depth - lvl + 1 for _, lvl, _ in entries)
    print(f"built {len(ids):,} intermediaries, {len(rows):,} hierarchy entries, "
          f"{deepest} levels deep ({db.engine.dialect.name})")


TIMING = """() => {
            const nav = performance.getEntriesByType('navigation')[0];
            const data = performance.getEntriesByType('resource').filter(
                r => r.name.includes('/orgchart/data'))[0];
            return {html: nav.responseEnd, domReady: nav.domContentLoadedEventEnd,
                    load: nav.loadEventEnd, fetchStart: data && data.startTime,
                    fetchWait: data && (data.responseStart - data.requestStart),
                    fetchEnd: data && data.responseEnd, now: performance.now()};
        }"""


def measure(client, url, n):
    times, size = [], 0
    for _ in range(n):
        t = time.perf_counter()
        resp = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert resp.status_code == 200, resp.status_code
        size = len(resp.data)
    times.sort()
    return statistics.median(times), times[-1], size


def browser(app, password):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("browser: playwright not installed, skipped")
        return
    if not Path("/usr/bin/chromium").exists():
        print("browser: /usr/bin/chromium not installed, skipped")
        return
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    port = server.server_port
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = b.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{base}/login/")
        page.fill("#username", "bench")
        page.fill("#password", password)
        page.click("input[type=submit]")
        from app.services import hierarchy
        times = []
        for i in range(6):
            if i == 0:
                page.goto(f"{base}/orgchart/?date=2026-10-01")  # browser warm-up, other date
                page.wait_for_selector(".oc-node", timeout=30000)
                hierarchy._CACHE.clear()  # the next load builds the tree (cold server)
                continue
            t = time.perf_counter()
            page.goto(f"{base}/orgchart/?date=2026-11-01")
            page.wait_for_selector(".oc-node", timeout=30000)  # drawn
            times.append((time.perf_counter() - t) * 1000)
            if i == 1:
                cold_timing = page.evaluate(TIMING)
        timing = page.evaluate(TIMING)
        for label, values in (("cold", cold_timing), ("last", timing)):
            print(f"browser timing of the {label} load (ms since navigation): " +
                  ", ".join(f"{k} {v:.0f}" for k, v in values.items() if v is not None))
        shot = Path(os.environ["POOL_INSTANCE_DIR"]) / "orgchart.png"
        page.screenshot(path=str(shot))
        b.close()
    server.shutdown()
    cold = times[0]
    times.sort()
    print(f"browser: page to drawn tree: cold (tree built) {cold:.0f} ms; warm median "
          f"{statistics.median(times[1:]):.0f} ms, max {times[-1]:.0f} ms (5 loads); "
          f"screenshot {shot}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--intermediaries", type=int, default=50_000)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    app = bench_app()
    with app.app_context():
        build(args.intermediaries, args.depth)
        client = staff_client(app)
        med, worst, size = measure(client, "/orgchart/data?date=2026-11-01", 10)
        print(f"org chart JSON: median {med:.0f} ms, max {worst:.0f} ms, {size / 1e6:.1f} MB "
              "(target: page under 1 s)")
        med, worst, size = measure(api_client(app), "/api/v1/hierarchy/?date=2026-11-01", 10)
        print(f"GET /api/v1/hierarchy/: median {med:.0f} ms, max {worst:.0f} ms")
        db.session.remove()
    if not args.no_browser:
        browser(app, PASSWORD)


if __name__ == "__main__":
    main()
