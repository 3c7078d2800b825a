/**
 * URLs and HTTP calls, all relative to the document's <base href>.
 *
 * The server serves index.html under any mount prefix and rewrites its
 * `<base href="/prefix/">`, so `new URL('api/runs', document.baseURI)` always
 * reaches the right server, and the router's basename is the base's path.
 */

import type { ErrorResponse } from './types';

const TOKEN_KEY = 'flowyml.token';
let memoryToken: string | null = null;

/** The router basename: the path of <base href>, without its trailing slash. */
export function basenameFrom(baseURI: string): string {
  const path = new URL(baseURI).pathname.replace(/\/+$/, '');
  return path === '' ? '/' : path;
}

/** Pick up `?token=` from the page URL once: keep it in memory and sessionStorage, strip it. */
export function initToken(loc: Location = window.location): void {
  const params = new URLSearchParams(loc.search);
  const fromUrl = params.get('token');
  if (fromUrl) {
    memoryToken = fromUrl;
    try {
      sessionStorage.setItem(TOKEN_KEY, fromUrl);
    } catch {
      // storage disabled: memory only
    }
    params.delete('token');
    const search = params.toString();
    const clean = loc.pathname + (search ? `?${search}` : '') + loc.hash;
    window.history.replaceState(window.history.state, '', clean);
    return;
  }
  try {
    memoryToken = sessionStorage.getItem(TOKEN_KEY);
  } catch {
    memoryToken = null;
  }
}

export function getToken(): string | null {
  return memoryToken;
}

export function setTokenForTests(token: string | null): void {
  memoryToken = token;
}

export type Query = Record<string, string | number | null | undefined>;

/** Absolute URL of an API path (`'runs/abc'` -> `<base>api/runs/abc`). */
export function apiUrl(path: string, query: Query = {}, base: string = document.baseURI): URL {
  const url = new URL(`api/${path.replace(/^\/+/, '')}`, base);
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== '') url.searchParams.set(key, String(value));
  }
  return url;
}

/**
 * URL for an EventSource, which cannot send headers. Without a token: the plain URL.
 * With one: a fresh single-use ticket from `POST api/sse-tickets` (the long-lived token
 * never enters a URL); only a server without that route gets `?token=`. `query` is kept
 * (e.g. `last_event_id`).
 */
export async function sseUrl(path: string, base: string = document.baseURI, query: Query = {}): Promise<string> {
  const token = getToken();
  if (!token) return apiUrl(path, query, base).toString();
  const url = apiUrl('sse-tickets', {}, base);
  const response = await fetch(url, { method: 'POST', headers: { Accept: 'application/json', ...authHeaders() } });
  if (response.status === 404 || response.status === 405) return apiUrl(path, { ...query, token }, base).toString();
  if (!response.ok) throw new ApiError(response.status, response.statusText || 'no SSE ticket', url.pathname);
  const { ticket } = (await response.json()) as { ticket: string };
  return apiUrl(path, { ...query, ticket }, base).toString();
}

/** Encode one path segment (run ids, pipeline and step names). */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;
  /** the `detail` as the server sent it (a 422 may be a list of field errors) */
  readonly raw: unknown;

  constructor(status: number, detail: string, url: string, raw: unknown = detail) {
    super(`${detail} (HTTP ${status} from ${url})`);
    this.name = 'ApiError';
    this.status = status;
    this.detail = detail;
    this.raw = raw;
  }
}

function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

interface RequestOptions {
  method?: 'GET' | 'POST';
  body?: unknown;
  query?: Query;
  signal?: AbortSignal;
}

/** Fetch JSON from the API; non-2xx answers raise ApiError with the server's `detail`. */
export async function apiFetch<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const url = apiUrl(path, options.query);
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders() };
  const init: RequestInit = { method: options.method ?? 'GET', headers };
  if (options.signal) init.signal = options.signal;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, `cannot reach the flowyml server (${String(err)})`, url.pathname);
  }
  if (!response.ok) {
    let detail = response.statusText || 'request failed';
    let raw: unknown = detail;
    try {
      const body = (await response.json()) as Partial<ErrorResponse>;
      raw = body.detail ?? detail;
      if (typeof body.detail === 'string') detail = body.detail;
      else if (body.detail !== undefined) detail = JSON.stringify(body.detail);
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(response.status, detail, url.pathname, raw);
  }
  return (await response.json()) as T;
}

/** Download bytes with the auth header (plain links cannot carry it). */
export async function downloadWithAuth(path: string, filename: string): Promise<void> {
  const url = apiUrl(path);
  const response = await fetch(url, { headers: authHeaders() });
  if (!response.ok) throw new ApiError(response.status, response.statusText, url.pathname);
  const blob = await response.blob();
  const objectUrl = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = objectUrl;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(objectUrl), 10_000);
}

export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.detail;
  if (err instanceof Error) return err.message;
  return String(err);
}
