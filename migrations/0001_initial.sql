-- 0001_initial: the schema for the whole product, so later features add rows, not tables.
--
-- Conventions (keep them in later migrations):
--   * Discord ids are INTEGER snowflakes; they fit SQLite's signed 64-bit integer.
--   * Every timestamp is INTEGER unix milliseconds UTC, named *_at. Milliseconds because
--     Discord reports them and they sort and subtract without parsing.
--   * Booleans are INTEGER 0/1 with a CHECK, because STRICT tables have no BOOLEAN.
--   * Every row *about* a member carries that member's user id in an indexed column, so a
--     data export or deletion request is a set of indexed lookups (tests/bot/test_migrations.py
--     keeps this true for new tables).
--   * The migration runner wraps this file in one transaction; do not add BEGIN/COMMIT.

-- Settings ------------------------------------------------------------------------------

-- Per-guild overrides of the environment configuration; NULL means "use the default".
CREATE TABLE guild_settings (
    guild_id          INTEGER PRIMARY KEY,
    persona           TEXT,
    answer_channels   TEXT,     -- same syntax as ANSWER_CHANNELS: 'all' or comma-separated
    modlog_channel_id INTEGER,
    settings          TEXT NOT NULL DEFAULT '{}'
                      CHECK (json_valid(settings) AND json_type(settings) = 'object'),
    updated_at        INTEGER NOT NULL
) STRICT;

-- Per-channel overrides; threads inherit from their parent channel.
CREATE TABLE channel_settings (
    channel_id INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    persona    TEXT,
    answer     INTEGER CHECK (answer IN (0, 1)),   -- NULL: follow the guild rule
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX channel_settings_guild ON channel_settings (guild_id);

-- Members -------------------------------------------------------------------------------

-- One row per member per guild: each brand community owns its own member data. Deleting
-- a member row cascades to everything the bot learned about them.
CREATE TABLE members (
    guild_id           INTEGER NOT NULL,
    user_id            INTEGER NOT NULL,
    display_name       TEXT NOT NULL DEFAULT '',
    first_seen         INTEGER NOT NULL,
    last_seen          INTEGER NOT NULL,
    opted_out_training INTEGER NOT NULL DEFAULT 0 CHECK (opted_out_training IN (0, 1)),
    PRIMARY KEY (guild_id, user_id),
    CHECK (last_seen >= first_seen)
) STRICT, WITHOUT ROWID;
CREATE INDEX members_user ON members (user_id);

-- Facts a member told the bot ("I wear a size M"), used to personalise answers.
CREATE TABLE member_facts (
    id                INTEGER PRIMARY KEY,
    guild_id          INTEGER NOT NULL,
    user_id           INTEGER NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('size', 'preference', 'order', 'other')),
    value             TEXT NOT NULL CHECK (length(trim(value)) > 0),
    source_message_id INTEGER,   -- no FK: the fact outlives the archived message
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (guild_id, user_id, kind, value),
    FOREIGN KEY (guild_id, user_id) REFERENCES members (guild_id, user_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX member_facts_user ON member_facts (user_id);

-- Catalog (before member_interests, which references products) ----------------------------

CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    sku         TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    price_cents INTEGER CHECK (price_cents >= 0),   -- NULL: price not published
    currency    TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3 AND currency = upper(currency)),
    url         TEXT,
    category    TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (guild_id, sku)      -- the import key: re-importing a catalog updates in place
) STRICT;

CREATE TABLE faq (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (guild_id, question)
) STRICT;

-- External-content FTS5 indexes: the text lives once, in products/faq; the triggers below
-- are the only writers, so the index cannot drift from the tables.
CREATE VIRTUAL TABLE products_fts USING fts5 (
    name, description, category, sku,
    content = 'products', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
    INSERT INTO products_fts (rowid, name, description, category, sku)
    VALUES (new.id, new.name, new.description, new.category, new.sku);
END;
CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, description, category, sku)
    VALUES ('delete', old.id, old.name, old.description, old.category, old.sku);
END;
CREATE TRIGGER products_fts_update AFTER UPDATE ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, description, category, sku)
    VALUES ('delete', old.id, old.name, old.description, old.category, old.sku);
    INSERT INTO products_fts (rowid, name, description, category, sku)
    VALUES (new.id, new.name, new.description, new.category, new.sku);
END;

