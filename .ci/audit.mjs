// Dependency audit: fails on known advisories of high or critical severity in the runtime
// dependencies. Where the registry has no advisory endpoint (a mirror, an offline machine), the
// audit cannot run: that is said plainly and the step passes. Exceptions: docs/operations.md (Security).
import { spawnSync } from 'node:child_process';

const run = spawnSync('npm', ['audit', '--omit=dev', '--json'], { encoding: 'utf8' });
let report;
try {
  report = JSON.parse(run.stdout);
} catch {
  console.log(`npm audit gave no report (exit ${run.status}); skipped.\n${run.stderr.trim()}`);
  process.exit(0);
}
if (report.metadata === undefined) {
  const why = report.message ?? report.error?.summary ?? 'no advisory data';
  console.log(`npm audit unavailable from this registry (${why}); skipped.`);
  process.exit(0);
}
const v = report.metadata.vulnerabilities;
console.log(`npm audit (runtime dependencies): ${JSON.stringify(v)}`);
if ((v.high ?? 0) + (v.critical ?? 0) > 0) {
  for (const [name, info] of Object.entries(report.vulnerabilities ?? {}))
    if (info.severity === 'high' || info.severity === 'critical')
      console.log(`  ${info.severity}: ${name} ${info.range}`);
  process.exit(1);
}
