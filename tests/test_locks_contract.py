"""The lock contract, run over every registered lock, so a new lock is tested the moment it
registers: its settings validate, ``make`` takes an injected ``now``, ``check`` answers "why
not?" with a reason or None in every attempt state and at both stages, and it describes itself."""
from __future__ import annotations

import datetime as dt
import json
import types

import pytest

from engine import create_app, db, locks, models
from engine.hookspecs import hookimpl
from engine.plugins import DEFAULT_PLUGINS, describe_plugins

from conftest import TEST_SETTINGS
from locks_support import HX, attempt_of, set_locks, working

NO_DATABASE = {**TEST_SETTINGS, "DATABASE_URL": "sqlite://"}
REGISTERED = sorted(locks.registry())
NOW = dt.datetime(2026, 11, 23, 9, 0)


def _settings(cls) -> dict:
    return dict(cls.example if cls.example is not None else {})


def test_every_built_in_lock_is_registered():
    assert REGISTERED == ["browser_signals", "centre_network", "one_device", "read_only_after_submit",
                          "safe_exam_browser", "sitting_window", "start_gate"]


@pytest.mark.parametrize("name", REGISTERED)
def test_settings_validate_and_unknown_ones_are_refused(name):
    cls = locks.registry()[name]
    assert cls.name == name and cls.title and isinstance(cls.defaults, dict)
    assert locks.config_problems({name: _settings(cls)}) == []
    unknown = dict(locks.config_problems({name: {**_settings(cls), "no_such_setting": 1}}))
    assert f"is not a setting of {name}" in unknown[(name, "no_such_setting")]
    assert locks.config_problems({name: "on"}) == [((name,), "settings must be a mapping (or empty for the defaults)")]
    for key, default in cls.defaults.items():
        wrong = object() if not isinstance(default, list) else "not a list"
        assert locks.config_problems({name: {**_settings(cls), key: wrong}}), f"{name}.{key} accepted anything"


@pytest.mark.parametrize("name", REGISTERED)
def test_make_takes_the_spec_settings_and_an_injected_now(name):
    cls = locks.registry()[name]
    spec = types.SimpleNamespace(locks={name: _settings(cls)}, code="unit-x")
    lock = cls.make(spec, {**cls.defaults, **_settings(cls)}, NOW)
    assert lock is None or isinstance(lock, cls)
    if lock is not None:
        assert isinstance(lock.summary(), str) and lock.summary()
        assert lock.describe() is None or (isinstance(lock.describe(), str) and lock.describe())
        for asset in lock.assets:
            assert (cls.static_folder / asset).is_file(), asset


@pytest.mark.parametrize("name", REGISTERED)
def test_check_answers_with_a_reason_or_none_in_every_state(name, app, demo, invigilator, candidate_factory, clock):
    """Each lock is asked about candidates in every state, at sign-in and on item and other
    pages; the answer is None or a non-empty sentence, never an exception."""
    cls = locks.registry()[name]
    candidate_factory("0002").sign_in()
    working(candidate_factory, invigilator, demo["sitting_id"], "0003")
    invigilator.post(f"/invigilate/sittings/{demo['sitting_id']}/attempts/{attempt_of(app, '0003').id}/pause",
                     reason="contract")
    working(candidate_factory, invigilator, demo["sitting_id"], "0004", start=False).submit()
    working(candidate_factory, invigilator, demo["sitting_id"], "0005", start=False)
    set_locks(app, demo["sitting_id"], spec_locks={name: _settings(cls)})
    answers = []
    with app.test_request_context("/test/item/1"):
        session = db.session()
        attempts = session.query(models.Attempt).all()
        assert {a.state for a in attempts} >= {"ready", "paused", "in_progress", "finished"}
        for attempt in attempts:
            lock = cls.make(attempt.entry.sitting.specification, {**cls.defaults, **_settings(cls)}, clock.now)
            if lock is None:
                continue
            for stage, endpoint in ((locks.SIGN_IN, "candidate.sign_in"), (locks.PAGE, "candidate.item"),
                                    (locks.PAGE, "candidate.waiting"), (locks.PAGE, "candidate.save")):
                ctx = locks.Context(attempt=attempt, now=clock.now, stage=stage, db=session, endpoint=endpoint,
                                    method="POST" if endpoint == "candidate.save" else "GET",
                                    remote_addr="192.0.2.1", url="http://localhost/test/item/1",
                                    secret_key=app.secret_key)
                reason = lock.check(ctx)
                assert reason is None or (isinstance(reason, str) and reason.strip()), (attempt.state, stage, reason)
                assert isinstance(lock.explained_by_state_page(ctx), bool)
                answers.append(reason)
    assert answers


