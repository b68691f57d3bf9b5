import { randomBytes } from "node:crypto";
import type { Digest } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import type { LocalStore } from "../store/local-store.js";

/**
 * Rows of the store's `containers` table. A row names the image it runs, so that `rmi` and
 * prune leave that image alone while the container exists. Every change is one write
 * transaction.
 */

export type ContainerState = "created" | "running" | "exited";

export interface ContainerRecord {
  id: string;
  name: string;
  imageId: Digest;
  imageName: string;
  createdMs: number;
  state: ContainerState;
  size: number;
  /** What the container was made from and how it last ended (ContainerSpec as JSON). */
  spec: ContainerSpec;
}

/** Kept per container: enough to start it again or show it like `docker ps`/`inspect`. */
export interface ContainerSpec {
  driver: "overlay" | "copy";
  command: string[];
  options: Record<string, unknown>;
  runtime?: string;
  exitCode?: number;
  startedMs?: number;
  finishedMs?: number;
  /** docker's container Config: the image's config with the run's options applied (inspect, commit). */
  config?: Record<string, unknown>;
  /** The runtimes' state directory the container runs under (kill, stop and rm need it). */
  stateRoot?: string;
  /**
   * The process that waits for the container and records how it ended: the foreground
   * `berth run`, or the detached supervisor. Its start time tells a live holder from a reused pid.
   */
  holder?: ProcessIdentity;
  /** Why the container did not start or how it was lost (docker's State.Error). */
  error?: string;
  /** The container's main process, host pid, while it runs. */
  pid?: number;
}

/** A process, told apart from later ones with the same pid by its start time (/proc/PID/stat). */
export interface ProcessIdentity {
  pid: number;
  start: string;
}

interface Row {
  id: string;
  name: string;
  image_id: string;
  image_name: string;
  created_ms: number;
  state: string;
  size: number;
  spec: string;
}

export function newContainerId(): string {
  return randomBytes(32).toString("hex");
}

/** Records a new container; a name in use is docker's conflict error. */
export function insertContainer(store: LocalStore, c: ContainerRecord): void {
  store.update(() => {
    const holder = store.db.prepare("SELECT id FROM containers WHERE name = ?").pluck().get(c.name) as
      | string
      | undefined;
    if (holder) {
      throw new BerthError(
        "CONFLICT",
        `Conflict. The container name "/${c.name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    if (!store.db.prepare("SELECT 1 FROM images WHERE id = ?").get(c.imageId)) {
      throw new BerthError("IMAGE_UNKNOWN", `No such image: ${c.imageName} (removed meanwhile)`);
    }
    store.db
      .prepare(
        "INSERT INTO containers(id, name, image_id, image_name, created_ms, state, size, spec) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(c.id, c.name, c.imageId, c.imageName, c.createdMs, c.state, c.size, JSON.stringify(c.spec));
  });
}

export function updateContainer(
  store: LocalStore,
  id: string,
  change: { state?: ContainerState; size?: number; spec?: ContainerSpec },
): void {
  store.update(() => {
    if (change.state) store.db.prepare("UPDATE containers SET state = ? WHERE id = ?").run(change.state, id);
    if (change.size !== undefined) store.db.prepare("UPDATE containers SET size = ? WHERE id = ?").run(change.size, id);
    if (change.spec)
      store.db.prepare("UPDATE containers SET spec = ? WHERE id = ?").run(JSON.stringify(change.spec), id);
  });
}

export function deleteContainer(store: LocalStore, id: string): void {
  store.update(() => {
    store.db.prepare("DELETE FROM containers WHERE id = ?").run(id);
  });
}

export function getContainer(store: LocalStore, id: string): ContainerRecord | undefined {
  const row = store.db.prepare("SELECT * FROM containers WHERE id = ?").get(id) as Row | undefined;
  return row ? fromRow(row) : undefined;
}

/** Every container, newest first (docker's ps order). */
export function listContainerRecords(store: LocalStore): ContainerRecord[] {
  const rows = store.db.prepare("SELECT * FROM containers ORDER BY created_ms DESC, id").all() as Row[];
  return rows.map(fromRow);
}

function fromRow(row: Row): ContainerRecord {
  return {
    id: row.id,
    name: row.name,
    imageId: row.image_id as Digest,
    imageName: row.image_name,
    createdMs: row.created_ms,
    state: row.state as ContainerState,
    size: row.size,
    spec: JSON.parse(row.spec) as ContainerSpec,
  };
}

const ADJECTIVES = [
  "agile",
  "bold",
  "brave",
  "calm",
  "clever",
  "eager",
  "fond",
  "gentle",
  "happy",
  "jolly",
  "keen",
  "lucid",
  "merry",
  "nimble",
  "quiet",
  "sharp",
  "steady",
  "sunny",
  "tidy",
  "witty",
];
const NAMES = [
  "babbage",
  "bell",
  "curie",
  "darwin",
  "euler",
  "faraday",
  "gauss",
  "hopper",
  "hypatia",
  "kepler",
  "lamarr",
  "lovelace",
  "maxwell",
  "noether",
  "pascal",
  "ritchie",
  "shannon",
  "thompson",
  "turing",
  "wozniak",
];

/** docker-like generated names (adjective_scientist), with a number when those run out. */
export function generateName(store: LocalStore): string {
  const taken = store.db.prepare("SELECT 1 FROM containers WHERE name = ?");
  for (let i = 0; i < 20; i++) {
    const a = ADJECTIVES[(randomBytes(1)[0] as number) % ADJECTIVES.length];
    const n = NAMES[(randomBytes(1)[0] as number) % NAMES.length];
    const name = i < 10 ? `${a}_${n}` : `${a}_${n}${i}`;
    if (!taken.get(name)) return name;
  }
  return `berth_${randomBytes(6).toString("hex")}`;
}
