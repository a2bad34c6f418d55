-- 0008_mod_cases: the moderation record. Every action, by a moderator or by automod, is a
-- case; moderators quote its per-guild number.
--
--   * number counts per guild from 1; UNIQUE (guild_id, number) makes a duplicate number
--     impossible even if two actions race (bot/moderation/cases.py takes the next number
--     inside the inserting transaction).
--   * action is warn, timeout, untimeout, kick, ban, unban, delete, flag or purge,
--     validated in bot/moderation/cases.py (0002's convention: kinds are not listed here).
--   * reason is required: a case nobody can explain is not a record moderators can trust.
--   * evidence is the message content at the time, attachments the JSON list of its
--     attachments' file names: the message itself may be deleted by the action.
--   * duration_s is a timeout's length; expires_at is when a warning stops counting
--     towards escalation (NULL: never); closed_at/closed_by when a moderator closed it.
--   * A member's deletion request keeps the cases about them with evidence and
--     attachments removed, and unlinks (NULL) what they closed or noted as a moderator.
--   * user_id is the member the case is about, actor_id who acted (the bot's own id for
--     automod), closed_by who closed it. Safety records outlive a member's deletion
--     request in most communities: the data statement (issue 15) says what is kept.

CREATE TABLE mod_cases (
    id           INTEGER PRIMARY KEY,
    guild_id     INTEGER NOT NULL,
    number       INTEGER NOT NULL CHECK (number > 0),
    action       TEXT NOT NULL,
    user_id      INTEGER NOT NULL,
    actor_id     INTEGER NOT NULL,
    rule         TEXT,
    reason       TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    evidence     TEXT,
    attachments  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(attachments)),
    channel_id   INTEGER,
    message_id   INTEGER,
    duration_s   INTEGER CHECK (duration_s IS NULL OR duration_s > 0),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    closed_at    INTEGER,
    closed_by    INTEGER,
    UNIQUE (guild_id, number)
) STRICT;
CREATE INDEX mod_cases_user ON mod_cases (user_id, guild_id, created_at);

CREATE TABLE mod_case_notes (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES mod_cases (id) ON DELETE CASCADE,
    author_id   INTEGER,            -- NULL once its author asked to be deleted
    text        TEXT NOT NULL CHECK (length(trim(text)) > 0),
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX mod_case_notes_case ON mod_case_notes (case_id);
CREATE INDEX mod_case_notes_author ON mod_case_notes (author_id);

-- Per-guild case policy; a guild without a row uses the defaults in bot/moderation/cases.py.
CREATE TABLE mod_policy (
    guild_id                  INTEGER PRIMARY KEY,
    warn_expiry_days          INTEGER NOT NULL CHECK (warn_expiry_days BETWEEN 0 AND 3650),
    escalate_after            INTEGER NOT NULL CHECK (escalate_after BETWEEN 0 AND 100),
    escalate_window_days      INTEGER NOT NULL CHECK (escalate_window_days BETWEEN 1 AND 3650),
    escalate_timeout_minutes  INTEGER NOT NULL CHECK (escalate_timeout_minutes BETWEEN 1 AND 40320),
    dm_members                INTEGER NOT NULL CHECK (dm_members IN (0, 1)),
    appeal_text               TEXT,
    updated_at                INTEGER NOT NULL
) STRICT;
