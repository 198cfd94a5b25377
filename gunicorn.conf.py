"""gunicorn settings for Vermittlerpool, from the environment.

    .venv/bin/gunicorn -c gunicorn.conf.py          # serves run:app

gunicorn also reads this file by itself when started in this folder. See
docs/deployment.md: the app's own settings (DATABASE_URL, SECRET_KEY,
RATELIMIT_STORAGE_URI, POOL_PROXY_FIX, ...) come from the same environment.

| variable | default | meaning |
| --- | --- | --- |
| POOL_BIND | 127.0.0.1:8000 | address(es) to listen on, comma-separated; `unix:/run/pool/web.sock` |
| WEB_CONCURRENCY | 2 × cores + 1 | worker processes |
| POOL_THREADS | 1 | threads per worker (more than 1: gthread workers) |
| POOL_TIMEOUT | 120 | seconds a request may take before its worker is restarted |
| POOL_ACCESS_LOG | - (stdout) | access log file; `off` for none |
| POOL_LOG_LEVEL | info | gunicorn's log level |
"""
import multiprocessing
import os

wsgi_app = "run:app"

bind = [b.strip() for b in os.environ.get("POOL_BIND", "127.0.0.1:8000").split(",") if b.strip()]
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
threads = int(os.environ.get("POOL_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"

# Each worker builds its own app after the fork: no database connection is
# ever shared between processes.
preload_app = False
# No max_requests: a settlement run started from a screen runs in a thread of
# the worker that took the request, and recycling that worker would end it (it
# would leave nothing behind, being one transaction, but would have to start again).
max_requests = 0

timeout = int(os.environ.get("POOL_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
# Heartbeat files in memory where there is /dev/shm (containers: /tmp may be a slow disk).
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

_access = os.environ.get("POOL_ACCESS_LOG", "-")
accesslog = None if _access.lower() in ("", "off", "none") else _access
errorlog = "-"
loglevel = os.environ.get("POOL_LOG_LEVEL", "info")
# The usual combined format, the client address the proxy reports, the time
# taken in ms and the worker's pid (which worker served what).
access_log_format = ('%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" '
                     'xff="%({x-forwarded-for}i)s" %(M)sms worker=%(p)s')
proc_name = "vermittlerpool"
# No runtime control socket (gunicorn 27): two instances on one host would
# fight over its default path; signals do the same (HUP, TTIN, TTOU, TERM).
control_socket_disable = True
