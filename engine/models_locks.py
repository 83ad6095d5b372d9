"""Models for locks (kept beside engine.models, imported at its end so one metadata holds all)."""
from __future__ import annotations

from engine.models import Base  # noqa: F401
