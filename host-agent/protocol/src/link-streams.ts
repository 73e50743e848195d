import type { ErrorBody } from './error-kind.js';

/**
 * Numbered byte streams over a Socket.IO link (server ⇄ agent, and server ⇄ console), with
 * credit-based flow control: a sender may have at most `STREAM_WINDOW_BYTES` unacknowledged bytes
 * in flight on a stream; the receiver hands credit back as its consumer takes the bytes. A stalled
 * reader therefore stalls its sender after one window, and nothing between them buffers more.
 * (The Node.js implementation is `LinkStream`, exported from `@skiff/protocol/link-stream`.)
 */

/** How many bytes a sender may have in flight on one stream before it must wait for credit. */
export const STREAM_WINDOW_BYTES = 256 * 1024;

/** The most streams one link carries at once; both ends refuse more (too-many-requests). */
export const MAX_STREAMS_PER_LINK = 256;

/** The largest chunk one `stream.data` frame carries. */
export const STREAM_CHUNK_BYTES = 64 * 1024;

/** Frames both ends of a link send to each other about numbered streams. */
export interface StreamFrameEvents {
  /** Bytes of stream `id`; never more than the credit the receiver has given. */
  'stream.data': (id: number, chunk: Uint8Array) => void;
  /** The sender will send no more bytes on stream `id` (a half-close: the other way may go on). */
  'stream.end': (id: number) => void;
  /** The receiver has taken `bytes` more bytes: the sender may send that many more. */
  'stream.credit': (id: number, bytes: number) => void;
  /** Stream `id` is over both ways: abandoned (null) or failed (an error). */
  'stream.reset': (id: number, error: ErrorBody | null) => void;
}

/**
 * Server → agent: make one Engine API call on the agent's own engine, its request body (if any)
 * following as frames of stream `stream` and its answer coming back on the same stream after an
 * `engine.head`. The server ends its side (`stream.end`) when the body is complete, and at once
 * when there is none. For an upgrade call the body is exactly `content-length` bytes of JSON (the
 * header is required, no chunking); after the 101 head, what follows on the stream is raw input.
 */
export interface EngineCall {
  stream: number;
  method: string;
  /** The Engine API path with its query, e.g. `/v1.41/containers/json?all=1`. */
  path: string;
  /** Request headers to pass on (content type, registry auth, …); never the caller's credentials. */
  headers: Record<string, string>;
  /** True when request body bytes follow on the stream (closed by `stream.end`); false: no body. */
  body: boolean;
  /** Attach and exec start: ask for the raw two-way stream (`101 UPGRADED`). */
  upgrade: boolean;
}

/** Agent → server: the status and headers of an Engine API call's answer; its body follows as frames. */
export interface EngineCallHead {
  stream: number;
  status: number;
  headers: Record<string, string>;
  /** True when the call took over the connection: both ways are now raw bytes. */
  upgraded: boolean;
}

/** Events the server sends an agent about Engine API calls, on top of the stream frames. */
export interface EngineCallServerEvents {
  'engine.call': (call: EngineCall) => void;
}

/** Events an agent sends the server about Engine API calls, on top of the stream frames. */
export interface EngineCallAgentEvents {
  'engine.head': (head: EngineCallHead) => void;
}
