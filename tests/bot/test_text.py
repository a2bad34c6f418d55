"""2,000-character splitting on sensible boundaries, mention defusing and cleanup."""

import random

import pytest

from bot.core.text import DISCORD_LIMIT, ZWSP, clean_text, defuse_mentions, split_message


def words(n, seed=0):
    rnd = random.Random(seed)
    return " ".join(rnd.choice(["linen", "shirt", "runs", "large", "wash", "cold"]) for _ in range(n))


def test_short_text_is_one_chunk_and_blank_text_is_none():
    assert split_message("  hello  ") == ["hello"]
    assert split_message(" \n\n ") == []


def test_every_chunk_fits_and_no_word_is_lost():
    text = words(1500)
    chunks = split_message(text)
    assert len(chunks) > 1
    assert all(0 < len(c) <= DISCORD_LIMIT for c in chunks)
    assert " ".join(chunks).split() == text.split()


def test_prefers_paragraphs_then_lines_then_sentences():
    para_a, para_b = "A" * 1200, "B" * 1200
    assert split_message(f"{para_a}\n\n{para_b}") == [para_a, para_b]

    line_a, line_b, line_c = ("first " * 100).strip(), ("second " * 100).strip(), "third " * 200
    assert split_message(f"{line_a}\n{line_b}\n{line_c}")[0] == f"{line_a}\n{line_b}"

    sentence = "The linen shirt runs large, so size down. "
    chunks = split_message(sentence * 60)
    assert all(c.endswith("size down.") for c in chunks)


def test_a_word_longer_than_the_limit_is_cut_hard():
    chunks = split_message("x" * 4500)
    assert [len(c) for c in chunks] == [2000, 2000, 500]


def test_split_moves_before_a_code_block_when_it_can():
    prose = words(200)  # about 1,000 characters
    code = "```python\n" + "\n".join(f"print({i})" for i in range(150)) + "\n```"
    chunks = split_message(f"{prose}\n{code}")
    assert chunks[0] == prose
    assert chunks[1].startswith("```python\n")


def test_a_code_block_longer_than_the_limit_is_closed_and_reopened():
    lines = [f"    value_{i} = compute({i})" for i in range(200)]
    text = "```py\n" + "\n".join(lines) + "\n```"
    chunks = split_message(text)
    assert len(chunks) > 1
    for chunk in chunks:
        assert len(chunk) <= DISCORD_LIMIT
        assert chunk.startswith("```py\n") and chunk.endswith("```")
    # Indentation inside the code survives the split.
    body = [line for c in chunks for line in c.splitlines() if not line.startswith("```")]
    assert body == lines


def test_small_limits_are_refused():
    with pytest.raises(ValueError):
        split_message("text", limit=50)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("hi @everyone and @here", f"hi @{ZWSP}everyone and @{ZWSP}here"),
        ("@EVERYONE", f"@{ZWSP}EVERYONE"),
        ("<@123> <@!456> <@&789>", f"<@{ZWSP}123> <@{ZWSP}!456> <@{ZWSP}&789>"),
        # Over-matching is harmless (an invisible character), under-matching is not.
        ("mail a@here.com", f"mail a@{ZWSP}here.com"),
    ],
)
def test_defuse_mentions(raw, expected):
    assert defuse_mentions(raw) == expected


def test_clean_text_drops_controls_but_keeps_layout():
    assert clean_text("a\x00b\x1b[31m\tc\nd\x7f\ud800") == "ab[31m\tc\nd"
