import type { Problem } from '@ip2/contracts/http';

export type { Problem, ProblemIssue } from '@ip2/contracts/http';

/** The API key lives in this tab's session storage only; every API call sends it as a bearer token. */
const KEY = 'ip2.apiKey';

export const getKey = (): string | null => sessionStorage.getItem(KEY);
export const setKey = (key: string): void => sessionStorage.setItem(KEY, key);
export const clearKey = (): void => sessionStorage.removeItem(KEY);

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem | null;
  constructor(status: number, problem: Problem | null, fallback: string) {
    super(problem?.detail ?? fallback);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }
}

export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const key = getKey();
  return key === null ? extra : { ...extra, authorization: `Bearer ${key}` };
}

async function problemOf(res: Response): Promise<Problem | null> {
  try {
    const body = (await res.json()) as Partial<Problem>;
    return typeof body.detail === 'string' && typeof body.status === 'number' ? (body as Problem) : null;
  } catch {
    return null;
  }
}

/** A JSON call to the API; a non-2xx answer throws ApiError with the problem details. */
export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers = authHeaders(init.body === undefined ? {} : { 'content-type': 'application/json' });
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  if (!res.ok) throw new ApiError(res.status, await problemOf(res), `${res.status} ${res.statusText}`);
  return (await res.json()) as T;
}

/**
 * Fetches an authenticated download and hands it to the browser: saved as a file, or opened in a new
 * tab (opened at once, while the click still counts as the user's, then pointed at the fetched page).
 */
export async function download(path: string, mode: { save: string } | 'open'): Promise<void> {
  const tab = mode === 'open' ? window.open('about:blank', '_blank') : null;
  try {
    const res = await fetch(path, { headers: authHeaders() });
    if (!res.ok) throw new ApiError(res.status, await problemOf(res), `${res.status} ${res.statusText}`);
    const url = URL.createObjectURL(await res.blob());
    if (mode === 'open') {
      if (tab === null) window.open(url, '_blank');
      else tab.location.href = url;
    } else {
      const a = document.createElement('a');
      a.href = url;
      a.download = mode.save;
      a.click();
    }
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (e) {
    tab?.close();
    throw e;
  }
}
