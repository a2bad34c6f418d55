-- 0002_dm_guild_members_kinds: one guild key for direct messages, a member row for every
-- archived author, and no lists of kinds or actions in the schema.
--
--   * messages.guild_id becomes NOT NULL, with 0 for direct messages (was NULL): members and
--     member_facts already file DMs under guild 0 (see bot/store/keys.py), and one key lets
--     the three join with = and lets every member-data lookup use the same guild value.
--   * members is backfilled from the archive: from now on archiving a message upserts its
--     author's row (bot/store/archive.py), so every author the bot keeps words of has the row
--     an export or deletion request starts from.
--   * CHECK (x IN (...)) lists of kinds, actions and states made every new kind a table
--     rebuild. member_facts is rebuilt without its kind list (code validates kinds). Tables
--     no code used yet that held such lists or member data are dropped: member_interests,
--     member_sentiment, automod_rules, mod_flags, mod_cases, case_notes, drafts, schedules.
--     The features that will own them (insights, moderation, announcements) create tables
--     for their own specs in their own migrations.
--
-- Conventions, in addition to 0001's (keep them in later migrations):
--   * Applied migrations are immutable: change the schema in a new file, never an old one.
--   * guild_id is never NULL in member data or the archive: direct messages use 0.
--   * Kinds, actions and states are validated in code, not with CHECK (x IN (...)) lists,
--     so adding one needs no table rebuild. CHECKs keep to invariants of a row (ranges,
--     non-empty text, 0/1 booleans, one column implying another).
--   * Tables are rebuilt with SQLite's 12-step procedure (https://sqlite.org/lang_altertable.html,
--     "Making Other Kinds Of Table Schema Changes"): create new_X, copy, drop X, rename
--     new_X to X, recreate X's indexes and triggers. The runner does the steps around it:
--     foreign keys off, one transaction, foreign_key_check, commit, foreign keys on.

-- Dropped tables, children before parents. DROP TABLE drops their indexes too. -----------

DROP TABLE schedules;
DROP TABLE drafts;
DROP TABLE case_notes;
DROP TABLE mod_cases;
DROP TABLE mod_flags;
DROP TABLE automod_rules;
DROP TABLE member_interests;
DROP TABLE member_sentiment;

-- messages: guild_id NOT NULL, 0 for direct messages ---------------------------------------

-- Same columns, order, CHECKs and indexes as 0001 except guild_id. message_id stays the
-- rowid (INTEGER PRIMARY KEY), so copying keeps the time order of the table.
CREATE TABLE new_messages (
    message_id  INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,   -- 0 for direct messages
    channel_id  INTEGER NOT NULL,
    thread_id   INTEGER CHECK (thread_id <> channel_id),
    author_id   INTEGER NOT NULL,
    author_name TEXT NOT NULL DEFAULT '',
    is_bot      INTEGER NOT NULL DEFAULT 0 CHECK (is_bot IN (0, 1)),
    reply_to_id INTEGER,
    content     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    edited_at   INTEGER
) STRICT;
INSERT INTO new_messages (message_id, guild_id, channel_id, thread_id, author_id, author_name,
                          is_bot, reply_to_id, content, created_at, edited_at)
SELECT message_id, coalesce(guild_id, 0), channel_id, thread_id, author_id, author_name,
       is_bot, reply_to_id, content, created_at, edited_at
FROM messages ORDER BY message_id;
DROP TABLE messages;
ALTER TABLE new_messages RENAME TO messages;
CREATE INDEX messages_channel ON messages (channel_id, message_id) WHERE thread_id IS NULL;
CREATE INDEX messages_thread ON messages (thread_id, message_id) WHERE thread_id IS NOT NULL;
CREATE INDEX messages_author ON messages (author_id, guild_id, message_id);

-- members: one row per archived author -------------------------------------------------------

-- Same rule as the archive's upsert: seen times only widen, the newest message names the
-- member. Rows that member memory already wrote keep their opt-out flag. (The WHERE also
-- tells SQLite's parser that ON CONFLICT starts an upsert, not a join constraint.)
INSERT INTO members (guild_id, user_id, display_name, first_seen, last_seen)
SELECT guild_id, author_id, author_name, first_seen, last_seen
FROM (
    SELECT guild_id, author_id, author_name,
           min(created_at) OVER author AS first_seen,
           max(created_at) OVER author AS last_seen,
           row_number() OVER (author ORDER BY created_at DESC, message_id DESC) AS newest
    FROM messages
    WINDOW author AS (PARTITION BY guild_id, author_id)
)
WHERE newest = 1
ON CONFLICT (guild_id, user_id) DO UPDATE SET
    display_name = CASE WHEN excluded.last_seen >= last_seen
                        THEN excluded.display_name ELSE display_name END,
    first_seen = min(first_seen, excluded.first_seen),
    last_seen = max(last_seen, excluded.last_seen);

-- member_facts: no list of kinds -----------------------------------------------------------

-- Everything else as in 0001: the UNIQUE that makes a repeated fact one row, the cascade
-- from members, the user index. Ids are copied, so nothing that quotes a fact id breaks.
CREATE TABLE new_member_facts (
    id                INTEGER PRIMARY KEY,
    guild_id          INTEGER NOT NULL,
    user_id           INTEGER NOT NULL,
    kind              TEXT NOT NULL,   -- validated in code (bot/chat/memory.py)
    value             TEXT NOT NULL CHECK (length(trim(value)) > 0),
    source_message_id INTEGER,   -- no FK: the fact outlives the archived message
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (guild_id, user_id, kind, value),
    FOREIGN KEY (guild_id, user_id) REFERENCES members (guild_id, user_id) ON DELETE CASCADE
) STRICT;
INSERT INTO new_member_facts (id, guild_id, user_id, kind, value, source_message_id,
                              created_at, updated_at)
SELECT id, guild_id, user_id, kind, value, source_message_id, created_at, updated_at
FROM member_facts;
DROP TABLE member_facts;
ALTER TABLE new_member_facts RENAME TO member_facts;
CREATE INDEX member_facts_user ON member_facts (user_id);
