/** A command line that cannot be understood: printed with the usage, exit 64. */
export class UsageError extends Error {}
