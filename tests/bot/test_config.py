"""Settings: defaults, one-line errors naming the key, precedence, and a token that never leaks."""

from pathlib import Path

import pytest

from bot.config import DEFAULT_PERSONA, AnswerChannels, ConfigError, load_settings

REPO = Path(__file__).resolve().parents[2]
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.secret-part-0123456789abcdefghij"


def load(env_file=None, **environ):
    return load_settings(env_file=env_file, environ=environ)


def test_defaults_without_any_configuration():
    settings = load()
    assert settings.console_mode and settings.discord_token is None
    assert settings.database_path == Path("data/bot.db")
    assert settings.data_dir == Path("data")
    assert settings.model_dir is None
    assert settings.answer_channels == AnswerChannels()
    assert settings.dev_guild_id is None and settings.modlog_default is None
    assert settings.persona == DEFAULT_PERSONA
    assert settings.reply_ping is False
    assert settings.member_cooldown_s == 10.0
    assert (settings.channel_concurrency, settings.max_new_tokens, settings.context_messages) == (2, 200, 20)
    assert settings.log_level == "INFO"


def test_valid_values_are_parsed(tmp_path):
    settings = load(
        DISCORD_TOKEN=TOKEN,
        DATA_DIR=str(tmp_path / "state"),
        MODEL_DIR=str(tmp_path),
        ANSWER_CHANNELS=" #Help-Desk, 123456789012345678 ,questions ",
        DEV_GUILD_ID="987654321098765432",
        MODLOG_CHANNEL="#mod-log",
        PERSONA="You are Tess, the helper of Acme Socks.",
        REPLY_PING="yes",
        MEMBER_COOLDOWN_S="0.5",
        CHANNEL_CONCURRENCY="32",
        MAX_NEW_TOKENS="1",
        CONTEXT_MESSAGES="0",
        LOG_LEVEL="debug",
    )
    assert settings.discord_token == TOKEN and not settings.console_mode
    assert settings.database_path == tmp_path / "state" / "bot.db"  # follows DATA_DIR
    assert settings.model_dir == tmp_path
    assert settings.answer_channels.ids == {123456789012345678}
    assert settings.answer_channels.names == {"help-desk", "questions"}
    assert settings.dev_guild_id == 987654321098765432
    assert settings.modlog_default == "mod-log"
    assert settings.reply_ping is True
    assert settings.member_cooldown_s == 0.5
    assert (settings.channel_concurrency, settings.max_new_tokens, settings.context_messages) == (32, 1, 0)
    assert settings.log_level == "DEBUG"


def test_answer_channels_matching():
    everywhere = load(ANSWER_CHANNELS="ALL").answer_channels
    assert everywhere.includes(1, "anything")
    listed = load(ANSWER_CHANNELS="help,42").answer_channels
    assert listed.includes(42, "general") and listed.includes(7, "Help")
    assert not listed.includes(7, "general")
    assert not AnswerChannels().includes(42, "help")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("MEMBER_COOLDOWN_S", "abc", "MEMBER_COOLDOWN_S: expected a number between 0 and 3600, got 'abc'"),
        ("MEMBER_COOLDOWN_S", "-1", "between 0 and 3600"),
        ("MEMBER_COOLDOWN_S", "3600.5", "between 0 and 3600"),
        ("MEMBER_COOLDOWN_S", "nan", "between 0 and 3600"),
        ("CHANNEL_CONCURRENCY", "0", "whole number between 1 and 32"),
        ("CHANNEL_CONCURRENCY", "2.5", "whole number between 1 and 32"),
        ("MAX_NEW_TOKENS", "2001", "between 1 and 2000"),
        ("CONTEXT_MESSAGES", "-3", "between 0 and 200"),
        ("CONTEXT_MESSAGES", "201", "between 0 and 200"),
        ("REPLY_PING", "maybe", "expected true or false, got 'maybe'"),
        ("LOG_LEVEL", "verbose", "expected one of DEBUG, INFO, WARNING, ERROR"),
        ("DEV_GUILD_ID", "my-server", "expected a Discord id"),
        ("DEV_GUILD_ID", "0", "expected a Discord id"),
        ("DEV_GUILD_ID", str(2**64), "expected a Discord id"),
        ("MODEL_DIR", "/definitely/not/here", "no such directory"),
        ("ANSWER_CHANNELS", "general, help desk", "expected a channel name or id, got 'help desk'"),
        ("MODLOG_CHANNEL", "#", "expected a channel name or id"),
        ("PERSONA", "x" * 4001, "at most 4000 characters, got 4001"),
        ("DISCORD_TOKEN", "not-a-token", "does not look like a bot token"),
        ("DISCORD_TOKEN", "Bot " + TOKEN, "paste only the token"),
    ],
)
def test_bad_value_names_the_key(key, value, expected):
    with pytest.raises(ConfigError) as error:
        load(**{key: value})
    message = str(error.value)
    assert message.startswith(f"{key}: ")
    assert expected in message
    assert "\n" not in message