@pytest.mark.parametrize("name", REGISTERED)
def test_the_invigilator_sees_each_lock_on_the_sitting_page(name, app, demo, invigilator):
    cls = locks.registry()[name]
    set_locks(app, demo["sitting_id"], spec_locks={name: _settings(cls)})
    page = invigilator.client.get(f"/invigilate/sittings/{demo['sitting_id']}").get_data(as_text=True)
    assert "Exam conditions" in page and cls.title in page


# --- registration -------------------------------------------------------------------------------------


class _Dummy(locks.Lock):
    name = "start_gate"
    title = "A clash"

    def check(self, ctx):
        return None


def _plugin(*classes):
    plugin = types.ModuleType("dummy_lock_plugin")

    @hookimpl
    def register_locks():
        return list(classes)
    plugin.register_locks = register_locks
    return plugin


def test_a_duplicate_lock_name_stops_start_up():
    with pytest.raises(locks.LockError, match="lock 'start_gate' is registered twice"):
        create_app(NO_DATABASE, plugins=(_plugin(_Dummy),))


def test_a_lock_that_is_not_a_lock_class_stops_start_up():
    with pytest.raises(locks.LockError, match="is not a Lock subclass"):
        create_app(NO_DATABASE, plugins=(_plugin(dict),))


def test_onscreen_plugins_lists_the_locks():
    result = create_app(NO_DATABASE).test_cli_runner().invoke(args=["plugins", "--json"])
    described = {p["name"]: p for p in json.loads(result.output)}
    assert described["plugins.lock_one_device"]["locks"] == ["one_device"]
    assert "register_locks" in described["plugins.lock_one_device"]["hooks"]
    assert all(f"plugins.lock_{n}" in DEFAULT_PLUGINS or n == "read_only_after_submit" for n in REGISTERED)
    text = create_app(NO_DATABASE).test_cli_runner().invoke(args=["plugins"]).output
    assert "plugins.lock_browser_signals: browser_signals" in text


def test_an_allow_list_without_the_lock_plugins_has_no_locks():
    app = create_app({**NO_DATABASE, "PLUGINS_ALLOWED": ["plugins.item_single_choice"]})
    assert locks.registry(app) == {}
    assert [p["locks"] for p in describe_plugins(app)] == [[]]


def test_an_always_on_lock_cannot_be_switched_off_by_a_sitting(app, demo, invigilator, candidate_factory):
    set_locks(app, demo["sitting_id"], spec_locks={"one_device": {}},
              sitting_locks={"start_gate": False, "one_device": False})
    with app.app_context():
        session = db.new_session(app)
        sitting = session.get(models.Sitting, demo["sitting_id"])
        configured = locks.effective_config(sitting.specification, sitting, locks.registry(app))
        session.close()
    assert set(configured) == {"start_gate", "read_only_after_submit"}  # one_device is off here
    browser = candidate_factory("0001")
    browser.sign_in()
    assert browser.item_page(1).headers["Location"].endswith("/details")  # the start gate still holds
    assert browser.client.get("/details", headers=HX).status_code == 200
