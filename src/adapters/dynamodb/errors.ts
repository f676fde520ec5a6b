import { InvalidCursorError } from '../../ports/lead-store.js';

/**
 * A DynamoDB call failed. The message names the operation and the error kind only: SDK errors
 * can carry the items of the call (e.g. a failed condition's old item), which may hold personal
 * data, so the original error is not kept as `cause`.
 */
export class DynamoStoreError extends Error {
  constructor(
    message: string,
    /** The SDK's error name (ConditionalCheckFailedException...), a socket code (ECONNRESET) or our own. */
    readonly code: string,
    readonly httpStatusCode?: number,
  ) {
    super(message);
    this.name = 'DynamoStoreError';
  }

  static from(operation: string, error: unknown): DynamoStoreError {
    const code = errorCode(error);
    const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
    return new DynamoStoreError(`dynamodb ${operation} failed: ${code}`, code, status);
  }
}

/** The SDK's error name (ConditionalCheckFailedException...) or a socket code (ECONNREFUSED). */
function errorCode(error: unknown): string {
  if (typeof error !== 'object' || error === null) return 'unknown';
  const { code, name } = error as { code?: unknown; name?: unknown };
  if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) return code;
  return typeof name === 'string' ? name : 'unknown';
}

export function errorName(error: unknown): string | undefined {
  return (error as { name?: string } | null)?.name;
}

export function isConditionalCheckFailed(error: unknown): boolean {
  return errorName(error) === 'ConditionalCheckFailedException';
}

/** The per-item cancellation codes of a cancelled transaction, or null for any other error. */
export function cancellationCodes(error: unknown): Array<string | undefined> | null {
  if (errorName(error) !== 'TransactionCanceledException') return null;
  const reasons = (error as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons ?? [];
  return reasons.map((reason) => reason.Code);
}

/** Runs a store operation, rethrowing what escapes it as a DynamoStoreError (port errors pass). */
export async function guard<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof InvalidCursorError || error instanceof DynamoStoreError) throw error;
    throw DynamoStoreError.from(operation, error);
  }
}
