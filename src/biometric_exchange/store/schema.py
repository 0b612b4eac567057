"""The node database schema, applied in numbered migrations."""

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE encounters (
        encounter_id TEXT PRIMARY KEY,
        given_name TEXT NOT NULL,
        family_name TEXT NOT NULL,
        sex TEXT NOT NULL,
        birth_date TEXT NOT NULL,
        nationality TEXT NOT NULL,
        document_number TEXT NOT NULL,
        encountered_at TEXT NOT NULL,
        border_point TEXT NOT NULL,
        template_sealed BLOB NOT NULL,
        synthetic INTEGER NOT NULL CHECK (synthetic IN (0, 1)),
        generator TEXT NOT NULL,
        seed INTEGER,
        enrolled_at TEXT NOT NULL
    );
    CREATE TABLE watchlist (
        entry_id TEXT PRIMARY KEY,
        category TEXT NOT NULL,
        given_name TEXT NOT NULL,
        family_name TEXT NOT NULL,
        sex TEXT NOT NULL,
        birth_date TEXT NOT NULL,
        nationality TEXT NOT NULL,
        document_number TEXT NOT NULL,
        valid_until TEXT,
        template_sealed BLOB NOT NULL,
        synthetic INTEGER NOT NULL CHECK (synthetic IN (0, 1)),
        generator TEXT NOT NULL,
        seed INTEGER,
        added_at TEXT NOT NULL
    );
    CREATE TABLE outbox (
        encounter_id TEXT PRIMARY KEY REFERENCES encounters (encounter_id),
        probe_ref TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at_ms INTEGER NOT NULL,
        last_error TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (state, next_attempt_at_ms);
    CREATE TABLE alerts (
        alert_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        summary TEXT NOT NULL,
        partner TEXT,
        encounter_id TEXT,
        watchlist_entry_id TEXT,
        hit_reference TEXT,
        category TEXT,
        distance REAL,
        dedup_key TEXT NOT NULL UNIQUE
    );
    CREATE TABLE hit_references (
        reference TEXT PRIMARY KEY,
        entry_id TEXT NOT NULL REFERENCES watchlist (entry_id),
        partner TEXT NOT NULL,
        probe_ref TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (partner, probe_ref, entry_id)
    );
    CREATE TABLE seen_messages (
        sender TEXT NOT NULL,
        message_id TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (sender, message_id)
    );
    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        event TEXT NOT NULL,
        peer TEXT,
        message_id TEXT,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        entry_hash TEXT NOT NULL UNIQUE
    );
    """,
)
