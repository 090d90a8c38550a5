/** An error caused by the user's input or environment: printed as one clear message, never a stack trace. */
export class UserError extends Error {
  constructor(
    message: string,
    public exitCode = 2,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
