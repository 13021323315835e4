"""Every id a request names (user, item, neuron) is parsed here, and nowhere else.

An id is either an ASCII decimal of at most `MAX_DIGITS` digits or an exact label of at most
`MAX_LABEL` characters: nothing else is ever converted or looked up. Python's `str.isdigit`
accepts "²" and `int()` refuses numbers of more than 4,300 digits, so both are kept away from
them; errors quote at most `QUOTE` characters of what was sent, so a 5,000-character id never
comes back in a response or a log line.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping

from monorec.errors import UnknownIdError

MAX_DIGITS = 18  # fits an int64, more than any dataset or dictionary size
MAX_LABEL = 200
QUOTE = 40
ASCII_DECIMAL = re.compile(r"[0-9]+")


def quote(raw: object) -> str:
    """A short, safe rendering of what a client sent, for an error message."""
    try:
        text = str(raw)
    except ValueError:  # an integer past Python's 4,300-digit str() limit
        return f"an integer of about {raw.bit_length() * 0.30103:.0f} digits" if isinstance(raw, int) else "?"
    if len(text) <= QUOTE:
        return repr(text)[: 2 * QUOTE]  # escapes can lengthen it: cap the rendering too
    return f"{repr(text[:QUOTE])[: 2 * QUOTE]}… ({len(text)} characters)"


def as_index(raw: int | str) -> int | None:
    """`raw` as a non-negative integer when it is one (an int or an ASCII decimal string), else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, numbers.Integral):  # int, and numpy's integers from a DataFrame
        raw = int(raw)
        return raw if 0 <= raw < 10**MAX_DIGITS else None
    if isinstance(raw, str) and len(raw) <= MAX_DIGITS and ASCII_DECIMAL.fullmatch(raw):
        return int(raw)
    return None


def lookup(raw: int | str, index: Mapping[str, int], kind: str) -> int:
    """The position of a dataset id (user or item) in `index`, keyed by the id's text.

    Dataset ids are integers or strings ("alice"); an integer sent as 7 or "7" names the same
    id. Anything longer than an id can be is refused before it is looked up.
    """
    if isinstance(raw, bool) or not isinstance(raw, (numbers.Integral, str)):
        raise UnknownIdError(f"unknown {kind}: ids are integers or strings, got {type(raw).__name__}")
    raw = raw if isinstance(raw, str) else int(raw)
    text = raw if isinstance(raw, str) else str(raw) if abs(raw) < 10**MAX_DIGITS else ""
    if text and len(text) <= MAX_LABEL and text in index:
        return index[text]
    number = as_index(raw)
    if number is not None and str(number) in index:  # "007" names item 7 when the ids are integers
        return index[str(number)]
    raise UnknownIdError(f"unknown {kind} {quote(raw)}")


def neuron_ref(raw: int | str, n_latents: int, labels: Mapping[str, list[int]]) -> list[int]:
    """Neuron ids for a reference: an id in 0..n_latents-1, or a label carried by some neurons."""
    number = as_index(raw)
    if number is not None:
        if number >= n_latents:
            raise UnknownIdError(f"unknown neuron {quote(raw)}: the SAE has neurons 0..{n_latents - 1}")
        return [number]
    if isinstance(raw, str) and len(raw) <= MAX_LABEL and raw in labels:
        return list(labels[raw])
    if isinstance(raw, numbers.Integral) and not isinstance(raw, bool):
        raise UnknownIdError(f"unknown neuron {quote(raw)}: the SAE has neurons 0..{n_latents - 1}")
    known = ", ".join(sorted(labels)[:20])
    raise UnknownIdError(f"unknown neuron label {quote(raw)}; known labels: {known}")
