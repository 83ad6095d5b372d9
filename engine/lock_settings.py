"""Small checks the locks share for their settings, each returning ``[(path, message)]``."""
from __future__ import annotations

import ipaddress
import re

HEX64 = re.compile(r"^[0-9a-f]{64}\Z")


def boolean(settings: dict, key: str) -> list:
    return [] if isinstance(settings.get(key), bool) else [((key,), "must be true or false")]


def whole_number(settings: dict, key: str, low: int, high: int) -> list:
    value = settings.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return [((key,), f"must be a whole number from {low} to {high}")]
    return []


def one_of(settings: dict, key: str, choices: tuple[str, ...]) -> list:
    if settings.get(key) not in choices:
        return [((key,), f"must be one of {', '.join(choices)}, not {settings.get(key)!r}")]
    return []


def string_list(settings: dict, key: str) -> list:
    value = settings.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [((key,), "must be a list of strings")]
    return []


def networks(settings: dict, key: str) -> list:
    """A list of CIDR ranges such as 10.20.0.0/16 or 2001:db8::/48."""
    problems = string_list(settings, key)
    if problems:
        return problems
    for index, text in enumerate(settings[key]):
        try:
            ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            problems.append(((key, index), f"{text!r} is not an IP range (write it like 10.20.0.0/16)"))
    return problems


def hex_keys(settings: dict, key: str) -> list:
    """SHA-256 keys as 64 lower-case hexadecimal characters (as Safe Exam Browser shows them)."""
    problems = string_list(settings, key)
    if problems:
        return problems
    return [((key, index), "must be 64 hexadecimal characters (copy it from the SEB configuration tool)")
            for index, text in enumerate(settings[key]) if not HEX64.match(text.strip().lower())]
