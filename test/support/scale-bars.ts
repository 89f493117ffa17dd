// Issue 16's bars for a thousand receivers against one and ten, shared by the simulator's
// scale tests (test/sim/scale.test.ts: the feedback alone; test/sim/scale-cli.test.ts: the
// CLI's own setup), so both hold the same figures.

/** Session time against one receiver's. */
export const TIME_RATIO_MAX = 1.2;
/** STATUS the sender hears in any one slice. */
export const STATUS_PER_SLICE_MAX = 8;
/** NAKs of a thousand receivers against ten receivers' (the mean over TEN_SEEDS seeds). */
export const NAK_RATIO_MAX = 2;
/** Ten receivers' NAK figure: the mean over this many seeds (seed, seed + 1, ...), cheap at ten. */
export const TEN_SEEDS = 5;
