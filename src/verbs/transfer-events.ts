/**
 * What pull and push report as they go, in docker's words, for the CLI to draw (a line per
 * layer, redrawn on a terminal) or a library caller to log. `id` is the blob's short digest.
 */
export interface TransferEvent {
  readonly id: string;
  /** docker's status text: "Pulling fs layer", "Downloading", "Pull complete", "Pushed", … */
  readonly status: string;
  /** Bytes done and in all, while downloading or pushing. */
  readonly current?: number;
  readonly total?: number;
}

export type TransferListener = (event: TransferEvent) => void;
