// The values every system stores, built by one function so the workload is the same for all.

const PAD = 'lorem ipsum dolor sit amet '.repeat(2).slice(0, 22);

/** A ~200-byte (as JSON) object, like a small row from a users table. */
export function makeValue(i) {
  return {
    id: i,
    name: `user-${i}`,
    email: `user${i}@example.com`,
    plan: 'pro',
    active: true,
    score: i % 97,
    tags: ['alpha', 'beta', 'gamma'],
    createdAt: '2024-01-01T00:00:00.000Z',
    bio: PAD,
  };
}

/** A small value (for memory per entry): two fields. */
export function makeSmallValue(i) {
  return { id: i, v: `v${i}` };
}

/** The key of entry `i` (all systems, all scenarios). */
export function keyOf(i) {
  return `key:${i}`;
}

/** The `{ writer, seq }` value of the coherence scenarios, padded to a realistic size. */
export function makeVersioned(writer, seq) {
  return { writer, seq, bio: PAD };
}

/** A comparable identity of a versioned value (or of its absence). */
export function versionOf(value) {
  if (value === undefined || value === null) return null;
  return `${value.writer}:${value.seq}`;
}
