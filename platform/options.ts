/** Options of the single-machine platform, with their defaults in one place. */
import { Type, type Static } from '@sinclair/typebox';
import { describeProblems, deepFreeze, withDefaults } from '../common/validate.js';
import { platformErrors } from './errors.js';

const Port = Type.Integer({ minimum: 0, maximum: 65535 });

export const PlatformOptionsSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, default: './data' }),
    /** Address both listeners bind to. */
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    mqttPort: Type.Integer({ minimum: 0, maximum: 65535, default: 1883 }),
    httpPort: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
    /** Broker URL written into agent configs; derived from host and the bound port when absent. */
    publicMqttUrl: Type.Optional(Type.String({ pattern: '^mqtts?://' })),
  },
  { additionalProperties: false },
);
export type PlatformOptions = Static<typeof PlatformOptionsSchema>;

export { Port };

export function resolvePlatformOptions(input: Partial<PlatformOptions>): Readonly<PlatformOptions> {
  const result = withDefaults(PlatformOptionsSchema, input);
  if (!result.ok) throw platformErrors.WF_PLATFORM_OPTION_INVALID({ reason: describeProblems(result.problems), field: result.problems[0]?.field });
  return deepFreeze(result.value);
}
