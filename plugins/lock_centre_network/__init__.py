"""Centre network: candidates only from the centre's configured IP ranges.

Settings::

    use_centre_ranges: true   # the ranges recorded on the centre (exams officer's pages)
    extra_ranges: []          # more CIDR ranges for this test, e.g. ["10.99.0.0/24"]

The address is ``request.remote_addr`` after ``ProxyFix``: behind a reverse proxy, set
``ONSCREEN_PROXY_HOPS`` to the number of proxies you run, and only that many entries of
X-Forwarded-For are believed; without it the header is ignored, so a candidate cannot claim
the centre's address by sending the header themselves.
"""
from __future__ import annotations

import ipaddress

from engine import lock_settings
from engine.hookspecs import hookimpl
from engine.locks import Lock


class CentreNetwork(Lock):
    name = "centre_network"
    title = "Centre network"
    defaults = {"use_centre_ranges": True, "extra_ranges": []}

    @classmethod
    def validate(cls, settings):
        return lock_settings.boolean(settings, "use_centre_ranges") + lock_settings.networks(settings, "extra_ranges")

    def ranges(self, centre) -> list:
        texts = list(self.settings["extra_ranges"])
        if self.settings["use_centre_ranges"]:
            texts += list(centre.network_ranges or [])
        found = []
        for text in texts:
            try:
                found.append(ipaddress.ip_network(str(text).strip(), strict=False))
            except ValueError:
                continue  # checked on the way in; a bad stored range allows nothing
        return found

    def check(self, ctx):
        ranges = self.ranges(ctx.centre)
        if not ranges:
            return ("This test can only be taken on the centre's network, and no network is recorded for "
                    "the centre. Ask your invigilator.")
        try:
            address = ipaddress.ip_address(ctx.remote_addr)
        except ValueError:
            address = None
        if address is not None and getattr(address, "ipv4_mapped", None):
            address = address.ipv4_mapped
        if address is None or not any(address.version == net.version and address in net for net in ranges):
            return ("This test can only be taken on a computer in the exam room. This computer is not on the "
                    "centre's network: ask your invigilator.")
        return None

    def describe(self):
        return "This test requires a computer on the centre's exam-room network."

    def summary(self):
        parts = ["the centre's recorded ranges"] if self.settings["use_centre_ranges"] else []
        if self.settings["extra_ranges"]:
            parts.append(", ".join(self.settings["extra_ranges"]))
        return "Candidates only from " + (" and ".join(parts) or "no range (nobody can sign in)") + "."


@hookimpl
def register_locks():
    return [CentreNetwork]
