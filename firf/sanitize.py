"""Text as it may arrive from outside (argv, JSON, a browser, bytes) made safe for the models.

Why: a lone surrogate ("\\ud800", which JSON and Python strings allow but UTF-8 does not) makes
the tokenizer raise a ``TypeError``; undecodable bytes reach Python as surrogate escapes from the
command line; and a megabyte of text costs time for nothing, as the encoder reads 128 tokens.
Every door (``firf.predict``, the command, the batch, the app) goes through ``clean_text``.
"""

from __future__ import annotations

import re

from firf.errors import InputError

MAX_TEXT_CHARS = 10_000  # far beyond the encoder's 128 tokens; longer text is cut with a warning

_SURROGATES = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean_text(text: object, max_chars: int = MAX_TEXT_CHARS) -> tuple[str, list[str]]:
    """(`text` safe for the tokenizer, warnings about what was changed).

    Bytes are decoded as UTF-8 with undecodable bytes replaced by U+FFFD; surrogate escapes
    (undecodable bytes from argv or a file name) become U+FFFD too and any other lone surrogate
    is removed; text longer than `max_chars` characters is cut.
    """
    warnings: list[str] = []
    if isinstance(text, (bytes, bytearray)):
        decoded = bytes(text).decode("utf-8", errors="replace")
        if REPLACEMENT in decoded and REPLACEMENT.encode() not in text:
            warnings.append("the text was not valid UTF-8; undecodable bytes were replaced")
        text = decoded
    elif not isinstance(text, str):
        raise InputError(f"text must be a string, got {type(text).__name__}")
    if _SURROGATES.search(text):
        text = _SURROGATES.sub(_surrogate_replacement, text)
        warnings.append(
            "the text held undecodable bytes or lone surrogates; they were replaced or removed"
        )
    if len(text) > max_chars:
        warnings.append(
            f"the text has {len(text):,} characters; only the first {max_chars:,} are analysed"
        )
        text = text[:max_chars]
    return text, warnings


def printable(message: str) -> str:
    """`message` on one line and encodable as UTF-8, for stderr, logs and JSON error records."""
    return " ".join(_SURROGATES.sub(_surrogate_replacement, str(message)).split())


def _surrogate_replacement(match: re.Match[str]) -> str:
    """U+FFFD for an escaped undecodable byte (U+DC80..U+DCFF), nothing for other surrogates."""
    return REPLACEMENT if "\udc80" <= match.group() <= "\udcff" else ""