CREATE VIRTUAL TABLE faq_fts USING fts5 (
    question, answer,
    content = 'faq', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER faq_fts_insert AFTER INSERT ON faq BEGIN
    INSERT INTO faq_fts (rowid, question, answer) VALUES (new.id, new.question, new.answer);
END;
CREATE TRIGGER faq_fts_delete AFTER DELETE ON faq BEGIN
    INSERT INTO faq_fts (faq_fts, rowid, question, answer)
    VALUES ('delete', old.id, old.question, old.answer);
END;
CREATE TRIGGER faq_fts_update AFTER UPDATE ON faq BEGIN
    INSERT INTO faq_fts (faq_fts, rowid, question, answer)
    VALUES ('delete', old.id, old.question, old.answer);
    INSERT INTO faq_fts (rowid, question, answer) VALUES (new.id, new.question, new.answer);
END;

-- Member insights -------------------------------------------------------------------------

CREATE TABLE member_interests (
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    score      REAL NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id, product_id),
    FOREIGN KEY (guild_id, user_id) REFERENCES members (guild_id, user_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX member_interests_user ON member_interests (user_id);
CREATE INDEX member_interests_product ON member_interests (product_id);

-- Daily sums rather than per-message scores: enough for trends, and nothing to re-identify.
CREATE TABLE member_sentiment (
    guild_id  INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    day       INTEGER NOT NULL CHECK (day % 86400000 = 0),   -- unix ms of the UTC midnight
    score_sum REAL NOT NULL,
    count     INTEGER NOT NULL CHECK (count > 0),
    PRIMARY KEY (guild_id, user_id, day),
    FOREIGN KEY (guild_id, user_id) REFERENCES members (guild_id, user_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX member_sentiment_user ON member_sentiment (user_id);
CREATE INDEX member_sentiment_guild_day ON member_sentiment (guild_id, day);

-- Message archive -----------------------------------------------------------------------

-- message_id is the rowid: snowflakes grow with time, so the table is stored in time order
-- and "newest N" is a backwards index walk. channel_id is the text channel; a message in a
-- thread also carries thread_id, and channel context excludes thread messages.
-- guild_id is NULL for direct messages. Deleted Discord messages are deleted here too.
CREATE TABLE messages (
    message_id  INTEGER PRIMARY KEY,
    guild_id    INTEGER,
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
CREATE INDEX messages_channel ON messages (channel_id, message_id) WHERE thread_id IS NULL;
CREATE INDEX messages_thread ON messages (thread_id, message_id) WHERE thread_id IS NOT NULL;
CREATE INDEX messages_author ON messages (author_id, guild_id, message_id);

-- Record of each training-corpus export, so the next one can start after the last message.
CREATE TABLE corpus_exports (
    id              INTEGER PRIMARY KEY,
    guild_id        INTEGER,     -- NULL: every guild
    created_at      INTEGER NOT NULL,
    path            TEXT NOT NULL,
    message_count   INTEGER NOT NULL CHECK (message_count >= 0),
    last_message_id INTEGER
) STRICT;

-- Moderation ------------------------------------------------------------------------------

-- Rule parameters differ per kind (word list, threshold, channels), hence JSON config.
-- There is no free-form regex kind on purpose: moderator-written regexes invite ReDoS.
CREATE TABLE automod_rules (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('keyword', 'link', 'invite', 'mention_spam',
                                             'duplicate', 'classifier')),
    config     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config)),
    action     TEXT NOT NULL CHECK (action IN ('flag', 'delete', 'timeout')),
    enabled    INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (guild_id, name)
) STRICT;

-- Something for a moderator to look at: an automod hit or a member's report. The excerpt is
-- kept because the flagged message is often deleted before anyone reviews it.
CREATE TABLE mod_flags (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    channel_id  INTEGER NOT NULL,
    message_id  INTEGER,
    user_id     INTEGER NOT NULL,
    rule_id     INTEGER REFERENCES automod_rules (id) ON DELETE SET NULL,
    reported_by INTEGER,
    reason      TEXT NOT NULL,
    score       REAL,
    excerpt     TEXT,
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'dismissed', 'actioned')),
    reviewed_by INTEGER,
    reviewed_at INTEGER,
    created_at  INTEGER NOT NULL,
    CHECK ((status = 'open') = (reviewed_by IS NULL))
) STRICT;
CREATE INDEX mod_flags_user ON mod_flags (user_id);
CREATE INDEX mod_flags_open ON mod_flags (guild_id, created_at) WHERE status = 'open';
-- Re-scanning an edited message must not flag it twice for the same rule.
CREATE UNIQUE INDEX mod_flags_once ON mod_flags (message_id, rule_id)
    WHERE message_id IS NOT NULL AND rule_id IS NOT NULL;

