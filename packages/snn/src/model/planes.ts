/**
 * The glossary of planes: the per-neuron and per-step arrays of the neuron model (SCIENCE.md §2–3)
 * that the engines keep in memory, named once here. The fused engine's arena (fused/arena.ts,
 * fused/transforms.ts) and the GPU engine's buffers (gpu/layout.ts, gpu/wgsl.ts) take their plane
 * names, and the order of each group, from these lists.
 *
 * State variables keep their symbols from §2 (I, d, u, a, s); an adjoint ∂L/∂x is `xBar`; derived
 * values are named for what they are.
 */

/** Natural values of the intrinsic properties, one per neuron ([P][N]), that the neuron update reads. */
export const PROPERTY_PLANES = [
  'alphaD',
  'oneMinusAlphaD',
  'alphaS',
  'oneMinusAlphaS',
  'rho',
  'oneMinusRho',
  'threshold',
  'adaptationStrength',
] as const;
export type PropertyPlane = (typeof PROPERTY_PLANES)[number];

/** Derivatives of the natural values with respect to their raw (learned) parameters, one per neuron. */
export const SLOPE_PLANES = [
  'alphaDSlope',
  'alphaSSlope',
  'rhoSlope',
  'thresholdSlope',
  'adaptationStrengthSlope',
] as const;
export type SlopePlane = (typeof SLOPE_PLANES)[number];

/** Accumulators of ∂L/∂(natural value) over the steps of a pass, one per neuron (and per trial on the GPU). */
export const ACCUMULATOR_PLANES = [
  'gradAlphaD',
  'gradAlphaS',
  'gradRho',
  'gradAdaptationStrength',
  'gradThreshold',
  'gradBias',
] as const;
export type AccumulatorPlane = (typeof ACCUMULATOR_PLANES)[number];

/** The trajectory of a pass, one value per step, trial and neuron ([T+1][P][B][N], slot 0: the initial state). */
export const TRAJECTORY_PLANES = ['I', 'd', 'u', 'a', 'adaptiveThreshold', 's', 'z', 'IBar'] as const;
export type TrajectoryPlane = (typeof TRAJECTORY_PLANES)[number];

/** Values of a whole network ([P]) that the backward pass reads. */
export const NETWORK_PLANES = ['homeostaticFactor'] as const;
export type NetworkPlane = (typeof NETWORK_PLANES)[number];

export type Plane = PropertyPlane | SlopePlane | AccumulatorPlane | TrajectoryPlane | NetworkPlane;

/** Every plane of the glossary, group by group. */
export const PLANES: readonly Plane[] = [
  ...PROPERTY_PLANES,
  ...SLOPE_PLANES,
  ...ACCUMULATOR_PLANES,
  ...TRAJECTORY_PLANES,
  ...NETWORK_PLANES,
];

/** One line per plane, in SCIENCE.md's terms. */
export const PLANE_DOCS: Readonly<Record<Plane, string>> = {
  alphaD: 'α_d = exp(−dt/τ_d), the dendritic decay',
  oneMinusAlphaD: '1 − α_d, the weight of the synaptic input I in the dendrite update',
  alphaS: 'α_s = exp(−dt/τ_s), the somatic decay',
  oneMinusAlphaS: '1 − α_s, the weight of the dendrite d in the soma update',
  rho: 'ρ = exp(−dt/τ_a), the adaptation decay (0 without adaptation)',
  oneMinusRho: '1 − ρ, the weight of the last spike in the adaptation update (0 without adaptation)',
  threshold: 'θ = softplus(raw θ), the firing threshold without adaptation',
  adaptationStrength: 'β = softplus(raw β), the threshold increase per unit of adaptation a (0 without adaptation)',
  alphaDSlope: '∂α_d/∂(raw τ_d), 0 where the τ clamp is active in the forward pass',
  alphaSSlope: '∂α_s/∂(raw τ_s), 0 where the τ clamp is active in the forward pass',
  rhoSlope: '∂ρ/∂(raw τ_a), 0 where the τ clamp is active in the forward pass (0 without adaptation)',
  thresholdSlope: 'σ(raw θ), the softplus derivative ∂θ/∂(raw θ)',
  adaptationStrengthSlope: 'σ(raw β), the softplus derivative ∂β/∂(raw β) (0 without adaptation)',
  gradAlphaD: '∂L/∂α_d, summed over the steps',
  gradAlphaS: '∂L/∂α_s, summed over the steps',
  gradRho: '∂L/∂ρ, summed over the steps',
  gradAdaptationStrength: '∂L/∂β, summed over the steps',
  gradThreshold: '∂L/∂θ, summed over the steps',
  gradBias: '∂L/∂b, summed over the steps',
  I: 'I[t] = W_in x[t] + W_rec s[t−1] + b, the synaptic input to the dendrite',
  d: 'd[t], the dendritic current',
  u: 'u[t], the somatic potential',
  a: 'a[t], the adaptation variable',
  adaptiveThreshold: 'ϑ[t] = θ + β a[t], the adaptive threshold',
  s: 's[t] = H(u[t] − ϑ[t]), the spikes (a sigmoid of u − ϑ for soft spikes)',
  z: 'z[t] = κ z[t−1] + (1 − κ) s[t], the spikes filtered by the spike readout’s leaky output units (κ = exp(−dt/τ_out))',
  IBar: 'Ī[t] = ∂L/∂I[t], the adjoint of the synaptic input',
  homeostaticFactor: 'c_h = 2 λ_h sign(m − σ_h) / (T B N), the homeostatic term’s factor in the backward pass',
};
