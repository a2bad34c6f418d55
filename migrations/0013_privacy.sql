-- 0013_privacy: consent and retention.
--
-- guild_settings gains the guild's consent modes, 'on', 'opt-in' or 'off' (checked in code,
-- bot/privacy/consent.py; NULL is the default: archiving on, training opt-in), and a
-- retention period in days (NULL: kept until deleted), which a daily job enforces on the
-- archive.
ALTER TABLE guild_settings ADD COLUMN archive_consent TEXT;
ALTER TABLE guild_settings ADD COLUMN training_consent TEXT;
ALTER TABLE guild_settings ADD COLUMN retention_days INTEGER CHECK (retention_days > 0);

-- A member's own choices, 'in' or 'out' (NULL: the guild's default), and when they were
-- told what is kept. Not tied to the members row: an opt-out outlives the erasure of
-- everything else about the member, or their next message would be stored again.
-- Member data: user_id.
CREATE TABLE member_consent (
    guild_id     INTEGER NOT NULL,
    user_id      INTEGER NOT NULL,
    storage      TEXT,
    training     TEXT,
    notified_at  INTEGER,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX member_consent_user ON member_consent (user_id, guild_id);
