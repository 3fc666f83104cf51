export { apiPlugin, buildApp, API_VERSION, type ApiOptions, type BuildAppOptions } from './app.js';
export { apiEnvSchema, DEFAULT_LIMITS, EnvError, parseApiEnv, type ApiConfig, type ApiLimits } from './env.js';
export { PROBLEM_TYPE, type Problem, type ProblemIssue } from '@ip2/contracts/http';
export { problem, HttpProblem } from './problem.js';
export { checkLimits } from './routes/searches.js';
