"""Safe Exam Browser: the request must come from SEB running this test's configuration.

SEB sends, on every request, ``X-SafeExamBrowser-ConfigKeyHash`` (SHA-256 of the full URL
followed by the Config Key) and ``X-SafeExamBrowser-RequestHash`` (the same with the Browser
Exam Key). Both change with the URL, so a copied header is no good on another page. The
User-Agent is never looked at: any browser can claim to be SEB.

Settings (at least one key)::

    config_keys: []         # Config Keys (64 hex characters), from SEB's configuration tool
    browser_exam_keys: []   # Browser Exam Keys, which also pin the SEB version
"""
from __future__ import annotations

import hashlib
import hmac

from engine import lock_settings
from engine.hookspecs import hookimpl
from engine.locks import Lock

CONFIG_KEY_HEADER = "X-SafeExamBrowser-ConfigKeyHash"
BROWSER_EXAM_KEY_HEADER = "X-SafeExamBrowser-RequestHash"


def request_hash(url: str, key: str) -> str:
    """What SEB sends for ``url`` with ``key``: hex SHA-256 of the URL (no fragment) + key."""
    return hashlib.sha256((url.split("#", 1)[0] + key.strip().lower()).encode()).hexdigest()


class SafeExamBrowser(Lock):
    name = "safe_exam_browser"
    title = "Safe Exam Browser"
    defaults = {"config_keys": [], "browser_exam_keys": []}
    example = {"config_keys": ["0" * 64]}

    @classmethod
    def validate(cls, settings):
        problems = lock_settings.hex_keys(settings, "config_keys") + lock_settings.hex_keys(settings, "browser_exam_keys")
        if not problems and not settings["config_keys"] and not settings["browser_exam_keys"]:
            problems.append((("config_keys",), "give at least one Config Key or Browser Exam Key"))
        return problems

    @staticmethod
    def _matches(sent: str | None, url: str, keys: list[str]) -> bool:
        sent = (sent or "").strip().lower()
        # Every key is tried, so the time taken says nothing about which came close.
        return bool(sent) and sum(hmac.compare_digest(sent, request_hash(url, key)) for key in keys) > 0

    def check(self, ctx):
        failed = []
        if self.settings["config_keys"] and not self._matches(ctx.headers.get(CONFIG_KEY_HEADER), ctx.url,
                                                              self.settings["config_keys"]):
            failed.append("configuration")
        if self.settings["browser_exam_keys"] and not self._matches(ctx.headers.get(BROWSER_EXAM_KEY_HEADER), ctx.url,
                                                                    self.settings["browser_exam_keys"]):
            failed.append("version")
        if not failed:
            return None
        return ("This test must be taken in Safe Exam Browser with the settings made for it, and this browser "
                f"did not prove it (its {' and '.join(failed)} did not match). Close this browser and open the test "
                "from the Safe Exam Browser link your invigilator gives you, or ask your invigilator.")

    def describe(self):
        return "This test requires Safe Exam Browser, opened from the link your centre gives you."

    def summary(self):
        return (f"Safe Exam Browser required: {len(self.settings['config_keys'])} Config Key(s), "
                f"{len(self.settings['browser_exam_keys'])} Browser Exam Key(s) accepted.")


@hookimpl
def register_locks():
    return [SafeExamBrowser]
