// The agent's steps, in order, each with its exit code (docs/clone-plan.md lists them). A step
// that fails stops the run with one line "rackcast-clone: failed at STEP: ..." and its code.

export const STEPS = ['plan', 'disk', 'table', 'partition', 'mkfs', 'mount', 'receive', 'fixups', 'bootloader', 'finish'] as const;
export type Step = (typeof STEPS)[number];

export const EXIT_CODES: Readonly<Record<Step, number>> = {
  plan: 2,
  disk: 10,
  table: 11,
  partition: 12,
  mkfs: 13,
  mount: 14,
  receive: 15,
  fixups: 16,
  bootloader: 17,
  finish: 18,
};

/** A failure of one step, with a one-line message. */
export class StepError extends Error {
  readonly code = 'ERR_CLONE_STEP';
  constructor(
    readonly step: Step,
    message: string,
  ) {
    super(message.replace(/\s+/g, ' ').trim());
    this.name = 'StepError';
  }
}
