-- 0007_automod_rules: each guild's changes to the automod rules' defaults.
--
--   * One row per (guild, rule) a moderator changed; a rule without a row uses the
--     defaults in bot/moderation/config.py, so a better default reaches every guild that
--     never touched it.
--   * settings is the JSON object of what changed (enabled, actions, timeout_minutes,
--     exempt_roles, exempt_channels, params), validated in bot/moderation/config.py on
--     write and again on read; rule names are not listed in the schema (0002's
--     convention), the code names them.
--   * updated_by is a moderator's user id: a member's data, exported and unlinked (set
--     NULL) on a deletion request.

CREATE TABLE automod_rules (
    guild_id    INTEGER NOT NULL,
    rule        TEXT NOT NULL CHECK (length(rule) BETWEEN 1 AND 40),
    settings    TEXT NOT NULL CHECK (json_valid(settings) AND json_type(settings) = 'object'),
    updated_by  INTEGER,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (guild_id, rule)
) STRICT;
