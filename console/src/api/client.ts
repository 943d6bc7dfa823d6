// The REST client: typed against docs/openapi.json (generated from the api's code into
// src/api/schema.d.ts at build time), with the session's access token attached and refreshed.
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';
import type { FieldError, Problem } from './protocol';
import { session } from '../auth/session';

/** A problem answer (RFC 9457) from the api, or a network failure (`code` = `network`). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: FieldError[];

  constructor(status: number, code: string, detail: string, fields: FieldError[] = []) {
    super(detail);
    this.status = status;
    this.code = code;
    this.fields = fields;
  }

  static fromProblem(status: number, body: unknown): ApiError {
    const problem = (body ?? {}) as Partial<Problem> & { errors?: FieldError[] };
    return new ApiError(status, problem.code ?? 'internal', problem.detail ?? problem.title ?? `HTTP ${status}`, problem.errors ?? []);
  }

  /** The field error for `field`, if the api named one. */
  field(field: string): FieldError | undefined {
    return this.fields.find((f) => f.field === field);
  }
}

const PUBLIC_PATHS = ['/api/v1/auth/', '/api/v1/invitations/lookup', '/api/v1/invitations/accept'];

const auth: Middleware = {
  async onRequest({ request, schemaPath }) {
    if (PUBLIC_PATHS.some((p) => schemaPath.startsWith(p))) return request;
    const token = await session.accessToken();
    if (token) request.headers.set('Authorization', `Bearer ${token}`);
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: '' });
api.use(auth);

/**
 * Unwraps an openapi-fetch result: the data, or throws an {@link ApiError}. A 401 on a
 * member endpoint ends the session (the refresh already failed or the member was removed).
 */
export async function call<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await request;
  } catch (error) {
    throw new ApiError(0, 'network', error instanceof Error ? error.message : String(error));
  }
  const { data, error, response } = result;
  if (!response.ok) {
    const problem = ApiError.fromProblem(response.status, error);
    if (response.status === 401 && !PUBLIC_PATHS.some((p) => new URL(response.url, location.href).pathname.startsWith(p))) {
      session.expire();
    }
    throw problem;
  }
  return data as T;
}
