// The loopback suite again, with both CLIs forced onto node:dgram (--io's default comes
// from RACKCAST_IO, which the spawned CLIs inherit): both UDP paths pass the same tests.
// loopback.test.ts itself runs on the default path, native when the addon is built.
process.env.RACKCAST_IO = 'dgram';
await import('./loopback.test.js');