-- The mod log. case_number counts per guild (what moderators quote); id is for joins.
CREATE TABLE mod_cases (
    id             INTEGER PRIMARY KEY,
    guild_id       INTEGER NOT NULL,
    case_number    INTEGER NOT NULL CHECK (case_number > 0),
    action         TEXT NOT NULL CHECK (action IN ('warn', 'timeout', 'untimeout', 'kick',
                                                   'ban', 'unban', 'note')),
    target_user_id INTEGER NOT NULL,
    moderator_id   INTEGER NOT NULL,
    reason         TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    flag_id        INTEGER REFERENCES mod_flags (id) ON DELETE SET NULL,
    expires_at     INTEGER,   -- warnings expire; timeouts and temporary bans end
    reverted_at    INTEGER,   -- set when the expiry job (or a moderator) lifted it
    created_at     INTEGER NOT NULL,
    UNIQUE (guild_id, case_number),
    CHECK (expires_at IS NULL OR expires_at > created_at)
) STRICT;
CREATE INDEX mod_cases_target ON mod_cases (target_user_id, guild_id);
CREATE INDEX mod_cases_expiring ON mod_cases (expires_at)
    WHERE expires_at IS NOT NULL AND reverted_at IS NULL;

CREATE TABLE case_notes (
    id         INTEGER PRIMARY KEY,
    case_id    INTEGER NOT NULL REFERENCES mod_cases (id) ON DELETE CASCADE,
    author_id  INTEGER NOT NULL,
    body       TEXT NOT NULL CHECK (length(trim(body)) > 0),
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX case_notes_case ON case_notes (case_id);

-- Announcements and events ----------------------------------------------------------------

CREATE TABLE drafts (
    id             INTEGER PRIMARY KEY,
    guild_id       INTEGER NOT NULL,
    author_id      INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('announcement', 'event')),
    title          TEXT NOT NULL,
    body           TEXT NOT NULL,
    event_start_at INTEGER,
    event_end_at   INTEGER,
    status         TEXT NOT NULL DEFAULT 'draft'
                   CHECK (status IN ('draft', 'pending_approval', 'approved', 'rejected',
                                     'published')),
    approved_by    INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    CHECK (status NOT IN ('approved', 'published') OR approved_by IS NOT NULL),
    CHECK (kind = 'event' OR (event_start_at IS NULL AND event_end_at IS NULL)),
    CHECK (event_end_at IS NULL OR event_end_at > event_start_at)
) STRICT;
CREATE INDEX drafts_guild_status ON drafts (guild_id, status);

-- One row per planned post. Exactly-once delivery: a worker claims a due row with
--   UPDATE schedules SET state = 'claimed', claimed_by = ?, claimed_at = ?,
--          attempts = attempts + 1
--   WHERE id = ? AND state = 'pending' RETURNING ...
-- so two workers can never both win, and it records result_message_id with state 'done'
-- in the same statement that ends the claim. A claim older than a timeout is reviewed,
-- not blindly retried, because the post may already exist.
CREATE TABLE schedules (
    id                INTEGER PRIMARY KEY,
    draft_id          INTEGER NOT NULL REFERENCES drafts (id) ON DELETE CASCADE,
    channel_id        INTEGER NOT NULL,
    run_at            INTEGER NOT NULL,
    state             TEXT NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'claimed', 'done', 'failed')),
    claimed_by        TEXT,
    claimed_at        INTEGER,
    attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error        TEXT,
    result_message_id INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (draft_id, run_at),   -- a double-clicked "schedule" button plans one post
    CHECK (state = 'pending' OR (claimed_by IS NOT NULL AND claimed_at IS NOT NULL)),
    CHECK (state <> 'done' OR result_message_id IS NOT NULL)
) STRICT;
CREATE INDEX schedules_due ON schedules (run_at) WHERE state = 'pending';
CREATE INDEX schedules_claimed ON schedules (claimed_at) WHERE state = 'claimed';
