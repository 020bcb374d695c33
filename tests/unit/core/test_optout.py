from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.optout import DEFAULT_OPT_OUT_TOKENS, is_opt_out, normalize_reply


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        " stop! ",
        "Stop.",
        "STOP 🛑",
        "\tSTOP\n",
        "Unsubscribe",
        "opt-out",
        "Opt Out",
        "stop all",
        "Arrêt",
        "ARRET!",
        "Baja",
        "dar de baja",
        "Stopp",
        "ＳＴＯＰ",  # full-width
        "«stop»",
    ],
)
def test_opt_out_yes(text: str) -> None:
    assert is_opt_out(text)


@pytest.mark.parametrize(
    "text",
    [
        "don't stop sending",
        "stop by tomorrow?",
        "please stop",
        "stopping",
        "bus stop",
        "cancel",  # deliberately not a default token
        "",
        None,
        "   ",
        "!!!",
        "stop" * 100,
    ],
)
def test_opt_out_no(text: str | None) -> None:
    assert not is_opt_out(text)


def test_extra_payloads_and_custom_tokens() -> None:
    assert is_opt_out("STOP_PROMO", extra_payloads=["STOP_PROMO"])
    assert is_opt_out("stop promo", extra_payloads=["STOP_PROMO"])
    assert not is_opt_out("STOP_PROMO")
    assert is_opt_out("cancel", tokens=["CANCEL"])
    assert not is_opt_out("stop", tokens=["CANCEL"])
    assert is_opt_out("stop", tokens=iter(["STOP"]))  # any iterable


def test_normalize_reply() -> None:
    assert normalize_reply("  Don't   STOP!! ") == "don t stop"
    assert normalize_reply("ÉTÉ_2026") == "ete 2026"
    assert normalize_reply("🛑") == ""


def test_defaults_are_normalized_and_documented() -> None:
    assert "STOP" in DEFAULT_OPT_OUT_TOKENS and "UNSUBSCRIBE" in DEFAULT_OPT_OUT_TOKENS
    assert all(normalize_reply(t) for t in DEFAULT_OPT_OUT_TOKENS)
    assert all(is_opt_out(t) for t in DEFAULT_OPT_OUT_TOKENS)


@given(st.text(max_size=60))
def test_never_raises_and_is_whole_message(text: str) -> None:
    result = is_opt_out(text)
    if result:
        assert normalize_reply(text) in {normalize_reply(t) for t in DEFAULT_OPT_OUT_TOKENS}


@given(st.text(min_size=1, max_size=20).filter(lambda s: normalize_reply(s) not in ("", "all")))
def test_stop_embedded_in_a_sentence_is_not_an_opt_out(words: str) -> None:
    normalized = normalize_reply(words)
    if normalized in {normalize_reply(t) for t in DEFAULT_OPT_OUT_TOKENS}:
        return
    assert not is_opt_out(f"{words} stop {words}")
