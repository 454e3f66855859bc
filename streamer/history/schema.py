"""The history database's schema (`state/history.sqlite`), as numbered migrations.

Times are Unix seconds (UTC). Rows are written when things start (a play, a session) and
completed when they end, so a `kill -9` loses at most the last batch; what was left open is
closed at the next start from the last heartbeat (upkeep.last_heartbeat).
Reports select by start time, so every table is indexed by it.
"""

from __future__ import annotations

MIGRATIONS = [
    """
    CREATE TABLE plays (
        id INTEGER PRIMARY KEY,
        started REAL NOT NULL,          -- when its title reached listeners
        ended REAL,                     -- when the next item's did (NULL while on air)
        seconds REAL,
        kind TEXT NOT NULL,             -- song, jingle, event, bulletin, live
        playlist TEXT, block TEXT, event TEXT, file TEXT,
        artist TEXT, title TEXT, album TEXT, isrc TEXT, label TEXT,
        stream_title TEXT,              -- what players showed
        dj TEXT,                        -- live segments: who
        listeners_start INTEGER NOT NULL DEFAULT 0,
        listeners_unique INTEGER NOT NULL DEFAULT 0,   -- sessions that heard any part of it
        listeners_left INTEGER NOT NULL DEFAULT 0,     -- sessions that ended during it
        estimated INTEGER NOT NULL DEFAULT 0           -- ended was estimated after a crash
    );
    CREATE INDEX plays_started ON plays(started);
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        mount TEXT NOT NULL,
        ip TEXT,                        -- as privacy.ip says: full, truncated, hashed or ''
        country TEXT,                   -- ISO code from geoip.database, or NULL
        user_agent TEXT, referer TEXT,
        started REAL NOT NULL,
        ended REAL,
        seconds REAL,
        bytes INTEGER,
        reason TEXT,                    -- left, evicted, killed, server stop, source gone
        kbps INTEGER,
        estimated INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX sessions_started ON sessions(started);
    CREATE INDEX sessions_open ON sessions(id) WHERE ended IS NULL;
    CREATE TABLE headlines (
        id INTEGER PRIMARY KEY,
        time REAL NOT NULL,
        kind TEXT NOT NULL,             -- bulletin (one started) or headline (one read)
        title TEXT
    );
    CREATE INDEX headlines_time ON headlines(time);
    CREATE TABLE audience (             -- per mount and minute: exact peak and listener-seconds
        minute INTEGER NOT NULL,        -- Unix time // 60
        mount TEXT NOT NULL,
        peak INTEGER NOT NULL,
        listener_seconds REAL NOT NULL,
        PRIMARY KEY (minute, mount)
    ) WITHOUT ROWID;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
    """,
    """
    CREATE TABLE station_audience (     -- per minute, every mount together: the most listeners at once
        minute INTEGER PRIMARY KEY,     -- (the mounts' peaks added up overstate it: they peak apart)
        peak INTEGER NOT NULL,
        listener_seconds REAL NOT NULL
    );
    """,
    """
    -- an open session's bytes as of bytes_at (saved every few seconds), so a kill -9 leaves the
    -- bytes that reached it, not a guess from the nominal bitrate (0 for FLAC, 3x for Vorbis)
    ALTER TABLE sessions ADD COLUMN bytes_at REAL;
    """,
    """
    -- the sessions still going at a report's start (audience_report.listened)
    CREATE INDEX sessions_ended ON sessions(ended);
    """,
]

INSERT_PLAY = (
    "INSERT OR REPLACE INTO plays (id, started, kind, playlist, block, event, file, artist, title, album, isrc, label, stream_title, dj,"
    " listeners_start, listeners_unique) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
UPDATE_PLAY_COUNTS = "UPDATE plays SET listeners_unique = ?, listeners_left = ? WHERE id = ?"
DELETE_PLAY = "DELETE FROM plays WHERE id = ?"
END_PLAY = "UPDATE plays SET ended = ?, seconds = ? - started, listeners_unique = ?, listeners_left = ? WHERE id = ?"
CREDIT_PLAY = "UPDATE plays SET listeners_unique = listeners_unique + 1 WHERE id = ?"
INSERT_SESSION = (
    "INSERT OR REPLACE INTO sessions (id, mount, ip, country, user_agent, referer, started, kbps) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
END_SESSION = "UPDATE sessions SET ended = ?, seconds = ?, bytes = ?, reason = ? WHERE id = ?"
SESSION_BYTES = "UPDATE sessions SET bytes = ?, bytes_at = ? WHERE id = ? AND ended IS NULL"
INSERT_HEADLINE = "INSERT INTO headlines (time, kind, title) VALUES (?, ?, ?)"
AUDIENCE_MINUTE = "INSERT OR REPLACE INTO audience (minute, mount, peak, listener_seconds) VALUES (?, ?, ?, ?)"
STATION_MINUTE = "INSERT OR REPLACE INTO station_audience (minute, peak, listener_seconds) VALUES (?, ?, ?)"
HEARTBEAT = "INSERT OR REPLACE INTO meta (key, value) VALUES ('heartbeat', ?)"
