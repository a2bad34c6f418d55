-- 0009_mod_reports: the review queue. A member's "Report to moderators" and automod's
-- "flag" action each file a report; moderators resolve it with buttons.
--
--   * number counts per guild from 1 (UNIQUE, taken inside the inserting transaction, as
--     for cases). One report is open per message: a second member reporting the same
--     message joins it (mod_report_reporters) instead of filing another.
--   * source is 'member' or 'automod' (validated in bot/moderation/reports.py, 0002's
--     convention); reason is what automod found, or "reported by a member". content
--     and attachments snapshot the message, which may be deleted later; deleted says
--     it was.
--   * status is 'open' until a moderator resolves it: resolution says what they did
--     (deleted, warned, dismissed), case_number the case it opened, if any.
--   * Member data: author_id is whose message it is, resolved_by the moderator,
--     mod_report_reporters.user_id who reported it. A deletion request keeps the reports
--     about the member without their content (a safety record, like cases), removes
--     their reports of others, and unlinks what they resolved.

CREATE TABLE mod_reports (
    id           INTEGER PRIMARY KEY,
    guild_id     INTEGER NOT NULL,
    number       INTEGER NOT NULL CHECK (number > 0),
    source       TEXT NOT NULL,
    channel_id   INTEGER NOT NULL,
    message_id   INTEGER NOT NULL,
    author_id    INTEGER NOT NULL,
    reason       TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    content      TEXT,
    attachments  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(attachments)),
    deleted      INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    created_at   INTEGER NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open',
    resolution   TEXT,
    resolved_by  INTEGER,
    resolved_at  INTEGER,
    case_number  INTEGER,
    UNIQUE (guild_id, number)
) STRICT;
CREATE UNIQUE INDEX mod_reports_open_message ON mod_reports (guild_id, message_id)
    WHERE status = 'open';
CREATE INDEX mod_reports_queue ON mod_reports (guild_id, status, number);
CREATE INDEX mod_reports_author ON mod_reports (author_id, guild_id);

CREATE TABLE mod_report_reporters (
    report_id   INTEGER NOT NULL REFERENCES mod_reports (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (report_id, user_id)
) STRICT;
CREATE INDEX mod_report_reporters_user ON mod_report_reporters (user_id);
