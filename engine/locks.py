"""Exam-condition locks: the contract, the registry, each test's configuration and the check.

A lock answers one question, "why not?": a reason to block, or ``None`` to allow (Moodle's quiz
access rules). The manager asks every lock that applies and collects **all** the reasons; the
server decides. Locks are plugins (``register_locks``), configured in the test specification's
``locks:`` section (lock name -> settings) and, per sitting, replaced lock by lock.

The web side (the guard before every candidate request, the blocked page, browser signals, the
invigilator's unlock) is in ``engine.lock_web``; what the locks remember about an attempt
(device bindings, lockouts, signals) is in ``engine.lock_state``.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context

from engine import models

#: Where a lock is asked: at sign-in (after the keycode matched, before the browser is bound)
#: or on a candidate page of a signed-in attempt.
SIGN_IN, PAGE = "sign_in", "page"

#: The candidate endpoints that show or change the test itself. The start gate and read-only
#: locks guard these; the waiting, paused and finished pages are not item content.
ITEM_ENDPOINTS = frozenset({
    "candidate.test", "candidate.item", "candidate.save", "candidate.flag", "candidate.review",
    "candidate.submit",
})
#: Candidate endpoints that would show results (none yet; a results page registers here).
RESULT_ENDPOINTS: set[str] = set()

EXTENSION_KEY = "onscreen.locks"


class LockError(RuntimeError):
    """A lock plugin is broken or clashes with another; start-up stops."""


Problem = tuple[tuple, str]


@dataclass
class Context:
    """Everything a lock may look at to answer "why not?"; built once per request."""

    attempt: models.Attempt
    now: dt.datetime
    stage: str
    db: Any = None
    endpoint: str | None = None
    method: str = "GET"
    remote_addr: str = ""
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    secret_key: str = ""
    #: Cookies a lock wants set on the response (name -> value); the web layer sets them.
    set_cookies: dict[str, str] = field(default_factory=dict)

    @property
    def sitting(self) -> models.Sitting:
        return self.attempt.entry.sitting

    @property
    def centre(self) -> models.Centre:
        return self.sitting.centre

    @property
    def item_route(self) -> bool:
        return self.stage == PAGE and self.endpoint in ITEM_ENDPOINTS

    @property
    def writes(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS")


class Lock:
    """The base of every lock. Only :meth:`check` is required; the rest have harmless defaults.

    Subclasses set ``name`` (the key in test.yaml, stable), ``title`` (for people) and
    ``defaults`` (every setting and its default; other keys are refused).
    """

    name: str = ""
    title: str = ""
    #: Applies to every test with its default settings, listed or not (the start gate, read-only).
    always: bool = False
    defaults: Mapping[str, Any] = {}
    #: Valid settings to show in docs and contract tests, when the defaults alone are not valid.
    example: Mapping[str, Any] | None = None
    #: Static files the candidate's item pages load (script or style), from ``static_folder``.
    assets: tuple[str, ...] = ()
    static_folder: Path | None = None

    def __init__(self, settings: Mapping[str, Any]):
        self.settings = dict(settings)

    @classmethod
    def validate(cls, settings: Mapping[str, Any]) -> list[Problem]:
        """Problems with this lock's settings (beyond unknown keys): ``[(path, message)]``."""
        return []

    @classmethod
    def make(cls, spec: models.TestSpecification, settings: Mapping[str, Any], now: dt.datetime) -> Lock | None:
        """The lock for this test, or ``None`` if it does not apply.

        :param spec: the test specification being taken.
        :param settings: the lock's settings, defaults filled in, already validated.
        :param now: the database's time (injected, never read here).
        """
        return cls(settings)

    def check(self, ctx: Context) -> str | None:
        """Why not? A reason the candidate can act on, or ``None`` to allow."""
        raise NotImplementedError

    def explained_by_state_page(self, ctx: Context) -> bool:
        """True when the candidate's own state page (waiting, paused, finished) already says
        why, so a blocked request is sent there rather than to the blocked page."""
        return False

    def describe(self) -> str | None:
        """One sentence for the candidate's start page: "This test requires..."."""
        return None

    def summary(self) -> str:
        """The settings in words, for the invigilator's sitting page (read-only)."""
        shown = ", ".join(f"{key}: {_words(value)}" for key, value in sorted(self.settings.items()))
        return shown or "default settings"

    def after_sign_in(self, ctx: Context) -> None:
        """Called once the candidate has signed in (same transaction): bind, remember, etc."""

    def on_signal(self, ctx: Context, kind: str) -> str | None:
        """A browser signal was reported (in a write transaction): what this lock did about it
        ("incident", "locked", "counted"), or None if it does not listen."""
        return None


