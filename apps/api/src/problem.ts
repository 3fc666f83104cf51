import { ConflictError, NotFoundError, UnavailableError } from '@ip2/db';
import { SearchDefinitionError } from '@ip2/search';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_TYPE, type Problem, type ProblemIssue } from '@ip2/contracts/http';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** An error a route throws on purpose: its status, message and fields reach the client as they are. */
export class HttpProblem extends Error {
  readonly statusCode: number;
  readonly errors: readonly ProblemIssue[] | undefined;
  readonly headers: Record<string, string>;
  constructor(
    statusCode: number,
    detail: string,
    errors?: readonly ProblemIssue[],
    headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
    this.statusCode = statusCode;
    this.errors = errors;
    this.headers = headers;
  }
}

export function problem(status: number, detail: string, errors?: readonly ProblemIssue[]): Problem {
  const slug = (TITLES[status] ?? `HTTP ${status}`).toLowerCase().replaceAll(' ', '-');
  return {
    type: `https://ip2.dev/problems/${slug}`,
    title: TITLES[status] ?? `HTTP ${status}`,
    status,
    detail,
    ...(errors && errors.length > 0 ? { errors } : {}),
  };
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).type(PROBLEM_TYPE).send(p);
}

/** Joins a path of a request part ('body', 'querystring', ...) and a JSON pointer into 'part.a.b'. */
function issuePath(context: string | undefined, pointer: string): string {
  const parts = pointer.split('/').filter((p) => p !== '');
  const where = context === 'querystring' ? 'query' : context;
  return [...(where && where !== 'body' ? [where] : []), ...parts].join('.');
}

/** The message, prefixed with the path unless it already names the field. */
function withPath(path: string, message: string): string {
  const field = path.split('.').pop() ?? '';
  return path === '' || message.startsWith(path) || message.startsWith(field) || message.includes('unknown')
    ? message
    : `${path}: ${message}`;
}

interface ValidationItem {
  readonly keyword?: string;
  readonly instancePath?: string;
  readonly message?: string;
  readonly params?: { readonly keys?: readonly string[] };
}

/** The problem a thrown error stands for; 5xx details are logged, never sent. */
export function toProblem(err: unknown, request: FastifyRequest): Problem {
  if (err instanceof HttpProblem) return problem(err.statusCode, err.message, err.errors);
  if (err instanceof SearchDefinitionError) {
    const errors = err.issues.map((i) => ({ path: i.path, message: withPath(i.path, i.message) }));
    return problem(400, `invalid search definition: ${err.message}`, errors);
  }
  if (err instanceof NotFoundError) return problem(404, err.message);
  if (err instanceof ConflictError) return problem(409, err.message);
  if (err instanceof UnavailableError) {
    request.log.error({ err }, 'database unavailable');
    return problem(503, 'the database is unavailable; try again later');
  }
  const e = err as Partial<FastifyError> & { validation?: readonly ValidationItem[] };
  if (Array.isArray(e.validation)) {
    const errors = e.validation.flatMap((v: ValidationItem): ProblemIssue[] => {
      const path = issuePath(e.validationContext, v.instancePath ?? '');
      const message = withPath(path, v.message ?? 'invalid');
      // One entry per unknown field, with the field's own path.
      if (v.keyword === 'unrecognized_keys' && Array.isArray(v.params?.keys)) {
        return v.params.keys.map((k) => ({ path: path === '' ? k : `${path}.${k}`, message }));
      }
      return [{ path, message }];
    });
    const where = e.validationContext === 'querystring' ? 'query' : (e.validationContext ?? 'request');
    return problem(400, `invalid ${where}: ${errors.map((x) => x.message).join('; ')}`, errors);
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return problem(413, `the request body is larger than ${request.routeOptions.bodyLimit ?? 0} bytes`, [
        { path: 'body', message: 'body too large' },
      ]);
    }
    if (e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (err instanceof SyntaxError && status === 400)) {
      return problem(400, `the body is not valid JSON: ${e.message ?? ''}`, [
        { path: 'body', message: 'invalid JSON' },
      ]);
    }
    return problem(status, e.message ?? TITLES[status] ?? 'bad request');
  }
  request.log.error({ err }, 'request failed');
  return problem(status >= 500 && status < 600 ? status : 500, 'internal error');
}
