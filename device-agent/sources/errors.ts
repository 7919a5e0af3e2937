/**
 * Error registry of the sensor sources. A source never stops the agent: these errors are logged
 * (with the source id), counted, and the source retries; they name the config field at fault.
 */
import { defineErrors } from '../../common/errors.js';

export const sourceErrors = defineErrors({
  WF_SOURCE_UNAVAILABLE: { message: "source '{source}' ({kind}) cannot read {what}: {reason}; retrying every {retryMs} ms", status: 503 },
  WF_SOURCE_NOT_FOUND: { message: "source '{source}' ({kind}): no {what} matches '{wanted}' under {root}", status: 404 },
  WF_SOURCE_BAD_INPUT: { message: "source '{source}' ({kind}) ignored bad input ({reason}); {count} so far", status: 400 },
  WF_SOURCE_OVERFLOW: { message: "source '{source}' ({kind}) dropped {count} samples: more than maxBuffered ({max}) waited between batches", status: 503 },
});

