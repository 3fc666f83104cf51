import { MG_H } from '../model/surrogates.js';
import {
  ACC_PLANES,
  ADJOINTS,
  GROUP_KEYS,
  META,
  META_STRIDE,
  NATURAL_PLANES,
  STATS,
  STATS_STRIDE,
  TRAJ_PLANES,
  type GpuLayout,
} from './layout.js';

/** Threads per workgroup of every kernel. */
export const WORKGROUP = 64;
/** Bytes between two per-step uniform records (the dynamic-offset alignment of WebGPU). */
export const STEP_RECORD = 256;

/** The storage buffers; a kernel binds those it uses, each once, read-only or read-write. */
export const BUFFERS = ['params', 'grads', 'moments', 'settings', 'stats', 'traj', 'io', 'out', 'work'] as const;
export type BufferName = (typeof BUFFERS)[number];
export type Access = 'read' | 'read_write';

export interface KernelSource {
  readonly name: string;
  readonly code: string;
  /** Storage bindings 1…n in order (binding 0 is the per-step uniform record). */
  readonly bindings: readonly (readonly [BufferName, Access])[];
}

/**
 * WGSL of every kernel of a population, with the sizes (P, nIn, N, nOut, group offsets) as
 * constants; the steps T, trials B and the current step t come from the uniform record.
 */
