/**
 * The metadata database's schema. Blobs live as files; this holds what points at them.
 * `user_version` numbers the migrations.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE images(
    id TEXT PRIMARY KEY,            -- image ID: the config digest, as docker's
    manifest TEXT NOT NULL,         -- digest of the manifest kept in the store
    manifest_media_type TEXT NOT NULL,
    manifest_size INTEGER NOT NULL,
    created TEXT,                   -- config.created as written
    created_ms INTEGER,             -- the same as epoch milliseconds, for sorting and filters
    size INTEGER NOT NULL,          -- docker's size: file bytes of all layers
    added_ms INTEGER NOT NULL,      -- when it entered this store (docker's LastTagTime-ish)
    parent TEXT,                    -- the image a build step started from, when known
    labels TEXT                     -- config.Labels as JSON, for --filter label
  );
  CREATE INDEX images_parent ON images(parent);
  CREATE TABLE image_blobs(
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    PRIMARY KEY(image_id, digest)
  ) WITHOUT ROWID;
  CREATE INDEX image_blobs_digest ON image_blobs(digest);
  CREATE TABLE tags(
    name TEXT PRIMARY KEY,          -- full name with tag: docker.io/library/nginx:latest
    image_id TEXT NOT NULL REFERENCES images(id),
    tagged_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX tags_image ON tags(image_id);
  CREATE TABLE repo_digests(
    name TEXT NOT NULL,             -- full name with digest: docker.io/library/nginx@sha256:...
    image_id TEXT NOT NULL REFERENCES images(id),
    PRIMARY KEY(name)
  ) WITHOUT ROWID;
  CREATE INDEX repo_digests_image ON repo_digests(image_id);
  CREATE TABLE image_layers(
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    diff_id TEXT NOT NULL,
    PRIMARY KEY(image_id, diff_id)
  ) WITHOUT ROWID;
  CREATE TABLE layers(
    diff_id TEXT PRIMARY KEY,
    size INTEGER NOT NULL           -- docker's size of this layer's files
  ) WITHOUT ROWID;
  CREATE TABLE leases(
    id INTEGER PRIMARY KEY,
    pid INTEGER NOT NULL,
    started_ms INTEGER NOT NULL
  );
  CREATE TABLE lease_blobs(
    lease_id INTEGER NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    PRIMARY KEY(lease_id, digest)
  ) WITHOUT ROWID;
  CREATE INDEX lease_blobs_digest ON lease_blobs(digest);
  CREATE TABLE containers(
    id TEXT PRIMARY KEY,
    name TEXT UNIQUE NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id),
    image_name TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    state TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    spec TEXT NOT NULL
  );
  CREATE INDEX containers_image ON containers(image_id);
  `,
  `
  -- the builder's cache: what a step gave, by a key of its parent, instruction and inputs
  CREATE TABLE build_cache(
    key TEXT PRIMARY KEY,
    image_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  `
  -- images a build made for its steps (docker's build cache): hidden from images unless -a
  ALTER TABLE images ADD COLUMN intermediate INTEGER NOT NULL DEFAULT 0;
  `,
  `
  -- the builder's memory of context files it hashed: reused while the file's stat is unchanged
  CREATE TABLE context_hashes(
    path TEXT PRIMARY KEY,
    stat TEXT NOT NULL,
    sha256 TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  `
  -- compressed copies of layers that push made: kept while an image holds the layer (diff_id),
  -- so a second push neither compresses again nor sends a manifest with another digest
  CREATE TABLE layer_compressions(
    diff_id TEXT NOT NULL,
    compression TEXT NOT NULL,      -- gzip | zstd
    digest TEXT NOT NULL,           -- the compressed blob, a file in blobs/
    size INTEGER NOT NULL,
    PRIMARY KEY(diff_id, compression)
  ) WITHOUT ROWID;
  CREATE INDEX layer_compressions_digest ON layer_compressions(digest);
  `,
  `
  -- layers a pull stored as they came, without inflating them: the image config's diffID is the
  -- registry's claim until the layer is first unpacked or measured (pending-layers.ts), and
  -- the layer's row in layers holds size -1 (unknown) until then
  CREATE TABLE pending_layers(
    digest TEXT NOT NULL,           -- the compressed blob
    diff_id TEXT NOT NULL,          -- what an image config says it unpacks to
    PRIMARY KEY(digest, diff_id)
  ) WITHOUT ROWID;
  CREATE INDEX pending_layers_diff_id ON pending_layers(diff_id);
  `,
  `
  -- what the builder's size advice found in a layer (package caches, build tools), by the
  -- layer blob's digest: read once per layer, not on every build
  CREATE TABLE layer_findings(
    digest TEXT PRIMARY KEY,
    findings TEXT NOT NULL          -- JSON: {"caches": {kind: bytes}, "tools": [path]}
  ) WITHOUT ROWID;
  `,
];
