/** Error registry of the module kit (modules-as/sdk/kit, `wasmfleet module`). Codes are stable and never reused. */
import { defineErrors } from '../../../common/errors.js';

export const moduleKitErrors = defineErrors({
  WF_MODULE_DIR_MISSING: { message: 'module folder {dir} has no {file}', status: 400 },
  WF_MODULE_CONFIG_UNREADABLE: { message: '{file} in {dir} cannot be read: {reason}', status: 400 },
  WF_MODULE_MANIFEST_INVALID: { message: 'manifest.json in {dir} is invalid: {reason}', status: 400 },
  WF_MODULE_TARGET_UNKNOWN: { message: "asconfig.json in {dir} has no target '{target}'", status: 400 },
  WF_MODULE_COMPILE_FAILED: { message: 'asc failed to compile {dir}: {reason}', status: 400 },
  WF_MODULE_ABI_REFUSED: { message: 'module built from {dir} breaks ABI v1: {reason}', status: 400 },
  WF_MODULE_CSV_INVALID: { message: '{path} line {line}: {reason}', status: 400 },
  WF_MODULE_GOLDEN_INVALID: { message: 'golden case {path} is invalid: {reason}', status: 400 },
  WF_MODULE_CONFIG_INVALID: { message: '{reason}', status: 400 },
  WF_MODULE_FAULT: { message: 'module {name}@{version} faulted ({kind}) on samples {from}..{to}: {reason}', status: 422 },
  WF_MODULE_EXISTS: { message: 'cannot scaffold {dir}: it already exists', status: 409 },
  WF_MODULE_NAME_INVALID: { message: "module name '{name}' must match {pattern}", status: 400 },
  WF_MODULE_USAGE: { message: '{reason}; see wasmfleet-module --help', status: 400 },
  WF_MODULE_SDK_PACK_FAILED: { message: 'cannot pack the SDK: {reason}', status: 500 },
});