export function kernels(L: GpuLayout): KernelSource[] {
  const o = L.offset;
  const consts = [
    `const P: u32 = ${L.P}u;`,
    `const N: u32 = ${L.N}u;`,
    `const NIN: u32 = ${L.nIn}u;`,
    `const NOUT: u32 = ${L.nOut}u;`,
    `const TOTAL: u32 = ${L.total}u;`,
    ...GROUP_KEYS.map((k) => `const OFF_${k.toUpperCase()}: u32 = ${o[k]}u;`),
    ...GROUP_KEYS.map((k, g) => `const G_${k.toUpperCase()}: u32 = ${g}u;`),
    `const ADJ: u32 = ${ADJOINTS}u;`,
    `const MS: u32 = ${META_STRIDE}u;`,
    `const SS: u32 = ${STATS_STRIDE}u;`,
    ...Object.entries(META).map(([k, v]) => `const M_${k.toUpperCase()}: u32 = ${v}u;`),
    ...Object.entries(STATS).map(([k, v]) => `const S_${k.toUpperCase()}: u32 = ${v}u;`),
    `const MG_H: f32 = ${MG_H};`,
    `const WG: u32 = ${WORKGROUP}u;`,
  ].join('\n');
  const common = `
${consts}
struct Step { t: u32, T: u32, B: u32, pad: u32 }
@group(0) @binding(0) var<uniform> cfg: Step;

fn plane() -> u32 { return (cfg.T + 1u) * P * cfg.B * N; }
${TRAJ_PLANES.map((n, i) => `fn ${trajFn(n)}(slot: u32, p: u32, b: u32, i: u32) -> u32 { return ${i}u * plane() + ((slot * P + p) * cfg.B + b) * N + i; }`).join('\n')}
// io: x [P][T][B][NIN], targets [P][T][B][NOUT], mask [P][T][B]
fn ix(p: u32, t: u32, b: u32, k: u32) -> u32 { return ((p * cfg.T + t) * cfg.B + b) * NIN + k; }
fn itg(p: u32, t: u32, b: u32, k: u32) -> u32 { return P * cfg.T * cfg.B * NIN + ((p * cfg.T + t) * cfg.B + b) * NOUT + k; }
fn imask(p: u32, t: u32, b: u32) -> u32 { return P * cfg.T * cfg.B * (NIN + NOUT) + (p * cfg.T + t) * cfg.B + b; }
// out: y [T][P][B][NOUT], dy [T][P][B][NOUT], task partials [P][T][B]
fn iy(t: u32, p: u32, b: u32, k: u32) -> u32 { return ((t * P + p) * cfg.B + b) * NOUT + k; }
fn idy(t: u32, p: u32, b: u32, k: u32) -> u32 { return cfg.T * P * cfg.B * NOUT + ((t * P + p) * cfg.B + b) * NOUT + k; }
fn ipart(p: u32, t: u32, b: u32) -> u32 { return 2u * cfg.T * P * cfg.B * NOUT + (p * cfg.T + t) * cfg.B + b; }
// work: keep [P][N], natural values [NAT][P][N], adjoints [2][ADJ][P][B][N] (ū, d̄, ā, z̄), accumulators [ACC][P][B][N]
fn ikeep(p: u32, i: u32) -> u32 { return p * N + i; }
${NATURAL_PLANES.map((n, i) => `fn n_${n}(p: u32, i: u32) -> u32 { return ${i + 1}u * P * N + p * N + i; }`).join('\n')}
fn iadj(half: u32, which: u32, p: u32, b: u32, i: u32) -> u32 {
  return ${1 + NATURAL_PLANES.length}u * P * N + ((half * ADJ + which) * P + p) * cfg.B * N + b * N + i;
}
${ACC_PLANES.map((n, i) => `fn a_${n}(p: u32, b: u32, i: u32) -> u32 { return ${1 + NATURAL_PLANES.length}u * P * N + (${2 * ADJOINTS + i}u * P + p) * cfg.B * N + b * N + i; }`).join('\n')}
fn im(p: u32, k: u32) -> u32 { return p * MS + k; }
fn ist(p: u32, k: u32) -> u32 { return p * SS + k; }
fn gindex(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 { return (wid.y * nwg.x + wid.x) * WG + lid.x; }
`;
  const entry = `@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>)`;
  const make = (name: string, bindings: readonly (readonly [BufferName, Access])[], body: string): KernelSource => {
    const decl = bindings
      .map(([b, a], i) => `@group(0) @binding(${i + 1}) var<storage, ${a}> ${b}: array<f32>;`)
      .join('\n');
    return { name, bindings, code: `${common}\n${decl}\n${body}` };
  };

  const groupOf = `
fn groupOf(e: u32) -> u32 {
  ${GROUP_KEYS.slice(1)
    .map((k, g) => `if (e < OFF_${k.toUpperCase()}) { return ${g}u; }`)
    .join('\n  ')}
  return ${GROUP_KEYS.length - 1}u;
}`;

  return [
    // Natural values of the intrinsic properties and their derivative factors, per (p, i).
    make(
      'prepare',
      [
        ['params', 'read'],
        ['settings', 'read'],
        ['work', 'read_write'],
      ],
      `
fn softplus(x: f32) -> f32 { if (x > 30.0) { return x; } return log(1.0 + exp(x)); }
fn sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
// α = exp(−dt / clamp(exp(raw))) and ∂α/∂raw (0 where the clamp is active); in 'step' clamp mode the
// raw value is kept in range by the optimiser step, and neither α nor its derivative is clamped here.
fn decay(raw: f32, p: u32) -> vec2<f32> {
  let dt = settings[im(p, M_DT)];
  let te = exp(raw);
  if (settings[im(p, M_CLAMPAFTERSTEP)] != 0.0) {
    let alpha = exp(-dt / te);
    return vec2<f32>(alpha, alpha * dt / te);
  }
  let lo = settings[im(p, M_TAUMIN)];
  let hi = settings[im(p, M_TAUMAX)];
  let alpha = exp(-dt / clamp(te, lo, hi));
  var k = 0.0;
  if (te >= lo && te <= hi) { k = alpha * dt / te; }
  return vec2<f32>(alpha, k);
}
${entry} {
  let g = gindex(wid, nwg, lid);
  if (g >= P * N) { return; }
  let p = g / N;
  let i = g % N;
  let base = p * TOTAL;
  let dD = decay(params[base + OFF_TAUD + i], p);
  let dS = decay(params[base + OFF_TAUS + i], p);
  work[n_alphaD(p, i)] = dD.x;
  work[n_oneMinusAlphaD(p, i)] = 1.0 - dD.x;
  work[n_alphaDSlope(p, i)] = dD.y;
  work[n_alphaS(p, i)] = dS.x;
  work[n_oneMinusAlphaS(p, i)] = 1.0 - dS.x;
  work[n_alphaSSlope(p, i)] = dS.y;
  let rt = params[base + OFF_THETA + i];
  work[n_threshold(p, i)] = softplus(rt);
  work[n_thresholdSlope(p, i)] = sigmoid(rt);
  if (settings[im(p, M_ADAPT)] != 0.0) {
    let dA = decay(params[base + OFF_TAUA + i], p);
    let rb = params[base + OFF_BETA + i];
    work[n_rho(p, i)] = dA.x;
    work[n_oneMinusRho(p, i)] = 1.0 - dA.x;
    work[n_rhoSlope(p, i)] = dA.y;
    work[n_adaptationStrength(p, i)] = softplus(rb);
    work[n_adaptationStrengthSlope(p, i)] = sigmoid(rb);
  } else {
    work[n_rho(p, i)] = 0.0;
    work[n_oneMinusRho(p, i)] = 0.0;
    work[n_rhoSlope(p, i)] = 0.0;
    work[n_adaptationStrength(p, i)] = 0.0;
    work[n_adaptationStrengthSlope(p, i)] = 0.0;
  }
}`,
    ),
    // Slot 0 of the trajectory: d = u = a = s = z = 0, ϑ = θ.
    make(
      'init',
      [
        ['traj', 'read_write'],
        ['work', 'read'],
      ],
      `
${entry} {
  let g = gindex(wid, nwg, lid);
  if (g >= P * cfg.B * N) { return; }
  let i = g % N;
  let b = (g / N) % cfg.B;
  let p = g / (N * cfg.B);
  traj[t_I(0u, p, b, i)] = 0.0;
  traj[t_d(0u, p, b, i)] = 0.0;
  traj[t_u(0u, p, b, i)] = 0.0;
  traj[t_a(0u, p, b, i)] = 0.0;
  traj[t_s(0u, p, b, i)] = 0.0;
  traj[t_z(0u, p, b, i)] = 0.0;
  traj[t_adaptiveThreshold(0u, p, b, i)] = work[n_threshold(p, i)];
}`,
    ),
    // One forward step t of every (network, trial, neuron).
    make(
      'forward',
      [
        ['params', 'read'],
        ['settings', 'read'],
        ['traj', 'read_write'],
        ['io', 'read'],
        ['work', 'read'],
      ],
      `
${entry} {
  let g = gindex(wid, nwg, lid);
  if (g >= P * cfg.B * N) { return; }
  let i = g % N;
  let b = (g / N) % cfg.B;
  let p = g / (N * cfg.B);
  let t = cfg.t;
  let slot = t + 1u;
  let base = p * TOTAL;
  var I = 0.0;
  for (var k = 0u; k < NIN; k++) { I += io[ix(p, t, b, k)] * params[base + OFF_WIN + k * N + i]; }
  for (var j = 0u; j < N; j++) {
    if (traj[t_s(t, p, b, j)] != 0.0) { I += params[base + OFF_WREC + j * N + i]; }
  }
  I = I + params[base + OFF_B + i];
  let sP = traj[t_s(t, p, b, i)];
  let d = work[n_alphaD(p, i)] * traj[t_d(t, p, b, i)] + work[n_oneMinusAlphaD(p, i)] * I;
  let u = work[n_alphaS(p, i)] * traj[t_u(t, p, b, i)] + work[n_oneMinusAlphaS(p, i)] * d - traj[t_adaptiveThreshold(t, p, b, i)] * sP;
  let a = work[n_rho(p, i)] * traj[t_a(t, p, b, i)] + work[n_oneMinusRho(p, i)] * sP;
  let th = work[n_threshold(p, i)] + work[n_adaptationStrength(p, i)] * a;
  var s = 0.0;
  if (u - th > 0.0) { s = work[ikeep(p, i)]; }
  // The spike readout's leaky output units: z = κ z + (1 − κ) s (0 with the membrane readout).
  var z = 0.0;
  if (settings[im(p, M_SPIKEREADOUT)] != 0.0) {
    let kappa = settings[im(p, M_KAPPAOUT)];
    z = kappa * traj[t_z(t, p, b, i)] + (1.0 - kappa) * s;
  }
  traj[t_z(slot, p, b, i)] = z;
  traj[t_I(slot, p, b, i)] = I;
  traj[t_d(slot, p, b, i)] = d;
  traj[t_u(slot, p, b, i)] = u;
  traj[t_a(slot, p, b, i)] = a;
  traj[t_adaptiveThreshold(slot, p, b, i)] = th;
  traj[t_s(slot, p, b, i)] = s;
}`,
    ),
    // Readout y = W_out (r · keep) + b_out of every (step, network, trial), r = z (spike readout) or u
    // (membrane readout); ȳ and the task-loss partials.
    make(
      'readout',
      [
        ['params', 'read'],
        ['settings', 'read'],
        ['traj', 'read'],
        ['io', 'read'],
        ['out', 'read_write'],
        ['work', 'read'],
      ],
      `
${entry} {
  let g = gindex(wid, nwg, lid);
  if (g >= cfg.T * P * cfg.B) { return; }
  let b = g % cfg.B;
  let p = (g / cfg.B) % P;
  let t = g / (cfg.B * P);
  let base = p * TOTAL;
  let spikes = settings[im(p, M_SPIKEREADOUT)] != 0.0;
  for (var o = 0u; o < NOUT; o++) {
    var y = 0.0;
    for (var i = 0u; i < N; i++) {
      var r = traj[t_u(t + 1u, p, b, i)];
      if (spikes) { r = traj[t_z(t + 1u, p, b, i)]; }
      y += params[base + OFF_WOUT + i * NOUT + o] * (r * work[ikeep(p, i)]);
    }
    out[iy(t, p, b, o)] = y + params[base + OFF_BOUT + o];
  }
  let w = io[imask(p, t, b)];
  let norm = settings[im(p, M_NORM)];
  var part = 0.0;
  if (w == 0.0 || norm == 0.0) {
    for (var o = 0u; o < NOUT; o++) { out[idy(t, p, b, o)] = 0.0; }
  } else if (settings[im(p, M_XENT)] == 0.0) {
    for (var o = 0u; o < NOUT; o++) {
      let e = out[iy(t, p, b, o)] - io[itg(p, t, b, o)];
      part += w * e * e;
      out[idy(t, p, b, o)] = 2.0 * w * e * norm;
    }
  } else {
    var mx = out[iy(t, p, b, 0u)];
    for (var o = 1u; o < NOUT; o++) { mx = max(mx, out[iy(t, p, b, o)]); }
    var z = 0.0;
    for (var o = 0u; o < NOUT; o++) { z += exp(out[iy(t, p, b, o)] - mx); }
    let lse = mx + log(z);
    var sumT = 0.0;
    for (var o = 0u; o < NOUT; o++) {
      let tg = io[itg(p, t, b, o)];
      part -= w * tg * (out[iy(t, p, b, o)] - lse);
      sumT += tg;
    }
    for (var o = 0u; o < NOUT; o++) {
      out[idy(t, p, b, o)] = w * norm * (exp(out[iy(t, p, b, o)] - lse) * sumT - io[itg(p, t, b, o)]);
    }
  }
  out[ipart(p, t, b)] = part;
}`,
    ),
    // Loss terms of each network: one workgroup per network reduces the task partials, Σ u², Σ s and the L2 sums.
    make(
      'loss',
      [
        ['params', 'read'],
        ['settings', 'read'],
        ['stats', 'read_write'],
        ['traj', 'read'],
        ['out', 'read'],
      ],
      `
var<workgroup> red: array<vec4<f32>, ${WORKGROUP}>;
var<workgroup> red2: array<vec4<f32>, ${WORKGROUP}>;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let p = wid.x;
  let l = lid.x;
  let base = p * TOTAL;
  var acc = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  let TB = cfg.T * cfg.B;
  for (var q = l; q < TB; q += WG) { acc.x += out[ipart(p, q / cfg.B, q % cfg.B)]; }
  let TBN = TB * N;
  for (var q = l; q < TBN; q += WG) {
    let i = q % N;
    let b = (q / N) % cfg.B;
    let t = q / (N * cfg.B);
    let u = traj[t_u(t + 1u, p, b, i)];
    acc.y += u * u;
    acc.z += traj[t_s(t + 1u, p, b, i)];
  }
  for (var q = l; q < NIN * N; q += WG) { let w = params[base + OFF_WIN + q]; acc.w += w * w; }
  for (var q = l; q < N * N; q += WG) { let w = params[base + OFF_WREC + q]; acc2.x += w * w; }
  for (var q = l; q < N * NOUT; q += WG) { let w = params[base + OFF_WOUT + q]; acc2.y += w * w; }
  // Neurons that spiked at least once.
  for (var i = l; i < N; i += WG) {
    var fired = false;
    for (var q = 0u; q < TB && !fired; q++) { fired = traj[t_s(q / cfg.B + 1u, p, q % cfg.B, i)] != 0.0; }
    if (fired) { acc2.z += 1.0; }
  }
  red[l] = acc;
  red2[l] = acc2;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (l < h) {
      red[l] = red[l] + red[l + h];
      red2[l] = red2[l] + red2[l + h];
    }
    workgroupBarrier();
  }
  if (l == 0u) {
    let r = red[0];
    let r2 = red2[0];
    let count = f32(TBN);
    let task = r.x * settings[im(p, M_NORM)];
    let meanU2 = r.y / count;
    let lh = settings[im(p, M_LAMBDAH)];
    let diff = meanU2 - settings[im(p, M_TARGET)];
    var homeo = 0.0;
    var ch = 0.0;
    if (lh != 0.0) {
      homeo = lh * abs(diff);
      ch = select(-2.0, 2.0, diff > 0.0) * lh / count;
    }
    let l2 = settings[im(p, M_LAMBDAIN)] * r.w / f32(NIN * N) + settings[im(p, M_LAMBDAREC)] * r2.x / f32(N * N)
      + settings[im(p, M_LAMBDAOUT)] * r2.y / f32(N * NOUT);
    stats[ist(p, S_LOSS)] = task + homeo + l2;
    stats[ist(p, S_TASKLOSS)] = task;
    stats[ist(p, S_HOMEOLOSS)] = homeo;
    stats[ist(p, S_L2LOSS)] = l2;
    stats[ist(p, S_MEANU2)] = meanU2;
    stats[ist(p, S_FIRINGRATE)] = r.z / count;
    stats[ist(p, S_ACTIVENEURONS)] = r2.z;
    stats[ist(p, S_HOMEOSTATICFACTOR)] = ch;
    stats[ist(p, S_GRADNORM)] = 0.0;
    stats[ist(p, S_SCALE)] = 1.0;
  }
}`,
    ),
    // One backward step t: the adjoints of every (network, trial, neuron), Ī[t], and the intrinsic accumulators.
    make(
      'backward',
      [
        ['params', 'read'],
        ['settings', 'read'],
        ['stats', 'read'],
        ['traj', 'read_write'],
        ['out', 'read'],
        ['work', 'read_write'],
      ],
      `
fn psi(p: u32, v: f32, theta: f32) -> f32 {
  let x = v / theta;
  let code = settings[im(p, M_SURROGATE)];
  let gamma = settings[im(p, M_GAMMA)];
  let kappa = settings[im(p, M_KAPPA)];
  if (code == 0.0) {
    let d = 1.0 + kappa * abs(x);
    return gamma / (d * d);
  }
  if (code == 1.0) {
    let z = 1.5707963267948966 * kappa * x;
    return gamma / (1.0 + z * z);
  }
  let s = settings[im(p, M_MGSIGMA)];
  let w2 = settings[im(p, M_MGW2)];
  let l = x - s;
  let r = x + s;
  return settings[im(p, M_MGSCALE)] * ((1.0 + MG_H) * exp(-(x * x) / (2.0 * s * s)) - MG_H * (exp(-(l * l) / w2) + exp(-(r * r) / w2)));
}
${entry} {
  let g = gindex(wid, nwg, lid);
  if (g >= P * cfg.B * N) { return; }
  let i = g % N;
  let b = (g / N) % cfg.B;
  let p = g / (N * cfg.B);
  let t = cfg.t;
  let slot = t + 1u;
  let base = p * TOTAL;
  let cur = t % 2u;
  let nxt = 1u - cur;
  var ds = 0.0;
  if (t + 1u < cfg.T) {
    for (var q = 0u; q < N; q++) { ds += params[base + OFF_WREC + i * N + q] * traj[t_IBar(slot + 1u, p, b, q)]; }
  }
  // The readout: z̄ = W_out ȳ + κ z̄[t+1] reaches s̄ as (1 − κ) z̄ (spike readout), or W_out ȳ reaches ū
  // directly (membrane readout).
  var rb = 0.0;
  var zbar = 0.0;
  for (var o = 0u; o < NOUT; o++) { rb += out[idy(t, p, b, o)] * (params[base + OFF_WOUT + i * NOUT + o] * work[ikeep(p, i)]); }
  if (settings[im(p, M_SPIKEREADOUT)] != 0.0) {
    let kappa = settings[im(p, M_KAPPAOUT)];
    zbar = rb + kappa * work[iadj(nxt, 3u, p, b, i)];
    ds += (1.0 - kappa) * zbar;
    rb = 0.0;
  }
  let uN = work[iadj(nxt, 0u, p, b, i)];
  let dN = work[iadj(nxt, 1u, p, b, i)];
  let aN = work[iadj(nxt, 2u, p, b, i)];
  let u = traj[t_u(slot, p, b, i)];
  let thr = traj[t_adaptiveThreshold(slot, p, b, i)];
  let s = traj[t_s(slot, p, b, i)];
  let th = work[n_threshold(p, i)];
  let sbar = ds - thr * uN + work[n_oneMinusRho(p, i)] * aN;
  let vbar = sbar * psi(p, u - thr, th);
  let thbar = -vbar - s * uN;
  let ubar = rb + stats[ist(p, S_HOMEOSTATICFACTOR)] * u + work[n_alphaS(p, i)] * uN + vbar;
  let dbar = work[n_oneMinusAlphaS(p, i)] * ubar + work[n_alphaD(p, i)] * dN;
  var abar = 0.0;
  if (settings[im(p, M_ADAPT)] != 0.0) { abar = work[n_adaptationStrength(p, i)] * thbar + work[n_rho(p, i)] * aN; }
  let Ibar = work[n_oneMinusAlphaD(p, i)] * dbar;
  work[iadj(cur, 0u, p, b, i)] = ubar;
  work[iadj(cur, 1u, p, b, i)] = dbar;
  work[iadj(cur, 2u, p, b, i)] = abar;
  work[iadj(cur, 3u, p, b, i)] = zbar;
  traj[t_IBar(slot, p, b, i)] = Ibar;
  work[a_gradAlphaD(p, b, i)] += dbar * (traj[t_d(t, p, b, i)] - traj[t_I(slot, p, b, i)]);
  work[a_gradAlphaS(p, b, i)] += ubar * (traj[t_u(t, p, b, i)] - traj[t_d(slot, p, b, i)]);
  work[a_gradRho(p, b, i)] += abar * (traj[t_a(t, p, b, i)] - traj[t_s(t, p, b, i)]);
  work[a_gradAdaptationStrength(p, b, i)] += thbar * traj[t_a(slot, p, b, i)];
  work[a_gradThreshold(p, b, i)] += thbar;
  work[a_gradBias(p, b, i)] += Ibar;
}`,
    ),
    // Gradients of every parameter of every network (one thread per parameter), L2 terms included.
    make(
      'grads',
      [
        ['params', 'read'],
        ['grads', 'read_write'],
        ['settings', 'read'],
        ['traj', 'read'],
        ['io', 'read'],
        ['out', 'read'],
        ['work', 'read'],
      ],
      `${groupOf}
${entry} {
  let gi = gindex(wid, nwg, lid);
  if (gi >= P * TOTAL) { return; }
  let p = gi / TOTAL;
  let e = gi % TOTAL;
  let base = p * TOTAL;
  let grp = groupOf(e);
  var g = 0.0;
  let adapt = settings[im(p, M_ADAPT)] != 0.0;
  switch grp {
    case 0u: {
      let k = e / N;
      let i = e % N;
      for (var t = 0u; t < cfg.T; t++) {
        for (var b = 0u; b < cfg.B; b++) { g += io[ix(p, t, b, k)] * traj[t_IBar(t + 1u, p, b, i)]; }
      }
      g += 2.0 * settings[im(p, M_LAMBDAIN)] / f32(NIN * N) * params[base + e];
    }
    case 1u: {
      let q = e - OFF_WREC;
      let j = q / N;
      let i = q % N;
      for (var t = 1u; t < cfg.T; t++) {
        for (var b = 0u; b < cfg.B; b++) {
          if (traj[t_s(t, p, b, j)] != 0.0) { g += traj[t_s(t, p, b, j)] * traj[t_IBar(t + 1u, p, b, i)]; }
        }
      }
      g += 2.0 * settings[im(p, M_LAMBDAREC)] / f32(N * N) * params[base + e];
    }
    case 2u: {
      let i = e - OFF_B;
      for (var b = 0u; b < cfg.B; b++) { g += work[a_gradBias(p, b, i)]; }
    }
    case 3u: {
      let q = e - OFF_WOUT;
      let i = q / NOUT;
      let o = q % NOUT;
      for (var t = 0u; t < cfg.T; t++) {
        for (var b = 0u; b < cfg.B; b++) { g += traj[t_u(t + 1u, p, b, i)] * out[idy(t, p, b, o)]; }
      }
      if (settings[im(p, M_SPIKEREADOUT)] != 0.0) {
        // The spike readout reads z, not u: the sum over u above is replaced.
        g = 0.0;
        for (var t = 0u; t < cfg.T; t++) {
          for (var b = 0u; b < cfg.B; b++) { g += traj[t_z(t + 1u, p, b, i)] * out[idy(t, p, b, o)]; }
        }
      }
      g += 2.0 * settings[im(p, M_LAMBDAOUT)] / f32(N * NOUT) * params[base + e];
    }
    case 4u: {
      let o = e - OFF_BOUT;
      for (var t = 0u; t < cfg.T; t++) {
        for (var b = 0u; b < cfg.B; b++) { g += out[idy(t, p, b, o)]; }
      }
    }
    case 5u: {
      let i = e - OFF_TAUD;
      for (var b = 0u; b < cfg.B; b++) { g += work[a_gradAlphaD(p, b, i)]; }
      g *= work[n_alphaDSlope(p, i)];
    }
    case 6u: {
      let i = e - OFF_TAUS;
      for (var b = 0u; b < cfg.B; b++) { g += work[a_gradAlphaS(p, b, i)]; }
      g *= work[n_alphaSSlope(p, i)];
    }
    case 7u: {
      let i = e - OFF_THETA;
      for (var b = 0u; b < cfg.B; b++) { g += work[a_gradThreshold(p, b, i)]; }
      g *= work[n_thresholdSlope(p, i)];
    }
    case 8u: {
      let i = e - OFF_BETA;
      if (adapt) {
        for (var b = 0u; b < cfg.B; b++) { g += work[a_gradAdaptationStrength(p, b, i)]; }
        g *= work[n_adaptationStrengthSlope(p, i)];
      }
    }
    default: {
      let i = e - OFF_TAUA;
      if (adapt) {
        for (var b = 0u; b < cfg.B; b++) { g += work[a_gradRho(p, b, i)]; }
        g *= work[n_rhoSlope(p, i)];
      }
    }
  }
  grads[gi] = g;
}`,
    ),
    // Global norm of each network's trainable gradients and the clip factor (one workgroup per network).
    make(
      'norm',
      [
        ['grads', 'read'],
        ['settings', 'read'],
        ['stats', 'read_write'],
      ],
      `${groupOf}
var<workgroup> red: array<f32, ${WORKGROUP}>;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let p = wid.x;
  let l = lid.x;
  var acc = 0.0;
  for (var e = l; e < TOTAL; e += WG) {
    if (settings[im(p, M_TRAINABLE + groupOf(e))] != 0.0) { let g = grads[p * TOTAL + e]; acc += g * g; }
  }
  red[l] = acc;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (l < h) { red[l] = red[l] + red[l + h]; }
    workgroupBarrier();
  }
  if (l == 0u) {
    var norm = 0.0;
    var scale = 1.0;
    if (settings[im(p, M_UPDATE)] != 0.0) {
      norm = sqrt(red[0]);
      let clip = settings[im(p, M_CLIPNORM)];
      if (clip > 0.0) { scale = min(1.0, clip / max(norm, 1e-30)); }
    }
    stats[ist(p, S_GRADNORM)] = norm;
    stats[ist(p, S_SCALE)] = scale;
  }
}`,
    ),
    // The optimiser step of every trainable parameter of every network that this pass updates: decoupled
    // weight decay, masked Adam (or plain SGD for the properties), then the τ clamp ('step' mode).
    make(
      'adam',
      [
        ['params', 'read_write'],
        ['grads', 'read'],
        ['moments', 'read_write'],
        ['settings', 'read'],
        ['stats', 'read'],
      ],
      `${groupOf}
${entry} {
  let gi = gindex(wid, nwg, lid);
  if (gi >= P * TOTAL) { return; }
  let p = gi / TOTAL;
  let grp = groupOf(gi % TOTAL);
  if (settings[im(p, M_UPDATE)] == 0.0 || settings[im(p, M_TRAINABLE + grp)] == 0.0) { return; }
  let lr = settings[im(p, M_LR + grp)];
  var w = params[gi];
  let lambda = settings[im(p, M_DECAY + grp)];
  if (lambda != 0.0) { w = w + (-lr * lambda) * w; }
  let g = grads[gi] * stats[ist(p, S_SCALE)];
  // The properties' groups follow the weights' (GROUP_KEYS).
  if (grp >= G_TAUD && settings[im(p, M_SGDPROPERTIES)] != 0.0) {
    w = w - lr * g;
  } else {
    let b1 = settings[im(p, M_BETA1)];
    let b2 = settings[im(p, M_BETA2)];
    let m = b1 * moments[gi] + (1.0 - b1) * g;
    let v = b2 * moments[P * TOTAL + gi] + (1.0 - b2) * (g * g);
    moments[gi] = m;
    moments[P * TOTAL + gi] = v;
    w = w - lr * ((m / settings[im(p, M_BC1)]) / (sqrt(v / settings[im(p, M_BC2)]) + settings[im(p, M_EPS)]));
  }
  if (settings[im(p, M_CLAMPAFTERSTEP)] != 0.0 && (grp == G_TAUD || grp == G_TAUS || grp == G_TAUA)) {
    w = clamp(w, settings[im(p, M_LOGTAUMIN)], settings[im(p, M_LOGTAUMAX)]);
  }
  params[gi] = w;
}`,
    ),
  ];
}

function trajFn(n: string): string {
  return `t_${n}`;
}
