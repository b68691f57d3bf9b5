import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Where the store lives when neither --root nor BERTH_ROOT says: /var/lib/berth for root,
 * else $XDG_DATA_HOME/berth (~/.local/share/berth). `env` is passed in; nothing here reads
 * the process environment by itself.
 */
export function defaultRoot(env: Readonly<Record<string, string | undefined>>, uid: number): string {
  if (env.BERTH_ROOT) return env.BERTH_ROOT;
  if (uid === 0) return "/var/lib/berth";
  return join(env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "berth");
}
