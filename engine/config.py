"""Settings: defaults, then ``ONSCREEN_*`` environment variables, then the ``config`` mapping.

One place decides what a setting means, so the app factory, the CLI and the tests agree.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Setting name -> (environment variable, default, converter)
_ENV_SETTINGS = {
    "DATABASE_URL": ("ONSCREEN_DATABASE_URL", None, str),
    "SECRET_KEY": ("ONSCREEN_SECRET_KEY", None, str),
    "PLUGINS_ALLOWED": ("ONSCREEN_PLUGINS_ALLOWED", None, lambda v: [p.strip() for p in v.split(",") if p.strip()]),
    "DEBUG": ("ONSCREEN_DEBUG", False, lambda v: v.lower() in {"1", "true", "yes", "on"}),
    "SAVE_GRACE_SECONDS": ("ONSCREEN_SAVE_GRACE_SECONDS", 10, int),
    "SIGN_IN_MAX_FAILURES": ("ONSCREEN_SIGN_IN_MAX_FAILURES", 10, int),
    "SIGN_IN_WINDOW_SECONDS": ("ONSCREEN_SIGN_IN_WINDOW_SECONDS", 600, int),
    "SESSION_COOKIE_SECURE": ("ONSCREEN_SECURE_COOKIES", False, lambda v: v.lower() in {"1", "true", "yes", "on"}),
    # How many reverse proxies in front of the app to trust for X-Forwarded-For/-Proto (0: none).
    "PROXY_HOPS": ("ONSCREEN_PROXY_HOPS", 0, int),
    # Specification codes whose tests do not allow read aloud (engine/access_tools.py).
    "READ_ALOUD_FORBIDDEN": ("ONSCREEN_READ_ALOUD_FORBIDDEN", (), lambda v: tuple(c.strip() for c in v.split(",") if c.strip())),
    # Counting attempts an item needs before its measured facility replaces its difficulty estimate
    # in assembly (engine/item_statistics.py); 0 switches measured difficulty off.
    "STATISTICS_MIN_ATTEMPTS": ("ONSCREEN_STATISTICS_MIN_ATTEMPTS", 30, int),
}

#: Secret keys that mark a development setup; refused outside debug and testing.
DEVELOPMENT_SECRET = "dev-only-not-secret"


class ConfigurationError(RuntimeError):
    """The app cannot start with these settings; the message says which one and why."""


def load_settings(instance_path: str, overrides: dict | None = None) -> dict:
    """Return the settings for one app, from defaults, the environment and ``overrides``."""
    settings: dict = {
        "TESTING": False,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "onscreen_session",
        # A candidate's session must outlive the longest sitting (45 min + 50 % + breaks);
        # it ends when the browser closes or the attempt finishes, not on a short timer.
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        # The cookie is signed again only when the session changes, not on every response:
        # on the test-taking path that signing was a measurable part of each request, and the
        # 12 hours above already run from the sign-in.
        "SESSION_REFRESH_EACH_REQUEST": False,
        "STAFF_SESSION_IDLE_SECONDS": 8 * 3600,
        # Staff passwords: a slow hash (few staff, rare sign-ins). Tests choose a fast one.
        "PASSWORD_HASH_METHOD": "scrypt",
    }
    for name, (env_name, default, convert) in _ENV_SETTINGS.items():
        raw = os.environ.get(env_name)
        settings[name] = convert(raw) if raw not in (None, "") else default
    settings.update(overrides or {})
    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = "sqlite:///" + str(Path(instance_path) / "onscreen.db")
    if not settings["SECRET_KEY"]:
        settings["SECRET_KEY"] = _instance_secret(instance_path)
    if not settings["SECRET_KEY"]:
        if settings["DEBUG"] or settings["TESTING"]:
            settings["SECRET_KEY"] = DEVELOPMENT_SECRET
        else:
            raise ConfigurationError(
                "ONSCREEN_SECRET_KEY is not set and there is no secret_key file in the instance folder "
                f"({instance_path}). Set it to a long random value "
                "(python -c 'import secrets; print(secrets.token_hex(32))'), "
                "or set ONSCREEN_DEBUG=1 for a development server."
            )
    if settings["SECRET_KEY"] == DEVELOPMENT_SECRET and not (settings["DEBUG"] or settings["TESTING"]):
        raise ConfigurationError("ONSCREEN_SECRET_KEY is the development placeholder; set a real secret.")
    return settings


def _instance_secret(instance_path: str) -> str | None:
    """The secret ``make run`` keeps in the instance folder (``secret_key``), so the ``onscreen``
    commands run beside its server (``loadtest prepare``, ``db backup``) sign and check with the
    same key without it being exported first. The environment's key, when set, wins."""
    path = Path(instance_path) / "secret_key"
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"{path}: cannot read the secret key ({error}).") from error
