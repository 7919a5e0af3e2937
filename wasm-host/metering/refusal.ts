/** The one error the metering rewriter throws: the binary holds something it does not fully understand. */
export class MeteringRefusal extends Error {
  /** Stable code, for logs and reported state. */
  readonly code = 'WF_METERING_REFUSED';

  constructor(reason: string) {
    super(reason);
    this.name = 'MeteringRefusal';
  }
}
