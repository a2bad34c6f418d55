-- 0011_weekly_topics: a guild's weekly discussion-topic draft. Each week, at next_at, the
-- bot drafts topics from what members talked about in channel_id and posts the draft to
-- the mod-log channel for approval (nothing is posted to members without it). weekday
-- (0 = Monday) and minute_of_day are in the guild's time zone; next_at is moved on with a
-- compare-and-set before the draft is written, so two processes never both draft a week.
-- Member data: updated_by is the moderator who set it.
CREATE TABLE topic_schedules (
    guild_id       INTEGER PRIMARY KEY,
    channel_id     INTEGER NOT NULL,
    weekday        INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    minute_of_day  INTEGER NOT NULL CHECK (minute_of_day BETWEEN 0 AND 1439),
    next_at        INTEGER NOT NULL,
    updated_by     INTEGER,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX topic_schedules_due ON topic_schedules (next_at);
CREATE INDEX topic_schedules_moderator ON topic_schedules (updated_by);
