-- The PostgreSQL schema of open-pryv.io v2 at schema version 3, as docs/storage-layout.md
-- (sections 2 and 3) describes it. pryv-backup creates it only in an empty database, to
-- restore into a fresh install; the core accepts it as its own on its next start.

-- Per-user tables: every row carries the owner's user_id.

CREATE TABLE streams (
  user_id TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT,
  parent_id TEXT,
  path TEXT NOT NULL,
  client_data JSONB,
  single_activity BOOLEAN DEFAULT FALSE,
  trashed BOOLEAN DEFAULT FALSE,
  created DOUBLE PRECISION,
  created_by TEXT,
  modified DOUBLE PRECISION,
  modified_by TEXT,
  deleted DOUBLE PRECISION,
  PRIMARY KEY (user_id, id)
);
CREATE UNIQUE INDEX idx_stream_path ON streams (user_id, path);
CREATE UNIQUE INDEX idx_stream_sibling ON streams (user_id, name, parent_id) WHERE deleted IS NULL;
CREATE INDEX idx_stream_parent ON streams (user_id, parent_id);
CREATE INDEX idx_stream_trashed ON streams (user_id, trashed);

CREATE TABLE events (
  user_id TEXT NOT NULL,
  id TEXT NOT NULL,
  head_id TEXT,
  stream_ids JSONB,
  time DOUBLE PRECISION,
  end_time DOUBLE PRECISION,
  type TEXT,
  tags JSONB,
  content JSONB,
  description TEXT,
  client_data JSONB,
  attachments JSONB,
  integrity TEXT,
  trashed BOOLEAN DEFAULT FALSE,
  created DOUBLE PRECISION,
  created_by TEXT,
  modified DOUBLE PRECISION,
  modified_by TEXT,
  deleted DOUBLE PRECISION,
  PRIMARY KEY (user_id, id)
);
CREATE INDEX idx_event_time ON events (user_id, time);
CREATE INDEX idx_event_type ON events (user_id, type);
CREATE INDEX idx_event_deleted ON events (user_id, deleted) WHERE deleted IS NOT NULL;
CREATE INDEX idx_event_trashed ON events (user_id, trashed);
CREATE INDEX idx_event_modified ON events (user_id, modified);
CREATE INDEX idx_event_head_id ON events (user_id, head_id);
CREATE INDEX idx_event_endtime ON events (user_id, end_time);

-- Derived from events.stream_ids and streams.path, for stream-tree queries.
CREATE TABLE event_streams (
  user_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  stream_id TEXT NOT NULL,
  stream_path TEXT NOT NULL,
  PRIMARY KEY (user_id, event_id, stream_id)
);
CREATE INDEX idx_es_path ON event_streams (user_id, stream_path text_pattern_ops);
CREATE INDEX idx_es_stream ON event_streams (user_id, stream_id, event_id);

CREATE TABLE accesses (
  user_id TEXT NOT NULL,
  id TEXT NOT NULL,
  serial INTEGER,
  head_id TEXT,
  token TEXT,
  name TEXT,
  type TEXT,
  device_name TEXT,
  permissions JSONB,
  client_data JSONB,
  expires DOUBLE PRECISION,
  last_used DOUBLE PRECISION,
  calls JSONB,
  integrity TEXT,
  integrity_batch_code DOUBLE PRECISION,
  created DOUBLE PRECISION,
  created_by TEXT,
  created_by_serial INTEGER,
  modified DOUBLE PRECISION,
  modified_by TEXT,
  modified_by_serial INTEGER,
  deleted DOUBLE PRECISION,
  alias TEXT,
  PRIMARY KEY (user_id, id)
);
-- Uniqueness applies to live head rows only (schema version 1).
CREATE UNIQUE INDEX idx_access_token ON accesses (user_id, token)
  WHERE deleted IS NULL AND head_id IS NULL;
CREATE UNIQUE INDEX idx_access_name_type_deviceName ON accesses (user_id, name, type, device_name)
  NULLS NOT DISTINCT WHERE deleted IS NULL AND head_id IS NULL;
CREATE INDEX idx_access_head_id ON accesses (user_id, head_id) WHERE head_id IS NOT NULL;

