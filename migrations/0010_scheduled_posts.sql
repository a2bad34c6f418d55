-- 0010_scheduled_posts: announcements and reminders that go out later, exactly once.
--
--   * One row per post or recurring series. due_at is the next occurrence (unix ms UTC);
--     first_at anchors a recurrence's local wall time in tz (an IANA zone name), so a
--     daily 09:00 stays at 09:00 across daylight-saving changes (bot/schedule/recurrence.py).
--     recurrence is NULL for a one-off, else daily, weekly:mon,thu or monthly; until_at
--     ends it.
--   * state: scheduled, sending (claimed by one dispatcher: claim_token, claimed_at),
--     paused, done, cancelled, failed (validated in bot/schedule/store.py, 0002's
--     convention). A claim is a compare-and-set on state, so two dispatchers never both
--     send one occurrence; a claim older than the lease is reconciled against the
--     channel's history before anything is sent again.
--   * scheduled_deliveries records each occurrence once: its PRIMARY KEY (post_id, due_at)
--     refuses a second delivery of the same occurrence. status: sent, late (within the
--     grace window), missed (past it; moderators are told), failed.
--   * Member data: created_by is the moderator who scheduled it.

CREATE TABLE scheduled_posts (
    id             INTEGER PRIMARY KEY,
    guild_id       INTEGER NOT NULL,
    number         INTEGER NOT NULL CHECK (number > 0),
    channel_id     INTEGER NOT NULL,
    text           TEXT NOT NULL CHECK (length(trim(text)) > 0 AND length(text) <= 2000),
    ping_role_id   INTEGER,
    kind           TEXT NOT NULL DEFAULT 'announcement',
    event_id       INTEGER,
    first_at       INTEGER NOT NULL,
    due_at         INTEGER NOT NULL,
    recurrence     TEXT,
    until_at       INTEGER,
    tz             TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'scheduled',
    claim_token    TEXT,
    claimed_at     INTEGER,
    last_message_id INTEGER,
    sent_count     INTEGER NOT NULL DEFAULT 0,
    error          TEXT,
    created_by     INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (guild_id, number)
) STRICT;
CREATE INDEX scheduled_posts_due ON scheduled_posts (state, due_at);
CREATE INDEX scheduled_posts_creator ON scheduled_posts (created_by);

CREATE TABLE scheduled_deliveries (
    post_id     INTEGER NOT NULL REFERENCES scheduled_posts (id) ON DELETE CASCADE,
    due_at      INTEGER NOT NULL,
    status      TEXT NOT NULL,
    message_id  INTEGER,
    at          INTEGER NOT NULL,
    PRIMARY KEY (post_id, due_at)
) STRICT;

-- The guild's time zone (an IANA name such as Europe/Berlin) for dates moderators type
-- and for recurrences; NULL: the TIMEZONE setting (default UTC).
ALTER TABLE guild_settings ADD COLUMN timezone TEXT;

-- Announcement drafts: what a moderator asked for (brief, kind, tone), the model's text,
-- and where and when it goes once approved. status: draft, approved, discarded
-- (validated in bot/announce/drafts.py). post_id is the scheduled post an approval made.
-- Member data: author_id asked for it, decided_by approved or discarded it.
CREATE TABLE announcement_drafts (
    id            INTEGER PRIMARY KEY,
    guild_id      INTEGER NOT NULL,
    channel_id    INTEGER NOT NULL,
    brief         TEXT NOT NULL CHECK (length(trim(brief)) > 0),
    kind          TEXT NOT NULL,
    tone          TEXT NOT NULL,
    text          TEXT NOT NULL CHECK (length(trim(text)) > 0 AND length(text) <= 2000),
    ping_role_id  INTEGER,
    post_at       INTEGER,
    recurrence    TEXT,
    until_at      INTEGER,
    status        TEXT NOT NULL DEFAULT 'draft',
    post_id       INTEGER REFERENCES scheduled_posts (id) ON DELETE SET NULL,
    author_id     INTEGER,
    decided_by    INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX announcement_drafts_author ON announcement_drafts (author_id);
CREATE INDEX announcement_drafts_decider ON announcement_drafts (decided_by);

-- Event plans: the model's proposal (title, description, agenda, engagement ideas) for a
-- moderator's theme, goal and date window; approving creates the guild scheduled event
-- (event_id) and its reminders (scheduled_posts with kind 'reminder' and this event_id).
-- status: draft, approved, discarded, cancelled (validated in bot/announce/events.py).
-- Member data: author_id asked for it, decided_by approved or discarded it.
CREATE TABLE event_plans (
    id            INTEGER PRIMARY KEY,
    guild_id      INTEGER NOT NULL,
    theme         TEXT NOT NULL CHECK (length(trim(theme)) > 0),
    goal          TEXT NOT NULL,
    starts_at     INTEGER NOT NULL,
    ends_at       INTEGER NOT NULL CHECK (ends_at > starts_at),
    location      TEXT,
    voice_channel_id INTEGER,
    announce_channel_id INTEGER NOT NULL,
    title         TEXT NOT NULL,
    description   TEXT NOT NULL,
    agenda        TEXT NOT NULL DEFAULT '',
    ideas         TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL DEFAULT 'draft',
    event_id      INTEGER,
    author_id     INTEGER,
    decided_by    INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    CHECK ((location IS NULL) != (voice_channel_id IS NULL))
) STRICT;
CREATE INDEX event_plans_author ON event_plans (author_id);
CREATE INDEX event_plans_decider ON event_plans (decided_by);
CREATE INDEX event_plans_event ON event_plans (event_id);
CREATE INDEX scheduled_posts_event ON scheduled_posts (event_id);
