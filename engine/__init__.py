"""onscreen: a plugin-based engine for onscreen, on-demand, invigilated tests."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader

from engine.config import REPO_ROOT, load_settings


def create_app(config: dict | None = None, plugins: tuple = ()) -> Flask:
    """Build the app.

    :param config: settings that override the defaults and the ``ONSCREEN_*`` environment.
    :param plugins: extra plugin objects to register (tests, embedding).
    """
    from engine import attempts, candidate, cli, db, errors, preview, results, security, staff
    from engine import plugins as plugin_system
    from engine.web import format_marks, htmx_extension
    from invigilation import views as invigilation_views

    instance_path = os.environ.get("ONSCREEN_INSTANCE_PATH") or str(REPO_ROOT / "instance")
    app = Flask("engine", instance_path=instance_path, template_folder=str(REPO_ROOT / "templates"),
                static_folder=str(Path(__file__).parent / "static"))
    app.config.update(load_settings(app.instance_path, config))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    htmx_extension.init_app(app)
    db.init_app(app)
    plugin_system.init_app(app, extra=plugins)
    _template_loader(app)
    app.jinja_env.filters["marks"] = format_marks
    security.init_app(app)
    attempts.init_app(app)
    errors.init_app(app)
    from engine import access_tools, centre_admin, deployment, practice
    deployment.init_app(app)  # also /healthz
    from engine import staff_centres
    staff_centres.init_app(app)  # several centres per member of staff; the working centre
    access_tools.init_app(app)
    practice.init_app(app)
    from engine import authoring_views
    authoring_views.init_app(app)  # /author pages, /assets (issue 10)
    from engine import marking_views
    app.register_blueprint(marking_views.bp)  # /marking: the marker's queue (issue 8)
    for blueprint in (candidate.bp, staff.bp, invigilation_views.bp, results.bp, preview.bp, centre_admin.bp):
        app.register_blueprint(blueprint)
    from engine import lock_web
    lock_web.init_app(app)  # exam-condition locks: blocked page, browser signals, lock assets (issue 7)
    cli.init_app(app)
    from engine import quiet_polls
    quiet_polls.init_app(app)  # the waiting, timer and paused screens' polls, answered before Flask while nothing changes
    return app


def _template_loader(app: Flask) -> None:
    """Shared templates first, then each item type's folder as ``itemtype-<name>/``, then
    any folders plugins add."""
    from engine.plugins import item_types, plugin_manager

    by_type = {f"itemtype-{name}": FileSystemLoader(str(obj.template_folder))
               for name, obj in item_types(app).items() if obj.template_folder}
    extra = [path for paths in plugin_manager(app).hook.extra_template_paths() for path in paths]
    app.jinja_loader = ChoiceLoader([
        FileSystemLoader(str(REPO_ROOT / "templates")), PrefixLoader(by_type), FileSystemLoader(extra),
    ])