def _words(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "none"
    return str(value)


# --- the registry ------------------------------------------------------------------------------------


def build_registry(pm) -> dict[str, tuple[type[Lock], str]]:
    """``name`` -> (lock class, plugin name); a duplicate or a nameless lock stops start-up."""
    registry: dict[str, tuple[type[Lock], str]] = {}
    for impl in pm.hook.register_locks.get_hookimpls():
        for lock in impl.function() or []:
            if not (isinstance(lock, type) and issubclass(lock, Lock)):
                raise LockError(f"{lock!r} (from plugin {impl.plugin_name}) is not a Lock subclass")
            if not lock.name:
                raise LockError(f"{lock.__qualname__} (from plugin {impl.plugin_name}) has no name")
            if lock.name in registry:
                first = registry[lock.name][0]
                raise LockError(f"lock {lock.name!r} is registered twice: by {first.__module__}.{first.__qualname__} "
                                f"and by {lock.__module__}.{lock.__qualname__}")
            registry[lock.name] = (lock, impl.plugin_name)
    return registry


def init_app(app: Flask) -> None:
    from engine.plugins import plugin_manager
    app.extensions[EXTENSION_KEY] = build_registry(plugin_manager(app))


_default_registry: dict | None = None


def registry(app: Flask | None = None) -> dict[str, type[Lock]]:
    """The registered locks by name: the app's, or (for the bank checker run without an app)
    the built-ins and installed plugins."""
    global _default_registry
    if app is not None or has_app_context():
        found = (app or current_app).extensions.get(EXTENSION_KEY)
        if found is not None:
            return {name: cls for name, (cls, _plugin) in found.items()}
    if _default_registry is None:
        from engine.plugins import make_plugin_manager
        _default_registry = build_registry(make_plugin_manager())
    return {name: cls for name, (cls, _plugin) in _default_registry.items()}


def plugin_of(app: Flask) -> dict[str, str]:
    """lock name -> the plugin that registered it (for ``onscreen plugins``)."""
    return {name: plugin for name, (_cls, plugin) in app.extensions.get(EXTENSION_KEY, {}).items()}


# --- configuration -----------------------------------------------------------------------------------


def config_problems(config: Any, locks: Mapping[str, type[Lock]] | None = None) -> list[Problem]:
    """Problems in a ``locks:`` section (lock name -> settings mapping), with paths under it.

    One validator serves test.yaml, the sitting override and the tests.
    """
    locks = registry() if locks is None else locks
    if config is None:
        return []
    if not isinstance(config, Mapping):
        return [((), "must be a mapping of lock name to its settings")]
    problems: list[Problem] = []
    for name, settings in config.items():
        cls = locks.get(name)
        if cls is None:
            problems.append(((name,), f"no lock called {name!r}; known locks: {', '.join(sorted(locks))}"))
            continue
        if settings is None:
            settings = {}
        if not isinstance(settings, Mapping):
            problems.append(((name,), "settings must be a mapping (or empty for the defaults)"))
            continue
        unknown = sorted(set(settings) - set(cls.defaults))
        for key in unknown:
            allowed = ", ".join(sorted(cls.defaults)) or "none"
            problems.append(((name, key), f"is not a setting of {name} (its settings: {allowed})"))
        known = {k: v for k, v in settings.items() if k in cls.defaults}
        problems += [((name,) + path, message) for path, message in cls.validate({**cls.defaults, **known})]
    return problems


def effective_config(spec: models.TestSpecification, sitting: models.Sitting | None,
                     locks: Mapping[str, type[Lock]]) -> dict[str, dict]:
    """lock name -> settings (defaults filled in) for this sitting of this test.

    The sitting's ``locks`` replaces the specification's lock by lock; an always-on lock is
    there with its defaults even when nobody listed it, and cannot be switched off.
    """
    chosen: dict[str, Any] = dict(spec.locks or {})
    for name, settings in ((sitting.locks if sitting is not None else None) or {}).items():
        if settings is False:
            if not (name in locks and locks[name].always):
                chosen.pop(name, None)  # ``name: false`` in a sitting switches the lock off
        else:
            chosen[name] = settings
    for name, cls in locks.items():
        if cls.always:
            chosen.setdefault(name, {})
    configured = {}
    for name, settings in chosen.items():
        cls = locks.get(name)
        if cls is None or not isinstance(settings, (Mapping, type(None))):
            continue
        configured[name] = {**cls.defaults, **{k: v for k, v in (settings or {}).items() if k in cls.defaults}}
    return configured


def active(attempt: models.Attempt, now: dt.datetime, locks: Mapping[str, type[Lock]] | None = None) -> list[Lock]:
    """The locks that apply to this attempt now, in name order."""
    locks = registry() if locks is None else locks
    sitting = attempt.entry.sitting
    found = []
    for name, settings in sorted(effective_config(sitting.specification, sitting, locks).items()):
        lock = locks[name].make(sitting.specification, settings, now)
        if lock is not None:
            found.append(lock)
    return found


@dataclass(frozen=True)
class Block:
    lock: Lock
    reason: str


def reasons(ctx: Context, locks: list[Lock] | None = None) -> list[Block]:
    """Every lock's answer to "why not?": all the reasons, never just the first."""
    locks = active(ctx.attempt, ctx.now) if locks is None else locks
    found = []
    for lock in locks:
        reason = lock.check(ctx)
        if reason:
            found.append(Block(lock, reason))
    return found


def descriptions(attempt: models.Attempt, now: dt.datetime) -> list[str]:
    """What the candidate's start page says the test requires."""
    return [text for text in (lock.describe() for lock in active(attempt, now)) if text]
