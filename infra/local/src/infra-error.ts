/** The provider's one error type: a one-line message, plus `details` (log tails) for the CLI to print. */
export class InfraError extends Error {
  override readonly name = 'InfraError';

  constructor(
    message: string,
    readonly details?: string,
  ) {
    super(message);
  }
}
