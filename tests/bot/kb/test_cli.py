"""``python -m bot kb import|list|search``: JSON lines out, one ``error:`` line and status 2
for an operator's mistake."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.console import GUILD_ID
from bot.firstrun import DEMO_DIR
from tests.bot.kb.conftest import HEADER

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def kb_cli(tmp_path, monkeypatch, capsys):
    """``kb_cli(*args)`` runs ``python -m bot kb ARGS`` in process on a fresh database and
    returns (status, stdout as parsed JSON lines, stderr)."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    db = str(tmp_path / "data" / "bot.db")

    def run(*args):
        status = main(["kb", *map(str, args), "--db", db])
        out, err = capsys.readouterr()
        return status, [json.loads(line) for line in out.splitlines()], err

    return run


def test_import_list_and_search_the_demo_shop(kb_cli):
    status, out, _ = kb_cli("import", DEMO_DIR / "catalog.csv")
    assert status == 0
    assert out == [{"file": str(DEMO_DIR / "catalog.csv"), "guild": GUILD_ID, "added": 20,
                    "updated": 0, "unchanged": 0, "removed": 0}]
    assert kb_cli("import", DEMO_DIR / "faq.md")[1][0]["added"] == 22  # 21 questions and about
    assert kb_cli("import", DEMO_DIR / "faq.md", "--replace")[1][0]["unchanged"] == 22

    status, out, _ = kb_cli("list")
    assert status == 0
    assert out[0] == {"guild": GUILD_ID, "counts": {"product": 20, "faq": 21, "about": 1}}
    assert out[1] == {"kind": "product", "key": "JP-101", "title": "Harbour Linen Shirt", "price": "88",
                      "currency": "USD", "in_stock": True, "source": "catalog.csv"}
    assert out[-1] == {"kind": "about", "key": "about", "title": "Juniper & Pine", "source": "faq.md"}
    assert len(out) == 43

    status, out, _ = kb_cli("search", "how long does shipping to Canada take?", "--limit", "2")
    assert status == 0
    assert [(hit["rank"], hit["key"]) for hit in out] == [
        (1, "how long does shipping take"), (2, "how long do refunds take")]
    assert out[0]["score"] > out[1]["score"] > 0
    assert kb_cli("search", '"NEAR(*')[:2] == (0, [])


def test_guilds_are_separate(kb_cli, tmp_path):
    (tmp_path / "other.csv").write_text(HEADER + "A-1,Tidal Shirt,,50,,false,,,\n")
    assert kb_cli("import", tmp_path / "other.csv", "--guild", "77")[1][0]["guild"] == 77
    assert kb_cli("list", "--guild", "77")[1][0]["counts"]["product"] == 1
    assert kb_cli("list")[1] == [{"guild": GUILD_ID, "counts": {"product": 0, "faq": 0, "about": 0}}]
    assert kb_cli("search", "tidal shirt")[1] == []
    assert kb_cli("search", "tidal shirt", "--guild", "77")[1][0]["in_stock"] is False


def test_operator_mistakes_print_one_error_line_and_exit_2(kb_cli, tmp_path):
    (tmp_path / "bad.csv").write_text(HEADER.replace("url", "link") + "A,a,,1,,,,,\n")
    status, out, err = kb_cli("import", tmp_path / "bad.csv")
    assert (status, out) == (2, [])
    assert err.splitlines() == ["error: bad.csv: unknown column 'link' (the columns are sku, name, "
                                "category, price, currency, in_stock, attributes, description, url)"]
    status, _, err = kb_cli("import", tmp_path / "missing.md")
    assert status == 2 and err.startswith("error: cannot read ") and len(err.splitlines()) == 1
    with pytest.raises(SystemExit) as exited:  # argparse's own usage error, also status 2
        kb_cli("list", "--guild", "0")
    assert exited.value.code == 2


def test_the_module_entry_point_runs_kb_commands(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"} | {
        "DATABASE_PATH": str(tmp_path / "bot.db"), "DATA_DIR": str(tmp_path)}
    run = [sys.executable, "-m", "bot", "kb"]
    imported = subprocess.run([*run, "import", str(DEMO_DIR / "catalog.csv")], cwd=tmp_path, env=env,
                              capture_output=True, text=True, check=True)
    assert json.loads(imported.stdout)["added"] == 20
    found = subprocess.run([*run, "search", "waxed canvas tote", "--limit", "1"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, check=True)
    assert json.loads(found.stdout)["key"] == "JP-108"
