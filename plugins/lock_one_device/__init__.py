"""One device: an attempt is bound to the browser it was first signed in on.

At sign-in the browser gets a device token (a cookie signed by itsdangerous with a salt used for
nothing else, holding the attempt and a random device id kept on the attempt). A second browser
is refused at sign-in, and a request carrying no token, a forged one, or one from another
attempt or an older binding is refused, until the invigilator moves the candidate ("Move to
another workstation" releases the binding; the next browser to sign in is bound).

No settings.
"""
from __future__ import annotations

from engine import lock_state
from engine.hookspecs import hookimpl
from engine.locks import Lock


class OneDevice(Lock):
    name = "one_device"
    title = "One device"
    defaults = {}

    def _token_matches(self, ctx) -> bool:
        bound = lock_state.binding(ctx.db, ctx.attempt.id)
        if bound is None:
            return False
        carried = lock_state.device_of(ctx.secret_key, ctx.cookies.get(lock_state.DEVICE_COOKIE), ctx.attempt.id)
        return carried is not None and carried == bound.device_id

    def check(self, ctx):
        if ctx.stage == "sign_in":
            if lock_state.binding(ctx.db, ctx.attempt.id) is None or self._token_matches(ctx):
                return None
            return ("Your test is already open on another computer. If you need to move, ask your invigilator: "
                    "they will move you to this computer.")
        if not self._token_matches(ctx):
            return ("This computer is not the one your test is bound to. Sign in again, or ask your invigilator "
                    "to move you to this computer.")
        return None

    def after_sign_in(self, ctx):
        if not self._token_matches(ctx):
            bound = lock_state.bind_device(ctx.db, ctx.attempt, ctx.now, f"candidate:{ctx.attempt.entry.candidate_id}")
            ctx.set_cookies[lock_state.DEVICE_COOKIE] = lock_state.device_token(
                ctx.secret_key, ctx.attempt.id, bound.device_id)

    def describe(self):
        return "This test can be taken on one computer only; your invigilator can move you if it fails."

    def summary(self):
        return "Each attempt bound to one browser; a second is refused until the invigilator moves the candidate."


@hookimpl
def register_locks():
    return [OneDevice]
