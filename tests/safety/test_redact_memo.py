"""The redactor remembers texts it found clean, and only those: a repeated text gets the same
answer as the first time, and a text that held a secret is never kept in the process."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import tools.redact as redactor
from tools.redact import redact

SECRET = "MISTRAL_API_KEY=Qw3rTy7uIoP9aSdF2gHjK4lZ5xCvB6nM"


def test_a_secret_is_redacted_every_time_and_never_remembered() -> None:
    text = f"gateway said 401 for {SECRET} at 10:42"
    first, second = redact(text), redact(text)
    assert first == second
    assert "Qw3rTy7u" not in first.text and first.found["api_key"] == 1
    assert text not in redactor._CLEAN_TEXTS
    # What is remembered is the output, which is a fixed point.
    assert first.text in redactor._CLEAN_TEXTS
    assert redact(first.text).text == first.text and not redact(first.text).found


def test_a_clean_text_is_remembered_and_answered_the_same() -> None:
    text = "qa_agent over 30 min: error rate 0.0%, p95 910 ms, 120 req/min"
    assert redact(text).text == text
    assert text in redactor._CLEAN_TEXTS
    assert redact(text) == redactor._redact_uncached(text)


def test_the_memory_stays_bounded() -> None:
    for i in range(redactor._CLEAN_TEXTS_MAX + 10):
        redact(f"request {i} served")
    assert len(redactor._CLEAN_TEXTS) <= redactor._CLEAN_TEXTS_MAX


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120), st.sampled_from(["", SECRET, "mail maria.rossi@example.com"]))
def test_remembering_changes_no_answer(noise: str, secret: str) -> None:
    text = f"{noise} {secret}"
    expected = redactor._redact_uncached(text)
    assert redact(text) == expected
    assert redact(text) == expected