def test_path_settings_reject_the_wrong_kind_of_file(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(ConfigError, match=r"^DATA_DIR: .* is not a directory$"):
        load(DATA_DIR=str(a_file))
    with pytest.raises(ConfigError, match=r"^DATABASE_PATH: .* is a directory"):
        load(DATABASE_PATH=str(tmp_path))


def test_token_never_appears_in_repr_describe_or_errors():
    settings = load(DISCORD_TOKEN=TOKEN)
    assert TOKEN not in repr(settings) and "discord_token" not in repr(settings)
    assert TOKEN not in str(settings)
    assert "discord_token=set" in settings.describe() and TOKEN not in settings.describe()
    assert "discord_token=not set" in load().describe()
    for broken in (TOKEN[:30] + " " + TOKEN[30:], "'" + TOKEN, TOKEN.replace(".", "", 1)):
        with pytest.raises(ConfigError) as error:
            load(DISCORD_TOKEN=broken)
        assert TOKEN[:20] not in str(error.value)


def test_environment_wins_over_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"LOG_LEVEL=ERROR\nMAX_NEW_TOKENS=50\nDISCORD_TOKEN={TOKEN}\n")
    settings = load(env_file, LOG_LEVEL="WARNING")
    assert settings.log_level == "WARNING"  # environment
    assert settings.max_new_tokens == 50  # only in the file
    assert settings.discord_token == TOKEN


def test_empty_values_mean_default_and_do_not_mask_the_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("MAX_NEW_TOKENS=50\nCONTEXT_MESSAGES=\n")
    settings = load(env_file, MAX_NEW_TOKENS="")
    assert settings.max_new_tokens == 50
    assert settings.context_messages == 20


def test_env_file_errors_name_the_file_and_never_the_token(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match=r"\.env: not a text \.env file"):
        load(env_file)
    env_file.write_bytes(b"\x01\x02\x03\x00\x04")
    with pytest.raises(ConfigError, match=r"\.env: not a text \.env file"):
        load(env_file)
    env_file.write_text(f'DISCORD_TOKEN="{TOKEN}\nLOG_LEVEL=INFO\n')  # unterminated quote
    with pytest.raises(ConfigError, match=r"\.env: line 1 is not KEY=value") as error:
        load(env_file)
    assert TOKEN not in str(error.value)


def test_env_file_details(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_bytes("\ufeffLOG_LEVEL=ERROR\n# comment\nexport PERSONA='Be brief'\n".encode())
    settings = load(env_file)
    assert settings.log_level == "ERROR"  # a byte-order mark does not hide the first key
    assert settings.persona == "Be brief"
    assert load(tmp_path / "missing.env") == load()
    with pytest.raises(ConfigError, match=r"cannot read"):
        load(tmp_path)  # a directory


def test_env_example_documents_every_key_and_loads():
    example = (REPO / ".env.example").read_text()
    keys = ["DISCORD_TOKEN", "DATABASE_PATH", "DATA_DIR", "MODEL_DIR", "ANSWER_CHANNELS",
            "DEV_GUILD_ID", "MODLOG_CHANNEL", "PERSONA", "REPLY_PING", "MEMBER_COOLDOWN_S",
            "CHANNEL_CONCURRENCY", "MAX_NEW_TOKENS", "CONTEXT_MESSAGES", "LOG_LEVEL"]
    for key in keys:
        assert f"{key}=" in example, key
    assert load(REPO / ".env.example") == load()
