/** Output comparison shared by the module tests: names and times exact, values within 1e-9. */
import assert from 'node:assert/strict';
import type { BatchOutput } from '../../wasm-host/types.js';

const TOLERANCE = 1e-9;

function close(actual: number, expected: number, where: string): void {
  if (Number.isNaN(expected)) return assert.ok(Number.isNaN(actual), `${where}: expected NaN, got ${actual}`);
  assert.ok(Math.abs(actual - expected) <= TOLERANCE, `${where}: ${actual} differs from ${expected}`);
}

export function assertSameOutput(actual: BatchOutput, expected: BatchOutput, label: string): void {
  assert.deepEqual(actual.metrics.map((m) => m.name), expected.metrics.map((m) => m.name), `${label}: metric names`);
  expected.metrics.forEach((metric, m) => {
    const points = actual.metrics[m]!.points;
    assert.deepEqual(points.map((p) => p[0]), metric.points.map((p) => p[0]), `${label}: ${metric.name} timestamps`);
    metric.points.forEach(([, value], p) => close(points[p]![1], value, `${label}: ${metric.name}[${p}]`));
  });
  assert.deepEqual(
    actual.events.map((e) => [e.name, e.t]),
    expected.events.map((e) => [e.name, e.t]),
    `${label}: events`,
  );
  expected.events.forEach((event, e) => close(actual.events[e]!.value, event.value, `${label}: event ${e}`));
  assert.equal(actual.dropped, expected.dropped, `${label}: dropped`);
}
