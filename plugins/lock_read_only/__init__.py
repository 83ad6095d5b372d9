"""Read-only after submit, and results hidden from candidates unless the specification releases
them.

Settings (test.yaml, ``locks: {read_only_after_submit: {...}}``)::

    release_results: false   # true: a candidate may see their result once it is marked

Always on with the defaults. A finished attempt's item pages, saves, flags and submit are
refused; the candidate is sent to the "your test has finished" page.
"""
from __future__ import annotations

from engine import lock_settings
from engine.attempt_states import FINISHED
from engine.hookspecs import hookimpl
from engine.locks import RESULT_ENDPOINTS, Lock


class ReadOnlyAfterSubmit(Lock):
    name = "read_only_after_submit"
    title = "Read-only after submit"
    always = True
    defaults = {"release_results": False}

    @classmethod
    def validate(cls, settings):
        return lock_settings.boolean(settings, "release_results")

    def check(self, ctx):
        if ctx.stage != "page":
            return None
        if ctx.endpoint in RESULT_ENDPOINTS and not self.results_visible(ctx.attempt):
            return "Results for this test are not released to candidates: your centre will give you your result."
        if ctx.item_route and ctx.attempt.state == FINISHED:
            return "Your test has been submitted: answers can no longer be seen or changed."
        return None

    def results_visible(self, attempt) -> bool:
        """A candidate sees a result only if the specification releases results, the attempt
        is finished and marked, and (where results are released by staff) it was released."""
        result = attempt.result
        return (bool(self.settings["release_results"]) and attempt.state == FINISHED and result is not None
                and getattr(result, "released_at", True) is not None)

    def explained_by_state_page(self, ctx):
        return ctx.endpoint not in RESULT_ENDPOINTS

    def summary(self):
        shown = "released to candidates when marked" if self.settings["release_results"] else "hidden from candidates"
        return f"Answers read-only after submit; results {shown}."


@hookimpl
def register_locks():
    return [ReadOnlyAfterSubmit]
