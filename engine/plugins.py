"""The plugin manager: built-ins, entry points, the allow-list and the registries.

One manager per app, made in ``create_app()`` and kept in ``app.extensions``.
"""
from __future__ import annotations

import importlib
import importlib.metadata

import pluggy
from flask import Flask, current_app

from engine import hookspecs

#: The built-in plugins: ordinary plugins, loaded the same way a third party's would be.
DEFAULT_PLUGINS = (
    "plugins.item_single_choice",
    "plugins.item_multiple_response",
    "plugins.item_matching",
    "plugins.item_ordering",
    "plugins.item_gap_select",
    "plugins.item_text_entry",
    "plugins.item_numeric",
    "plugins.item_short_text",
    "plugins.item_extended_response",
    "plugins.lock_start_gate",
    "plugins.lock_sitting_window",
    "plugins.lock_centre_network",
    "plugins.lock_one_device",
    "plugins.lock_browser_signals",
    "plugins.lock_safe_exam_browser",
    "plugins.lock_read_only",
)

ENTRY_POINT_GROUP = "onscreen.plugins"
EXTENSION_KEY = "onscreen.plugins"


class PluginError(RuntimeError):
    """A plugin cannot be loaded or registers something that clashes; start-up stops."""


def make_plugin_manager(allowed: list[str] | None = None, extra: tuple = ()) -> pluggy.PluginManager:
    """Build a plugin manager from the built-ins, entry points and ``extra`` plugin objects.

    :param allowed: if given, only plugins whose name is in this list are loaded; an exam
        server can so refuse anything it was not set up with.
    :param extra: plugin modules or objects registered directly (tests, embedding).
    """
    pm = pluggy.PluginManager("onscreen")
    pm.add_hookspecs(hookspecs)

    def permitted(name: str) -> bool:
        return allowed is None or name in allowed

    for module_name in DEFAULT_PLUGINS:
        if permitted(module_name):
            pm.register(importlib.import_module(module_name), name=module_name)
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if permitted(entry_point.name) and pm.get_plugin(entry_point.name) is None:
            pm.register(entry_point.load(), name=entry_point.name)
    for plugin in extra:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        if permitted(name):
            pm.register(plugin, name=name)
    pm.check_pending()
    return pm


def build_item_type_registry(pm: pluggy.PluginManager) -> dict[str, type]:
    """Collect item types by ``type_name``; a duplicate name is a start-up error."""
    return {name: cls for name, (cls, _plugin) in _item_types_by_plugin(pm).items()}


def _item_types_by_plugin(pm: pluggy.PluginManager) -> dict[str, tuple[type, str]]:
    """``type_name`` -> (class, name of the plugin that registered it)."""
    from engine.item_types import ItemType

    registry: dict[str, tuple[type, str]] = {}
    for impl in pm.hook.register_item_types.get_hookimpls():
        for item_type in impl.function() or []:
            if not (isinstance(item_type, type) and issubclass(item_type, ItemType)):
                raise PluginError(f"{item_type!r} (from plugin {impl.plugin_name}) is not an ItemType subclass")
            name = item_type.type_name
            if not name:
                raise PluginError(f"{item_type.__qualname__} has no type_name")
            if name in registry:
                first = registry[name][0]
                raise PluginError(
                    f"item type {name!r} is registered twice: by {first.__module__}.{first.__qualname__} "
                    f"and by {item_type.__module__}.{item_type.__qualname__}"
                )
            registry[name] = (item_type, impl.plugin_name)
    return registry


def init_app(app: Flask, extra: tuple = ()) -> None:
    pm = make_plugin_manager(app.config.get("PLUGINS_ALLOWED"), extra=extra)
    app.extensions[EXTENSION_KEY] = pm
    by_plugin = _item_types_by_plugin(pm)
    app.extensions["onscreen.item_types"] = {name: cls() for name, (cls, _plugin) in by_plugin.items()}
    app.extensions["onscreen.item_type_plugins"] = {name: plugin for name, (_cls, plugin) in by_plugin.items()}
    from engine import locks
    locks.init_app(app)


def plugin_manager(app: Flask | None = None) -> pluggy.PluginManager:
    return (app or current_app).extensions[EXTENSION_KEY]


def item_types(app: Flask | None = None) -> dict:
    """The registry: ``type_name`` -> item-type instance."""
    return (app or current_app).extensions["onscreen.item_types"]


def item_type(type_name: str, app: Flask | None = None):
    try:
        return item_types(app)[type_name]
    except KeyError:
        raise PluginError(f"no plugin provides the item type {type_name!r}") from None


def describe_plugins(app: Flask) -> list[dict]:
    """What each loaded plugin registers, for ``onscreen plugins``."""
    pm = plugin_manager(app)
    registered_by = app.extensions["onscreen.item_type_plugins"]
    from engine.locks import plugin_of
    locks_by = plugin_of(app)
    described = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda pair: pair[0]):
        described.append(
            {
                "name": name,
                "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or []),
                "item_types": sorted(t for t, owner in registered_by.items() if owner == name),
                "locks": sorted(lock for lock, owner in locks_by.items() if owner == name),
            }
        )
    return described
