import { BerthError } from "../../oci/errors.js";
import { goBool } from "../docker-command.js";

/** commander helper for repeatable options: `-f a -f b` → ["a", "b"]. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** docker's `--disable-content-trust[=BOOL]` (DockerCommand reads the `=BOOL`), on pull, push, build, create and run. */
export const CONTENT_TRUST_FLAG = "--disable-content-trust";
export const CONTENT_TRUST_HELP = "skip image verification (default true; berth does not sign or verify)";

/**
 * Refuses a command that asks for content trust (Notary signatures: `--disable-content-trust=false`,
 * or DOCKER_CONTENT_TRUST set and not disabled by the flag), as docker's rule reads it: pushing
 * unsigned, or pulling unverified, when signing was asked for would be a silent downgrade.
 */
export function refuseContentTrust(flag: boolean | undefined, env: Readonly<Record<string, string | undefined>>): void {
  const trust = env.DOCKER_CONTENT_TRUST;
  // docker: a value it cannot read turns it on
  const disabled = flag ?? (!trust || goBool(trust) === false);
  if (!disabled)
    throw new BerthError(
      "USAGE",
      "content trust (images signed through Notary) is not supported by berth: unset DOCKER_CONTENT_TRUST or pass --disable-content-trust",
    );
}
