"""Classifier heads on frozen hidden states: training beats the majority class, the saved
folder loads back (safetensors, no pickle), and `lm classify` prints one JSON object per
line with a label and a probability per label."""

import csv
import json

import pytest
import torch

from lm.classify import Head, fit, parse_label_map, read_labelled
from lm.cli import main
from lm.errors import LMError

GOOD = ["lovely soft fabric", "great fit and colour", "wonderful quality, love it",
        "perfect, so happy", "beautiful and comfy"]
BAD = ["awful, it broke", "terrible stitching", "cheap and scratchy, returned it",
       "horrible smell", "broken zip, very poor"]


def write_reviews(path, n=60):
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Review Text", "Rating"])
        for i in range(n):
            writer.writerow([GOOD[i % 5], 5] if i % 3 else [BAD[i % 5], 1])
            if i % 7 == 0:
                writer.writerow(["", 4])  # no text: skipped
    return path


def test_training_on_a_small_slice_beats_the_majority_class(tmp_path, model_dir, capsys):
    data = write_reviews(tmp_path / "reviews.csv")
    out = tmp_path / "sentiment"
    assert main(["train-classifier", "--data", f"{data}:Review Text", "--label-column", "Rating",
                 "--label-map", "1,2=negative;4,5=positive", "--backbone", str(model_dir),
                 "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["examples"] == 60 and report["labels"] == {"positive": 40, "negative": 20}
    assert report["train_accuracy"] > 40 / 60  # better than always saying "positive"
    assert sorted(p.name for p in out.iterdir()) == ["head.safetensors", "labels.json"]

    probe = tmp_path / "probe.txt"
    probe.write_text("terrible stitching\n\nlovely soft fabric\n")
    assert main(["classify", "--model", str(out), "--input", str(probe)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == ["terrible stitching", "lovely soft fabric"]
    assert [line["label"] for line in lines] == ["negative", "positive"]
    for line in lines:
        assert set(line["scores"]) == {"negative", "positive"}
        assert abs(sum(line["scores"].values()) - 1) < 1e-3


def test_a_head_round_trips_and_a_broken_folder_is_one_clear_error(tmp_path):
    features = torch.randn(20, 8)
    targets = (features[:, 0] > 0).long()
    head = fit(features, targets, ["no", "yes"], layer=1, backbone="b", steps=200)
    head.save(tmp_path / "h")
    loaded = Head.load(tmp_path / "h")
    assert loaded.labels == ["no", "yes"] and loaded.tensors["w1"].shape[0] == 5  # five members
    # weights are stored in float16: the probabilities move by far less than a label needs
    assert torch.allclose(loaded.probabilities(features), head.probabilities(features), atol=2e-3)
    (tmp_path / "h" / "labels.json").write_text("{}")
    with pytest.raises(LMError, match="broken classifier"):
        Head.load(tmp_path / "h")
    with pytest.raises(LMError, match="not a classifier folder"):
        Head.load(tmp_path / "missing")


def test_bad_training_input_is_refused_with_the_reason(tmp_path):
    data = write_reviews(tmp_path / "r.csv")
    with pytest.raises(LMError, match="no column 'Stars'"):
        read_labelled(f"{data}:Review Text", "Stars", {})
    with pytest.raises(LMError, match="not VALUES=LABEL"):
        parse_label_map("1,2 negative")
    with pytest.raises(LMError, match="at least two labels"):
        read_labelled(f"{data}:Review Text", "Rating", {"5": "positive"})


def test_the_held_out_split_is_every_tenth_row_and_shuffling_keeps_pairs(tmp_path):
    path = tmp_path / "r.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Text", "Stars"])
        for i in range(40):
            writer.writerow([f"review {i}", 5 if i % 4 < 2 else 1])
    spec = f"{path}:Text"
    test, _ = read_labelled(spec, "Stars", {}, split="test")
    train, _ = read_labelled(spec, "Stars", {}, split="train")
    assert test == [f"review {i}" for i in range(0, 40, 10)]
    assert len(train) == 36 and not set(train) & set(test)
    texts, labels = read_labelled(spec, "Stars", {}, limit=12, seed=3, split="train")
    assert len(texts) == 12 and texts != sorted(texts, key=lambda t: int(t.split()[1]))
    assert all(label == ("5" if int(t.split()[1]) % 4 < 2 else "1") for t, label in zip(texts, labels))
