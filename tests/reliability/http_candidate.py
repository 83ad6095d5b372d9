"""A candidate over real HTTP (urllib, no browser): sign in, confirm, and autosave with
idempotency keys, retrying a save that got no answer exactly as the page's script does."""
from __future__ import annotations

import http.client
import http.cookiejar
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')
#: Anything a browser would see as "the server did not answer properly": send it again.
TRANSIENT = (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError, http.client.HTTPException)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Reply:
    status: int
    body: str
    location: str | None = None


class HttpCandidate:
    def __init__(self, base_url: str, centre: str, number: str, keycode: str, timeout: float = 15):
        self.base, self.centre, self.number, self.keycode = base_url.rstrip("/"), centre, number, keycode
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())
        self.csrf = ""

    def request(self, method: str, path: str, data: dict | None = None, htmx: bool = False) -> Reply:
        """One request; a network failure raises one of ``TRANSIENT``."""
        body = urllib.parse.urlencode(data or {}, doseq=True).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, method=method)
        if htmx:
            req.add_header("HX-Request", "true")
        try:
            with self.opener.open(req, timeout=self.timeout) as response:
                return Reply(response.status, response.read().decode(), response.headers.get("Location"))
        except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx, 5xx
            with error:
                return Reply(error.code, error.read().decode(errors="replace"), error.headers.get("Location"))

    def sign_in(self) -> None:
        page = self.request("GET", "/start")
        reply = self.request("POST", "/start", {
            "centre_number": self.centre, "candidate_number": self.number, "keycode": self.keycode,
            "csrf_token": CSRF_FIELD.search(page.body).group(1)})
        if reply.status != 303:
            raise AssertionError(f"sign-in of {self.number} failed: {reply.status} {reply.body[:300]}")
        landing = self.request("GET", "/details")
        match = CSRF_HEADER.search(landing.body)
        if match is None:
            raise AssertionError(f"no CSRF token on {landing.status} {landing.location}")
        self.csrf = match.group(1)
        if landing.status == 200:  # the details page: confirm them (then wait for the start)
            self.request("POST", "/details", {"confirm": "yes", "csrf_token": self.csrf})

    def save_once(self, position: int, fields: dict, key: str) -> Reply:
        data = {"csrf_token": self.csrf, "idem": key, **{f"r-{k}": v for k, v in fields.items()}}
        return self.request("POST", f"/test/item/{position}", data, htmx=True)


def new_key() -> str:
    return uuid.uuid4().hex
