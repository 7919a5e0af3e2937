import { defineErrors } from '../common/errors.js';

export const platformErrors = defineErrors({
  WF_PLATFORM_OPTION_INVALID: { message: 'server option {reason}', status: 400 },
  WF_PLATFORM_DATA_DIR: { message: 'data directory {path} cannot be used: {reason}', status: 500 },
});