CREATE TABLE webhooks (
  user_id TEXT NOT NULL,
  id TEXT NOT NULL,
  access_id TEXT,
  url TEXT,
  state TEXT,
  run_count INTEGER DEFAULT 0,
  fail_count INTEGER DEFAULT 0,
  last_run JSONB,
  runs JSONB,
  current_retries INTEGER DEFAULT 0,
  max_retries INTEGER,
  min_interval_ms INTEGER,
  created DOUBLE PRECISION,
  created_by TEXT,
  modified DOUBLE PRECISION,
  modified_by TEXT,
  deleted DOUBLE PRECISION,
  scopes JSONB,
  PRIMARY KEY (user_id, id)
);
CREATE UNIQUE INDEX idx_webhook_url ON webhooks (user_id, access_id, url) WHERE deleted IS NULL;

CREATE TABLE profile (
  user_id TEXT NOT NULL,
  id TEXT NOT NULL,
  data JSONB,
  PRIMARY KEY (user_id, id)
);

-- Account storage: password history, per-store key/values, account field history.

CREATE TABLE passwords (
  user_id TEXT NOT NULL,
  time DOUBLE PRECISION NOT NULL,
  hash TEXT NOT NULL,
  created_by TEXT,
  PRIMARY KEY (user_id, time)
);

CREATE TABLE store_key_values (
  user_id TEXT NOT NULL,
  store_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value JSONB,
  PRIMARY KEY (user_id, store_id, key)
);

CREATE TABLE account_fields (
  user_id TEXT NOT NULL,
  field TEXT NOT NULL,
  value JSONB,
  time DOUBLE PRECISION NOT NULL,
  created_by TEXT,
  PRIMARY KEY (user_id, field, time)
);

-- Who lives on this core.

CREATE TABLE users_index (
  username TEXT PRIMARY KEY,
  user_id TEXT UNIQUE NOT NULL
);

CREATE TABLE alias_index (
  alias TEXT PRIMARY KEY,
  user_id TEXT NOT NULL
);
CREATE INDEX idx_alias_index_user_id ON alias_index (user_id);

-- High-frequency series points; delta_time in microseconds.

CREATE TABLE series_data (
  user_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  point_time DOUBLE PRECISION NOT NULL,
  delta_time BIGINT NOT NULL,
  fields JSONB NOT NULL,
  PRIMARY KEY (user_id, event_id, point_time)
);
CREATE INDEX idx_series_time ON series_data (user_id, event_id, delta_time);

-- Audit log, kept in the storage's own snake_case row shape.

CREATE TABLE audit_events (
  user_id TEXT NOT NULL,
  eventid TEXT NOT NULL,
  head_id TEXT,
  stream_ids TEXT,
  time DOUBLE PRECISION,
  deleted DOUBLE PRECISION,
  end_time DOUBLE PRECISION,
  type TEXT,
  content JSONB,
  description TEXT,
  client_data JSONB,
  integrity TEXT,
  attachments JSONB,
  trashed BOOLEAN DEFAULT FALSE,
  created DOUBLE PRECISION,
  created_by TEXT,
  modified DOUBLE PRECISION,
  modified_by TEXT,
  PRIMARY KEY (user_id, eventid)
);
CREATE INDEX idx_audit_time ON audit_events (user_id, time);
CREATE INDEX idx_audit_type ON audit_events (user_id, type);
CREATE INDEX idx_audit_deleted ON audit_events (user_id, deleted) WHERE deleted IS NOT NULL;
CREATE INDEX idx_audit_head_id ON audit_events (user_id, head_id) WHERE head_id IS NOT NULL;
CREATE INDEX idx_audit_created_by ON audit_events (user_id, created_by);

-- Attachment bytes when the file engine is "postgresql": 1 MiB chunks numbered from 0.

CREATE TABLE attachment_files (
  user_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  file_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (user_id, event_id, file_id, seq)
);

-- Global tables.

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  data JSONB,
  expires TIMESTAMPTZ
);

CREATE TABLE password_resets (
  id TEXT PRIMARY KEY,
  username TEXT,
  expires TIMESTAMPTZ
);

CREATE TABLE platform_kv (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE schema_migrations (
  version INTEGER PRIMARY KEY,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO schema_migrations (version) VALUES (1), (2), (3);
