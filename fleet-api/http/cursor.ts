/**
 * Opaque page cursors (docs/api.md §Pagination): the sort a page was made for and the position
 * of its last item, as base64url JSON. A cursor is ours and for this sort, or it is refused
 * naming `querystring/cursor`; clients never look inside.
 */
import { apiErrors } from '../errors.js';

export type CursorPosition = readonly (string | number | null)[];

export function encodeCursor(sort: string, position: CursorPosition): string {
  return Buffer.from(JSON.stringify([sort, ...position])).toString('base64url');
}

const badCursor = (reason: string) => apiErrors.WF_API_VALIDATION({ field: 'querystring/cursor', reason });

/** The position stored in `cursor`, checked to be `length` scalars made for `sort`. */
export function decodeCursor(cursor: string, sort: string, length: number): CursorPosition {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor('is not a cursor returned by this API');
  }
  if (
    !Array.isArray(value) ||
    value.length !== length + 1 ||
    typeof value[0] !== 'string' ||
    !value.slice(1).every((v) => v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)))
  ) {
    throw badCursor('is not a cursor returned by this API');
  }
  if (value[0] !== sort) throw badCursor(`was made for sort '${value[0]}', not '${sort}': start again without a cursor`);
  return value.slice(1) as CursorPosition;
}
