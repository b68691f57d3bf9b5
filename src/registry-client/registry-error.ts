import { errorBodySchema } from "../oci/distribution.js";
import { BerthError } from "../oci/errors.js";
import type { HttpResponse } from "./transport.js";

/**
 * A registry's refusal: the HTTP status and the distribution spec's error code from the
 * body (`MANIFEST_UNKNOWN`, `DENIED`, …), so callers branch on the code, never the text.
 */
export class RegistryError extends BerthError {
  constructor(
    readonly status: number,
    readonly registryCode: string,
    message: string,
  ) {
    super("REGISTRY", message);
  }
}

/** Status codes with no error body still get a code, as Distribution would have sent. */
function codeForStatus(status: number): string {
  switch (status) {
    case 401:
      return "UNAUTHORIZED";
    case 403:
      return "DENIED";
    case 404:
      return "NAME_UNKNOWN";
    case 429:
      return "TOOMANYREQUESTS";
    default:
      return "UNKNOWN";
  }
}

/** Reads an error response (at most 64 kB of it) into a RegistryError: `what: CODE: message (HTTP n)`. */
export async function registryError(res: HttpResponse, what: string): Promise<RegistryError> {
  let text = "";
  try {
    for await (const chunk of res.body) {
      text += (chunk as Buffer).toString("utf8");
      if (text.length > 65536) break;
    }
  } catch {
    // a body cut short still leaves the status to report
  }
  res.body.destroy();
  return registryErrorOf(res.status, text, what);
}

/** A RegistryError from an error response's status and body text. */
export function registryErrorOf(status: number, text: string, what: string): RegistryError {
  let code = codeForStatus(status);
  let message = "";
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(text));
    const first = parsed.success ? parsed.data.errors[0] : undefined;
    if (first) {
      code = first.code;
      message = first.message ?? "";
    }
  } catch {
    // not JSON: keep the status's code
  }
  const oneLine = message.replace(/\s+/g, " ").trim().slice(0, 200);
  return new RegistryError(status, code, `${what}: ${code}${oneLine ? `: ${oneLine}` : ""} (HTTP ${status})`);
}
