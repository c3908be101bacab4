// Assertions catch programmer errors, never operating errors (those are StoreErrors).
// A failed assertion inside a worker is fatal for that worker; see writer_worker.ts.

export class AssertionError extends Error {
  readonly code = 'E_ASSERTION';
  constructor(message: string) {
    super(message);
    this.name = 'AssertionError';
  }
}

export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function assertNever(value: never, message = 'unexpected value'): never {
  throw new AssertionError(`${message}: ${JSON.stringify(value)}`);
}
