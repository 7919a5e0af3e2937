/** Entry of the bundled `wasmfleet-module` bin (dist/kit.js in the packed SDK). */
import { main } from './cli.js';

await main(process.argv.slice(2));
