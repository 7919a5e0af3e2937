import { defineErrors } from '../common/errors.js';

export const cliErrors = defineErrors({
  WF_CLI_NO_TOKEN: {
    message: 'no API token: pass --token, set WASMFLEET_TOKEN, or run where {path} exists',
    status: 401,
  },
  WF_CLI_API_UNREACHABLE: { message: 'cannot reach the fleet API at {url}: {reason}', status: 503 },
  WF_CLI_API_ERROR: { message: '{method} {path} failed with {status}: {reason}', status: 500 },
  WF_CLI_BAD_ARGUMENT: { message: '{option}: {reason}', status: 400 },
  WF_CLI_FILE: { message: 'cannot use file {path}: {reason}', status: 400 },
  WF_CLI_IMPORT_ROWS: { message: '{path} has {count} bad row(s), nothing was provisioned:\n{rows}', status: 400 },
  WF_CLI_RUNTIME: { message: 'no Node runtime for --with-node: {reason}', status: 502 },
  WF_CLI_REMOTE: { message: '--ssh {target}: {step} failed: {reason}', status: 502 },
  WF_CLI_DEV_REFUSED: {
    message: 'device {device} runs {module}@{version}, not a dev version: module dev would replace it (pass --force to take it over; Ctrl-C puts it back)',
    status: 409,
  },
});
