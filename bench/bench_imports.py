"""Benchmark: a 100,000-contract GDV file and a 100,000-line commission CSV,
generated here, imported through the services (one transaction each), with
time and peak memory (target: under 60 s each, bounded memory).

The GDV file repeats the sample's contracts (tests/data/gdv) with new policy
numbers; the CSV has one receipt per contract of the GDV import.

    .venv/bin/python bench/bench_imports.py [--contracts 100000]
"""
from __future__ import annotations

import argparse
import io
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import analyze, bench_app, fresh_schema  # noqa: E402

from app.extensions import db  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "gdv" / \
    "musterdatei_041222.txt"


def gdv_file(contracts: int) -> bytes:
    """The sample's contracts again and again, policy numbers made unique,
    with a matching trailer."""
    lines = SAMPLE.read_bytes().split(b"\n")
    lines = [ln for ln in lines if ln.strip()]
    header = [ln for ln in lines if ln[:4] == b"0001"]
    body = [ln for ln in lines if ln[:4] not in (b"0001", b"9999")]
    trailer = next(ln for ln in lines if ln[:4] == b"9999")
    blocks, current, key = [], [], None
    for ln in body:                          # group by policy number (14-30)
        if ln[13:30] != key and current:
            blocks.append(current)
            current = []
        key = ln[13:30]
        current.append(ln)
    blocks.append(current)
    out = io.BytesIO()
    for ln in header:
        out.write(ln + b"\n")
    records = 0
    for n in range(contracts):
        block = blocks[n % len(blocks)]
        number = f"{n + 1:017d}".encode()
        for ln in block:
            out.write(ln[:13] + number + ln[30:] + b"\n")
            records += 1
    out.write(trailer[:4] + f"{records:010d}".encode() + trailer[14:] + b"\n")
    return out.getvalue()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--contracts", type=int, default=100_000)
    args = ap.parse_args()
    app = bench_app()
    from app.models.crm import Company, CompanyKind
    from app.models.imports import ImportProfile
    from app.models.products import LineOfBusiness, Product
    from app.services.imports import import_gdv, import_receipts

    with app.app_context():
        fresh_schema()
        pool = Company(name="Bench Pool", kind=CompanyKind.POOL)
        db.session.add(pool)
        db.session.flush()
        insurer = Company(name="Muster Versicherung AG", kind=CompanyKind.INSURER,
                          parent=pool, vu_number="9999")
        db.session.add(insurer)
        for code in ("000", "010", "030", "040", "050"):
            line = db.session.query(LineOfBusiness).filter_by(code=code).first()
            if line is None:
                line = LineOfBusiness(code=code, name=f"Sparte {code}")
                db.session.add(line)
                db.session.flush()
            db.session.add(Product(insurer=insurer, line_of_business=line, key=f"P{code}",
                                   name=f"Produkt {code}"))
        from app.models.imports import InsurerBrokerNumber
        from app.models.intermediaries import Intermediary, IntermediaryRate

        broker = Intermediary(name="Bench Makler", company=pool, status="ACTIVE",
                              tax_number="12/345/67890")
        db.session.add(broker)
        db.session.flush()
        db.session.add_all([IntermediaryRate(intermediary=broker, insurer=insurer, ap_rate=80,
                                             fp_rate=50),
                            InsurerBrokerNumber(insurer=insurer, number="9999009999",
                                                intermediary=broker)])
        db.session.add(ImportProfile(name="bench", insurer=insurer, definition=json.dumps({
            "name": "bench", "file_type": "csv", "separator": ";", "decimal_comma": True,
            "date_format": "%d.%m.%Y",
            "columns": {"policy_number": "VSNR", "amount": "Betrag", "value_date": "Datum",
                        "kind": "Art", "reference": "Beleg"},
            "kind_map": {"FP": "FP", "AP": "AP"}})))
        db.session.commit()
        data = gdv_file(args.contracts)
        base = peak_mb()
        t = time.perf_counter()
        run, _ = import_gdv(io.BytesIO(data), "bench.gdv")
        took = time.perf_counter() - t
        report = json.loads(run.report)
        print(f"{db.engine.dialect.name}: GDV {len(data) / 1e6:.0f} MB, {report['lines']:,} lines, "
              f"{report['created']:,} contracts created in {took:.1f} s; "
              f"peak RSS {peak_mb():.0f} MB (before {base:.0f} MB)")
        analyze()
        csv = io.StringIO()
        csv.write("VSNR;Betrag;Datum;Art;Beleg\n")
        for n in range(args.contracts):
            csv.write(f"{n + 1:017d};{(n % 900) + 1},{n % 100:02d};05.10.2026;FP;R{n}\n")
        body = csv.getvalue().encode()
        t = time.perf_counter()
        run, _ = import_receipts(io.BytesIO(body), "bench.csv", "bench")
        took = time.perf_counter() - t
        report = json.loads(run.report)
        print(f"receipts CSV {len(body) / 1e6:.1f} MB, {report['lines']:,} lines, "
              f"{report['receipts']:,} receipts, {report['bookings']:,} bookings, "
              f"{report['clearance_cases']:,} cases in {took:.1f} s; peak RSS {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
