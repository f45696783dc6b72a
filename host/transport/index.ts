// The Node transport: http://, https:// and file:// (unix socket) posts, synchronous for the guest.
export { SyncTransport, type TransportOptions, type PostResult } from "./sync-transport.js";
export { httpPost, newAgent } from "./http-post.js";
export { loadTrustAnchors, TrustError } from "./trust.js";
export { MAX_REPLY_BYTES, type PostRecord, type TransportErrorName } from "./types.js";
