const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `id` can be a stored id; anything else is simply not found (never a database error). */
export function isId(id: string): boolean {
  return typeof id === 'string' && UUID.test(id);
}

export function checkOwner(owner: string): void {
  if (typeof owner !== 'string' || owner.length === 0 || owner.length > 200) {
    throw new TypeError('owner must be a non-empty string of at most 200 characters');
  }
}
