"""Settings from the environment, with safe defaults.

Every setting named in the interface spec (DATABASE_URL, SECRET_KEY,
POOL_COMMISSION_MODEL, POOL_UPLOAD_DIR) is read here and nowhere else.
"""
import os
import secrets
from pathlib import Path

from flask_appbuilder.const import AUTH_DB

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("POOL_INSTANCE_DIR", BASE_DIR / "instance"))

COMMISSION_MODELS = ("contract_percent", "product_rate", "product_units")


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once into instance/."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        # Created with mode 0600 so that other local users cannot read it, and
        # complete before it appears: web workers starting side by side all
        # read the one key that won (a session made on one worker is valid on
        # every other).
        tmp = path.with_name(f".secret_key.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        # Heroku-style URLs name the old driver; we use psycopg 3.
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://"):]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return url
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{INSTANCE_DIR / 'vermittlerpool.db'}"


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _development_server() -> bool:
    """Flask's own server (`flask run`, which serves plain http) or debug mode."""
    return os.environ.get("FLASK_RUN_FROM_CLI") == "true" or _bool("FLASK_DEBUG", False)


class Config:
    SECRET_KEY = _secret_key()
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    POOL_COMMISSION_MODEL = os.environ.get("POOL_COMMISSION_MODEL", "contract_percent")
    POOL_UPLOAD_DIR = os.environ.get("POOL_UPLOAD_DIR", str(INSTANCE_DIR / "uploads"))
    # Payouts below this (in €) are carried forward instead.
    POOL_MIN_PAYOUT = os.environ.get("POOL_MIN_PAYOUT", "0")
    # Four-eyes approval: a final settlement run is released by a second staff
    # member before its statements get numbers and payouts.
    POOL_FOUR_EYES = _bool("POOL_FOUR_EYES", False)
    #: SQLite only: page cache per connection (MB) and the write-ahead log
    POOL_SQLITE_CACHE_MB = int(os.environ.get("POOL_SQLITE_CACHE_MB", "64"))
    POOL_SQLITE_WAL = _bool("POOL_SQLITE_WAL", False)
    # Status files of long work started from a screen (settlement runs).
    POOL_JOB_DIR = os.environ.get("POOL_JOB_DIR", str(INSTANCE_DIR / "jobs"))
    # Credit notes of a released run: rendered once right after it by this
    # many processes (0: one per core), stored, then served from storage.
    POOL_RENDER_AFTER_RUN = _bool("POOL_RENDER_AFTER_RUN", True)
    POOL_PDF_WORKERS = int(os.environ.get("POOL_PDF_WORKERS", "0"))
    POOL_MAX_UPLOAD_MB = float(os.environ.get("POOL_MAX_UPLOAD_MB", "10"))
    # Refuse larger request bodies before reading them (uploads plus form data).
    MAX_CONTENT_LENGTH = int((POOL_MAX_UPLOAD_MB + 1) * 1_000_000)
    # Page size of the related-object search behind large select fields.
    POOL_LOOKUP_LIMIT = 20
    # Retention in years, each counted from the end of the calendar year of the
    # record (docs/data-protection.md): bookings (§ 147 AO, § 257 HGB), booking
    # vouchers (8 years since 2025), and the customer's personal data from the
    # end of its last contract; `pool anonymise` acts once all have ended.
    POOL_RETENTION_BOOKINGS_YEARS = int(os.environ.get("POOL_RETENTION_BOOKINGS_YEARS", "10"))
    POOL_RETENTION_VOUCHERS_YEARS = int(os.environ.get("POOL_RETENTION_VOUCHERS_YEARS", "8"))
    POOL_RETENTION_CUSTOMER_YEARS = int(os.environ.get("POOL_RETENTION_CUSTOMER_YEARS", "10"))

    APP_NAME = "Vermittlerpool"
    APP_THEME = ""
    AUTH_TYPE = AUTH_DB
    AUTH_ROLE_ADMIN = "Admin"
    AUTH_ROLE_PUBLIC = "Public"
    AUTH_USER_REGISTRATION = False

    # Nothing is created or synchronised at start: `flask pool init` does it once
    # per deployment (see fab-notes: workers racing on the permission sync).
    FAB_CREATE_DB = False
    FAB_UPDATE_PERMS = False
    FAB_API_SWAGGER_UI = True
    FAB_ADD_SECURITY_API = False
    FAB_API_MAX_PAGE_SIZE = 100

    # Password rule: length only (OWASP ASVS 5.0 6.2.x), no composition rules.
    FAB_PASSWORD_COMPLEXITY_ENABLED = True
    FAB_PASSWORD_COMPLEXITY_VALIDATOR = "app.security.passwords.password_validator"

    # Login rate limiting (FAB uses Flask-Limiter).
    AUTH_RATE_LIMITED = _bool("AUTH_RATE_LIMITED", True)
    AUTH_RATE_LIMIT = os.environ.get("AUTH_RATE_LIMIT", "10 per 20 second")
    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    # memory:// counts per process: several web workers need a shared store,
    # e.g. redis://127.0.0.1:6379 or redis+unix:///run/redis/redis.sock.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    # Should the shared store be down, count per process instead of refusing logins.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True

    # Behind a reverse proxy: how many proxies set X-Forwarded-For/-Proto/-Host/
    # -Port/-Prefix (0: none, the headers are ignored). The login limit counts per
    # client address, which without this is the proxy's for everyone.
    POOL_PROXY_FIX = int(os.environ.get("POOL_PROXY_FIX", "0"))

    # Security headers (app/security/headers.py). HTTPS ends at the reverse
    # proxy, which also redirects http to https; POOL_FORCE_HTTPS=1 makes the
    # app redirect too. HSTS (one year, includeSubDomains) goes with every
    # answer over HTTPS (X-Forwarded-Proto: https), never over plain http.
    POOL_FORCE_HTTPS = _bool("POOL_FORCE_HTTPS", False)
    POOL_HSTS = _bool("POOL_HSTS", True)
    POOL_HSTS_MAX_AGE = int(os.environ.get("POOL_HSTS_MAX_AGE", str(365 * 24 * 3600)))
    # API errors never carry a traceback.
    FAB_API_SHOW_STACKTRACE = False

    # Static assets (FAB's and ours) may be cached for an hour instead of being
    # revalidated on every page (about 20 requests a page).
    SEND_FILE_MAX_AGE_DEFAULT = int(os.environ.get("POOL_STATIC_MAX_AGE", "3600"))

    # Session cookies (docs/deployment.md, "Sessions and logins"): Secure unless
    # SESSION_COOKIE_SECURE=0 or Flask's own development server (`flask run`,
    # `make run` on plain http) or FLASK_DEBUG. Remember-me is not offered.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", not _development_server())
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # Idle and absolute session timeouts: staff; intermediaries and customers
    # (extranet). API logins end with the absolute one (JWTs last 15 minutes).
    POOL_SESSION_IDLE_MINUTES_STAFF = int(os.environ.get("POOL_SESSION_IDLE_MINUTES_STAFF", "30"))
    POOL_SESSION_ABSOLUTE_HOURS_STAFF = float(
        os.environ.get("POOL_SESSION_ABSOLUTE_HOURS_STAFF", "12"))
    POOL_SESSION_IDLE_MINUTES_EXTRANET = int(
        os.environ.get("POOL_SESSION_IDLE_MINUTES_EXTRANET", "15"))
    POOL_SESSION_ABSOLUTE_HOURS_EXTRANET = float(
        os.environ.get("POOL_SESSION_ABSOLUTE_HOURS_EXTRANET", "8"))
    # Rows of ended or expired sessions are deleted after this many days by the
    # scheduler (the auth events themselves are in the log)
    POOL_SESSION_KEEP_DAYS = int(os.environ.get("POOL_SESSION_KEEP_DAYS", "30"))
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None

    BABEL_DEFAULT_LOCALE = "de"
    BABEL_DEFAULT_TIMEZONE = "Europe/Berlin"
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")
    LANGUAGES = {
        "de": {"flag": "de", "name": "Deutsch"},
        "en": {"flag": "gb", "name": "English"},
    }


class TestConfig(Config):
    TESTING = True
    # Tests render credit notes where they ask for them (a test turns it on).
    POOL_RENDER_AFTER_RUN = False
    # Fast hashes: the suite creates many logins (production keeps scrypt).
    FAB_PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    WTF_CSRF_ENABLED = False
    AUTH_RATE_LIMITED = False
    RATELIMIT_ENABLED = False
