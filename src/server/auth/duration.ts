import { BerthError } from "../../oci/errors.js";

/**
 * Token lifetimes as people write them: `90m`, `12h`, `30d`, `2w`, `1y`, or combined (`1d12h`).
 * Returns milliseconds.
 */
const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
};

export function parseExpiry(text: string): number {
  const bad = () =>
    new BerthError("USAGE", `invalid duration "${text}": write a number and a unit, e.g. 90m, 12h, 30d, 2w, 1y`);
  if (!/^(\d+[smhdwy])+$/.test(text)) throw bad();
  let total = 0;
  for (const m of text.matchAll(/(\d+)([smhdwy])/g)) total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  if (total <= 0 || !Number.isSafeInteger(total)) throw bad();
  return total;
}
