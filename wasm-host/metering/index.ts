/**
 * The metering rewriter: instruments a verified module with fuel checkpoints so the agent can
 * enforce a CPU budget on its own thread (docs/modules.md, "metering checkpoints").
 */
export { METER_FUEL_EXPORT, METER_IMPORT_MODULE, METER_IMPORT_NAME } from './module-sections.js';
export { MeteringRefusal } from './refusal.js';
export { instrumentForMetering, type MeteredBinary, type MeteringOptions } from './instrument.js';
