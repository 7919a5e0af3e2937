/** Error registry of the module kit (modules-as/tools). Codes are stable and never reused. */
import { defineErrors } from '../../common/errors.js';

export const moduleKitErrors = defineErrors({
  WF_MODULE_DIR_MISSING: { message: 'module folder {dir} has no {file}', status: 400 },
  WF_MODULE_CONFIG_UNREADABLE: { message: '{file} in {dir} cannot be read: {reason}', status: 400 },
  WF_MODULE_MANIFEST_INVALID: { message: 'manifest.json in {dir} is invalid: {reason}', status: 400 },
  WF_MODULE_TARGET_UNKNOWN: { message: "asconfig.json in {dir} has no target '{target}'", status: 400 },
  WF_MODULE_COMPILE_FAILED: { message: 'asc failed to compile {dir}: {reason}', status: 400 },
  WF_MODULE_ABI_REFUSED: { message: 'module built from {dir} breaks ABI v1: {reason}', status: 400 },
});
