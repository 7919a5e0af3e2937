import { defineErrors } from '../common/errors.js';

export const platformErrors = defineErrors({
  WF_PLATFORM_OPTION_INVALID: { message: 'server option {reason}', status: 400 },
  WF_PLATFORM_DATA_DIR: { message: 'data directory {path} cannot be used: {reason}', status: 500 },
  WF_PLATFORM_API_RUNNING: {
    message: 'another fleet API (pid {pid}) already runs on {path}; one API is the single writer of a data directory (stop it first; `wasmfleet backup` needs no API stopped)',
    status: 409,
  },
});
