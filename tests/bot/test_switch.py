"""Switching the model: the held-out check accepts a model no worse and refuses a worse one
with both figures, `model use` records only what passed, a later start loads it, and a
running bot swaps it in (the old model closed) without a restart."""

import asyncio
import json
import shutil
from pathlib import Path

import pytest
import torch

from bot.cli import _model_dir, main
from bot.config import load_settings
from bot.firstrun import DEMO_DIR
from bot.switch import ModelSlot, check, chosen, switch_job
from lm.checkpoint import load_model, save_model
from tests.bot.harness import ScriptedModel

DEMO = [str(DEMO_DIR / "community.jsonl")]


@pytest.fixture(scope="module")
def worse_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model made confidently wrong: its output layer scaled 30 times."""
    model = load_model(tiny_model_dir, device="cpu")
    with torch.no_grad():
        model.lm_head.weight.mul_(30.0)
    out = tmp_path_factory.mktemp("worse")
    save_model(model, tiny_model_dir / "tokenizer.model", out)
    return out


def test_the_check_accepts_no_worse_and_refuses_worse(tiny_model_dir, worse_model_dir):
    same = check(tiny_model_dir, tiny_model_dir, DEMO)
    assert same["accepted"] and same["ratio"] == 1.0 and same["held_out_documents"] > 0
    worse = check(tiny_model_dir, worse_model_dir, DEMO)
    assert not worse["accepted"] and worse["ratio"] > 1.02
    assert worse["candidate_bits_per_byte"] > worse["current_bits_per_byte"]


def test_model_use_records_only_a_model_that_passes(tmp_path, monkeypatch, capsys,
                                                    tiny_model_dir, worse_model_dir):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODEL_DIR", str(tiny_model_dir))
    assert main(["model", "use", str(worse_model_dir), "--data", *DEMO]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["accepted"] is False
    assert "error: refused:" in captured.err and "bits per byte" in captured.err
    database = tmp_path / "data" / "bot.db"
    assert chosen(database) is None

    copy = tmp_path / "tuned"
    shutil.copytree(tiny_model_dir, copy)
    assert main(["model", "use", str(copy), "--data", *DEMO]) == 0
    assert chosen(database) == copy
    monkeypatch.delenv("MODEL_DIR")  # a later start without MODEL_DIR loads the choice
    settings = load_settings(env_file=None)
    assert _model_dir(settings, type("Args", (), {})()) == copy
    assert main(["model", "use", str(tmp_path / "missing")]) == 2


async def test_a_running_bot_swaps_to_the_recorded_model(db):
    old, new = ScriptedModel("from the old"), ScriptedModel("from the new")
    closed = []

    async def close(drain_timeout=10.0):
        closed.append("old")
    old.close = close
    slot = ModelSlot(old, Path("/models/old"))
    loads = []

    async def load(folder):
        loads.append(folder)
        if folder == Path("/models/broken"):
            raise RuntimeError("no weights")
        return new

    job = asyncio.create_task(switch_job(slot, db, load, every_s=0.01)())
    await asyncio.sleep(0.05)
    assert loads == [] and slot.model is old  # nothing recorded: nothing to do
    await db.write("INSERT INTO model_choice VALUES (1, '/models/broken', 0, 1.0, 1.0)")
    await asyncio.sleep(0.05)
    assert slot.model is old and loads == [Path("/models/broken")]  # tried once, kept
    await db.write("UPDATE model_choice SET path = '/models/new'")
    for _ in range(100):
        if slot.model is new:
            break
        await asyncio.sleep(0.01)
    job.cancel()
    assert slot.model is new and slot.folder == Path("/models/new") and closed == ["old"]
    assert loads == [Path("/models/broken"), Path("/models/new")]


def test_export_fine_tune_and_use_end_to_end(tmp_path, monkeypatch, capsys, tiny_model_dir):
    """The learning loop on the tiny model: the archive's conversations exported, a few
    fine-tuning steps from the model in use, and `model use` scoring the result on the
    conversations training held out."""
    from bot.privacy.consent import Consent
    from bot.store import Archive, ArchivedMessage, Database
    from lm.cli import main as lm_main

    async def seed():
        db = await Database.open(tmp_path / "data" / "bot.db")
        await Consent(db).set_guild(5, "training_consent", "on")
        rows = []
        for i in range(40):  # forty two-message conversations
            rows += [ArchivedMessage(1000 + 2 * i, 5, 50, 1, f"does the shirt {i} run small?", i),
                     ArchivedMessage(1001 + 2 * i, 5, 50, 2, f"a little, size up for {i}", i,
                                     reply_to_id=1000 + 2 * i)]
        await Archive(db).add_many(rows)
        await db.close()

    (tmp_path / "data").mkdir()
    asyncio.run(seed())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODEL_DIR", str(tiny_model_dir))
    corpus = tmp_path / "corpus.jsonl"
    assert main(["export-corpus", str(corpus)]) == 0
    assert len(corpus.read_text().splitlines()) == 40
    tuned = tmp_path / "tuned"
    assert lm_main(["train", "--preset", "finetune", "--init-from", str(tiny_model_dir),
                    "--data", str(corpus), "--out", str(tuned), "--max-steps", "3",
                    "--device", "cpu"]) == 0
    capsys.readouterr()
    code = main(["model", "use", str(tuned)])  # held-out text: the latest export
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["data"] == [str(corpus)] and result["held_out_documents"] > 0
    assert code == (0 if result["accepted"] else 1)
    assert (chosen(tmp_path / "data" / "bot.db") == tuned) == result["accepted"]
