"""X3 type-3 messages -> typed errors that say what was refused and why.

X3 writes field-level refusals as "FIELD : value : reason" (FIELD(n) for a line). The mapping keys
on the field and on a few reason phrases; anything unrecognised stays a generic business error
carrying X3's own text.
"""

from __future__ import annotations

import re

from ..errors import (
    ClosedPeriod,
    MalformedRequest,
    SageBusinessError,
    SageConfigurationError,
    SageError,
    UnbalancedJournal,
    UnknownAccount,
    UnknownCustomer,
    UnknownItem,
    UnknownSite,
)

FIELD_ERRORS: dict[str, type[SageBusinessError]] = {
    "BPCORD": UnknownCustomer, "BPCINV": UnknownCustomer, "BPCPYR": UnknownCustomer, "BPCNUM": UnknownCustomer,
    "ITMREF": UnknownItem,
    "SALFCY": UnknownSite, "STOFCY": UnknownSite, "FCY": UnknownSite, "FCYLIN": UnknownSite,
    "ACC": UnknownAccount,
}
FIELD_AT_START = re.compile(r"^\s*([A-Z][A-Z0-9_]*)(?:\(\d+\))?\s*:")
PERIOD = re.compile(r"period\s+(closed|not open)|closed\s+period|p[ée]riode\s+(ferm|non ouverte)", re.I)
UNBALANCED = re.compile(r"unbalanced|not balanced|d[ée]s[ée]quilibr", re.I)
MALFORMED = re.compile(r"input xml refused|xml parse|syntax error|parse error", re.I)
MISSING = re.compile(r"does not exist|inexistant|not active|not a (sales|storage) site", re.I)


def refusal(messages: tuple[str, ...], refused: str) -> SageError:
    texts = tuple(m for m in messages if m) or ("X3 answered status 0 without a message",)
    for text in texts:
        lower = text.lower()
        if "no classic web service pool" in lower or (lower.startswith("web service") and "exist" in lower):
            return SageConfigurationError(text, refused=refused, messages=texts)
        if PERIOD.search(text):
            return ClosedPeriod(text, refused=refused, messages=texts)
        if UNBALANCED.search(text):
            return UnbalancedJournal(text, refused=refused, messages=texts)
        if MALFORMED.search(text):
            return MalformedRequest(text, refused=refused, messages=texts)
        match = FIELD_AT_START.match(text)
        if match and match.group(1) in FIELD_ERRORS and MISSING.search(text):
            return FIELD_ERRORS[match.group(1)](text, refused=refused, messages=texts)
    return SageBusinessError(texts[0], refused=refused, messages=texts)
