"""A final settlement run in a process of its own, for the concurrency and
crash tests (tests/test_settlement_processes.py).

    python -m tests.settle_process PERIOD race BARRIER_FILE
    python -m tests.settle_process PERIOD kill AFTER

`race` waits for BARRIER_FILE to exist, then runs; `kill` runs in steps of 5
intermediaries and kills itself (SIGKILL, no clean-up) after AFTER of them.
Prints one JSON line: {"made": n} or {"busy": true}.
"""
import json
import os
import signal
import sys
import time
from datetime import date

from app import create_app
from app.domain.errors import RunUnderWayError
from app.services import settlement


def main() -> None:
    period, mode, arg = sys.argv[1], sys.argv[2], sys.argv[3]
    app = create_app()
    with app.app_context():
        progress = None
        if mode == "kill":
            settlement.CHUNK = 5

            def progress(done, total):
                if done >= int(arg):
                    os.kill(os.getpid(), signal.SIGKILL)
        else:
            while not os.path.exists(arg):
                time.sleep(0.005)
        try:
            answer = settlement.run_settlement(period, True, today=date(2026, 12, 1),
                                               progress=progress)
        except RunUnderWayError:
            print(json.dumps({"busy": True}))
            return
        print(json.dumps({"made": len(answer["statements"])}))


if __name__ == "__main__":
    main()
