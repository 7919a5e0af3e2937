import { defineErrors } from '../common/errors.js';

export const profileErrors = defineErrors({
  WF_PROFILE_UNKNOWN: { message: "unknown firmware profile '{name}'; known: {known}", status: 400 },
  WF_PROFILE_INVALID: { message: "firmware profile '{name}' is invalid at {reason}", status: 400 },
  WF_PROFILE_UNREADABLE: { message: "firmware profile file {path} cannot be read: {reason}", status: 400 },
});
