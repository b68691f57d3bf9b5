import { BerthError } from "../oci/errors.js";
import { parseReference } from "../oci/reference.js";
import { addTag, resolveImage, type TagChange } from "../store/image-records.js";
import type { LocalStore } from "../store/local-store.js";

/** `docker tag SOURCE TARGET`: points TARGET (default tag `latest`) at SOURCE's image. */
export function tag(store: LocalStore, source: string, target: string): TagChange {
  const ref = parseReference(target);
  if (ref.digest) {
    throw new BerthError(
      "INVALID_REFERENCE",
      `refusing to create a tag with a digest reference: "${target}"; give NAME[:TAG]`,
    );
  }
  const { image } = resolveImage(store, source);
  return addTag(store, image.id, { ...ref, tag: ref.tag ?? "latest" });
}
