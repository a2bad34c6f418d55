import gzip
import json

import pytest

from lm.clean import clean_text, load_corpus, scrub_pii
from lm.data import is_validation
from lm.errors import LMError
from lm.sources import Chat, parse_source


def test_text_file_blocks(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("first block\nstill first\n\n\nsecond\n  \nthird\n")
    assert load_corpus([str(f)]) == ["first block\nstill first", "second", "third"]


def test_csv_gz_columns_and_unknown_column(tmp_path):
    f = tmp_path / "r.csv.gz"
    with gzip.open(f, "wt", newline="") as g:
        g.write(',Title,Review Text\n0,Nice,"Love it,  really"\n1,,Too &#39;small&#39;\n2,,\n')
    assert load_corpus([f"{f}:Title,Review Text"]) == ["Nice\nLove it, really", "Too 'small'"]
    with pytest.raises(LMError, match="unknown column 'Rating'"):
        load_corpus([f"{f}:Rating"])
    with pytest.raises(LMError, match="name the CSV column"):
        parse_source(str(f))


def test_shared_reviews(reviews_csv):
    docs = load_corpus([f"{reviews_csv}:Title,Review Text"], limit=50)
    assert len(docs) == 50 and all(isinstance(d, str) and d for d in docs)
    assert not any("&#39;" in d for d in docs)


def test_jsonl_fields_and_unknown_field(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text('{"name": "Linen shirt", "blurb": "Breathable."}\n\n{"name": "Cap"}\n')
    assert load_corpus([f"{f}:name,blurb"]) == ["Linen shirt\nBreathable.", "Cap"]
    with pytest.raises(LMError, match="unknown field 'desc'"):
        load_corpus([f"{f}:desc"])
    f.write_text('{"name": 1}\nnot json\n')
    with pytest.raises(LMError, match="line 2 is not JSON"):
        load_corpus([f"{f}:name"])


def test_chat_jsonl(tmp_path):
    f = tmp_path / "chat.jsonl"
    rec = {"messages": [{"role": "user", "content": "mail me at a.b@shop.com"},
                        {"role": "assistant", "content": "Sure!"}]}
    f.write_text(json.dumps(rec) + "\n")
    [doc] = load_corpus([str(f)])
    assert doc == Chat((("user", "mail me at <email>"), ("assistant", "Sure!")))
    f.write_text(json.dumps({"messages": [{"role": "robot", "content": "x"}]}) + "\n")
    with pytest.raises(LMError, match="role"):
        load_corpus([str(f)])


def test_chitchat_turns_alternate_roles():
    docs = load_corpus(["chitchat"], limit=20)
    assert all(isinstance(d, Chat) for d in docs)
    roles = [r for r, _ in docs[0].messages]
    assert roles[0] == "user" and set(roles) == {"user", "assistant"}
    assert all(a != b for a, b in zip(roles, roles[1:]))


def test_missing_binary_and_empty(tmp_path):
    with pytest.raises(LMError, match="no such file"):
        load_corpus([str(tmp_path / "nope.txt")])
    b = tmp_path / "blob.txt"
    b.write_bytes(bytes(range(128, 256)) * 4)
    with pytest.raises(LMError, match="not UTF-8"):
        load_corpus([str(b)])
    e = tmp_path / "empty.txt"
    e.write_text("\n\n   \n")
    with pytest.raises(LMError, match="empty corpus"):
        load_corpus([str(e)])


def test_cleaning_keeps_cjk_and_full_width():
    assert clean_text("Ｆｕｌｌ　ｗｉｄｔｈ，全角！") == "Ｆｕｌｌ　ｗｉｄｔｈ，全角！"
    assert clean_text("cafe\u0301") == "café"  # NFC composes
    assert clean_text("a &amp; b &lt;3") == "a & b <3"
    assert clean_text("  x \t y  \r\n\n\n\nz\x00 ") == "x y\n\nz"


def test_duplicates_dropped(tmp_path):
    f = tmp_path / "d.txt"
    f.write_text("same\n\nsame \n\nother\n")
    assert load_corpus([str(f)]) == ["same", "other"]


def test_pii_scrub():
    text = ("mail jo.doe+x@example.co.uk or call +1 (555) 123-4567 / 020 7946 0958, "
            "ping <@123456789012345678> in <#234567890123456789> for <@&345678901234567890>, "
            "user id 456789012345678901. My order 1234 is size 10.")
    out = scrub_pii(text)
    assert out == ("mail <email> or call <phone> / <phone>, ping <user> in <channel> for "
                   "<role>, user id <id>. My order 1234 is size 10.")


def test_pii_scrub_default_only_for_chat_sources(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("write to help@shop.com\n")
    assert load_corpus([str(f)]) == ["write to help@shop.com"]
    assert load_corpus([str(f)], scrub="on") == ["write to <email>"]


def test_split_is_deterministic_and_about_the_fraction():
    docs = [f"document number {i}" for i in range(5000)]
    val = [d for d in docs if is_validation(d, 0.1)]
    assert val == [d for d in docs if is_validation(d, 0.1)]
    assert 400 < len(val) < 600
