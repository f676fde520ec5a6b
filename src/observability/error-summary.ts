/**
 * What a log line may say about an error: its kind, code, message and stack. Never the request
 * body or the data the failing call carried.
 */
export function errorSummary(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error };
  return { type: error.name, code: (error as { code?: unknown }).code, message: error.message, stack: error.stack };
}
