// Bounds that parts of both roles must agree on.

/**
 * Receivers one session takes at most. The sender keeps a record for each (sender/core/
 * participants.ts; about 400 bytes each with its places in the progress heaps), and each
 * sealed socket's replay table holds a window for every source that talks to it
 * (common/auth/seal.ts). 16,384 covers a large machine room; START's `receivers` field
 * (u16) would allow 65,535.
 */
export const MAX_RECEIVERS = 16_384;
