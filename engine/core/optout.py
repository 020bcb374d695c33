"""Opt-out detection on inbound replies: the whole message must be an opt-out token.

Matching is on the *entire* normalised message, never a substring: ``"STOP"``,
``" stop! "``, ``"Stop."`` and ``"opt-out"`` opt out; ``"don't stop sending"`` and
``"stop by tomorrow?"`` do not (substring matching produced exactly that false positive in
other systems).

Normalisation (:func:`normalize_reply`), applied to the message and to every token alike:
Unicode NFKD, combining marks dropped (``ARRÊT`` == ``arret``), ``casefold``, every run
of characters that are not letters or digits (punctuation, symbols, emoji, whitespace,
``_``, ``-``) collapsed to one space, ends trimmed. So a quick-reply payload
``STOP_PROMO`` matches a configured ``stop_promo`` or ``STOP PROMO``.

Default tokens (:data:`DEFAULT_OPT_OUT_TOKENS`): English carrier-style keywords plus a few
common Latin-script localisations. Deliberately **not** included: ``CANCEL``, ``END``,
``QUIT``, ``NO``: in replies to utility templates (orders, bookings) they usually mean
something else. Campaign config can replace or extend the list and add the template's
own quick-reply payloads (``extra_payloads``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Final

__all__ = ["DEFAULT_OPT_OUT_TOKENS", "is_opt_out", "normalize_reply"]

DEFAULT_OPT_OUT_TOKENS: Final[tuple[str, ...]] = (
    # English
    "STOP",
    "STOP ALL",
    "STOPALL",
    "UNSUBSCRIBE",
    "UNSUB",
    "OPT OUT",
    "OPTOUT",
    # Spanish
    "BAJA",
    "DAR DE BAJA",
    # Portuguese (and Spanish "parar")
    "PARAR",
    "SAIR",
    "DESCADASTRAR",
    # French
    "ARRET",
    "DESABONNER",
    "DESINSCRIRE",
    # German
    "STOPP",
    "ABMELDEN",
    "ABBESTELLEN",
    # Italian
    "DISISCRIVIMI",
    # Dutch
    "AFMELDEN",
    "UITSCHRIJVEN",
    # Indonesian / Malay
    "BERHENTI",
)

#: Replies longer than this are never a bare token; skip normalising them.
_MAX_REPLY_CHARS: Final = 200


def normalize_reply(text: str) -> str:
    """Canonical form used for matching (see module docstring). Pure, never raises."""
    decomposed = unicodedata.normalize("NFKD", text)
    out: list[str] = []
    gap = False
    for ch in decomposed:
        category = unicodedata.category(ch)
        if category == "Mn":
            continue
        if category[0] in "LN" or category in ("Mc", "Me"):
            if gap and out:
                out.append(" ")
            out.append(ch)
            gap = False
        else:
            gap = True
    return "".join(out).casefold()


@lru_cache(maxsize=64)
def _token_set(tokens: tuple[str, ...]) -> frozenset[str]:
    return frozenset(n for n in (normalize_reply(t) for t in tokens) if n)


def is_opt_out(
    text_or_payload: str | None,
    tokens: Iterable[str] = DEFAULT_OPT_OUT_TOKENS,
    extra_payloads: Iterable[str] = (),
) -> bool:
    """True when the whole reply (text body, button text or payload) is an opt-out token
    or one of ``extra_payloads`` after normalisation. ``None``/empty -> ``False``."""
    if not text_or_payload or len(text_or_payload) > _MAX_REPLY_CHARS:
        return False
    normalized = normalize_reply(text_or_payload)
    if not normalized:
        return False
    return normalized in _token_set(tuple(tokens)) or normalized in _token_set(
        tuple(extra_payloads)
    )
