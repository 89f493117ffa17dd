// Seeded PRNG for deterministic tests; one generator for tests, simulators and the fuzz
// harness (bench/prng.ts). Tests print the seed on failure so a case can be replayed exactly.
export { mulberry32 } from '../../bench/prng.js';
