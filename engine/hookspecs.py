"""The hooks a plugin can implement. Nothing else lives in this module.

Hook names tell the shape of what they return: ``register_*`` returns a list of classes,
``extra_*`` a list of additions, ``on_*`` is a notification whose return is ignored.
Hooks are always called by keyword; an implementation takes only the arguments it needs.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("onscreen")
hookimpl = pluggy.HookimplMarker("onscreen")


@hookspec
def register_item_types():
    """Return a list of item-type classes (subclasses of :class:`engine.item_types.ItemType`).

    Called once by ``create_app()`` to build the item-type registry. Each class is keyed by its
    ``type_name``; two classes with the same name stop start-up with an error naming both.
    """


@hookspec
def register_locks():
    """Return a list of exam-condition lock classes (subclasses of :class:`engine.locks.Lock`).

    Called once by ``create_app()`` to build the lock registry. Each class is keyed by its
    ``name`` (the key under ``locks:`` in test.yaml); two classes with the same name stop
    start-up with an error naming both.
    """


@hookspec
def extra_template_paths():
    """Return a list of folders that the app searches for templates after its own.

    Called once by ``create_app()``. Item types need not use this: their ``template_folder``
    is found through the registry.
    """


@hookspec
def on_attempt_finished(attempt_id, reason):
    """Notification that an attempt has finished and been marked.

    Called by ``engine.attempts.finish`` after the finishing transaction has committed, so a
    slow or failing plugin can never hold a lock or lose the candidate's answers.
    ``reason`` is one of "submitted", "timed_out", "ended_by_invigilator".
    """
