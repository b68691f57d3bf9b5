import type { History } from "../oci/schema.js";
import { getImage, layerSizes } from "../store/image-records.js";
import type { LocalStore } from "../store/local-store.js";
import { openMeasuredImage, readStoredImage } from "./stored-image.js";

/** One row of `docker history`, newest first. */
export interface HistoryRow {
  /** The image ID for the top row (and for rows whose image is in the store), else "<missing>". */
  id: string;
  created: string | null;
  createdBy: string;
  size: number;
  comment: string;
  emptyLayer: boolean;
}

/** `docker history NAME`: the config's history, each row with the size of the layer it made. */
export async function history(store: LocalStore, nameOrId: string): Promise<HistoryRow[]> {
  const img = await openMeasuredImage(store, nameOrId);
  const diffIds = img.config.rootfs.diff_ids;
  const sizes = layerSizes(store, diffIds);
  const entries: History[] = img.config.history ?? diffIds.map(() => ({}));
  const rows: HistoryRow[] = [];
  let layer = 0;
  for (const h of entries) {
    const empty = h.empty_layer === true;
    const size = empty ? 0 : (sizes[layer] ?? 0);
    if (!empty) layer++;
    rows.push({
      id: "<missing>",
      created: h.created ?? null,
      createdBy: h.created_by ?? "",
      size,
      comment: h.comment ?? "",
      emptyLayer: empty,
    });
  }
  rows.reverse();
  if (rows[0]) rows[0].id = img.record.id;
  // Images of the parent chain the builder recorded give their IDs to the row where their
  // own history ends, as docker shows them; the rest stay <missing>.
  let parent = img.record.parent;
  while (parent) {
    const record = getImage(store, parent);
    if (!record) break;
    const count = readStoredImage(store, record).config.history?.length ?? 0;
    const row = rows[rows.length - count];
    if (row && count > 0) row.id = parent;
    parent = record.parent;
  }
  return rows;
}
