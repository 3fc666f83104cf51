import { F32, Fn, I32, V128, type Local, type ValType } from './wasm-emit.js';
import { overRow } from './lanes.js';

/**
 * The neuron kernels of the fused engine: the forward update, the surrogate ψ, the backward update
 * and the spike readout's leaky filter (lanes.ts says how each body is emitted).
 */

/** Per-network parameter rows: row r of a call belongs to network r / perNet, whose rows are `stride` bytes apart. */
function netRows(
  f: Fn,
  r: Local,
  perNet: Local,
  stride: Local,
  bases: readonly Local[],
  into: readonly Local[],
): Local {
  const net = f.local(I32);
  f.get(r).get(perNet).op(0x6e).set(net); // i32.div_u
  bases.forEach((b, i) => f.get(b).get(net).get(stride).mul().add().set(into[i]!));
  return net;
}

/**
 * Forward update at one step of `rows` consecutive trial rows, perNet per network (hard spikes):
 * I += b; d, u, a, ϑ, s as in SCIENCE.md §2; the indices of the neurons that spiked appended to
 * the spike list (spikeOff[r+1] = running count); each network's Σu² and Σs added (in f64) to
 * its sums[2 net], sums[2 net + 1].
 */
export function forwardKernel(adapt: boolean): Fn {
  const names = 'I d u a thr s o op aD cD aS cS rho cR th be bias rows n spikeIdx spikeOff sums perNet stride'.split(
    ' ',
  );
  const f = new Fn(
    `forward_${adapt ? 'adapt' : 'plain'}`,
    names.map(() => I32),
  );
  const P = Object.fromEntries(names.map((k, i) => [k, f.p(i)])) as Record<string, Local>;
  const r = f.local(I32);
  const ib = f.local(I32);
  const nBytes = f.local(I32);
  const n4Bytes = f.local(I32);
  const count = f.local(I32);
  const ptr = Object.fromEntries(
    'pI pd pdp pu pup pa pap pthr pthrp ps psp'.split(' ').map((k) => [k, f.local(I32)]),
  ) as Record<string, Local>;
  const vI = f.local(V128);
  const vs = f.local(V128);
  const vd = f.local(V128);
  const vu = f.local(V128);
  const va = f.local(V128);
  const vth = f.local(V128);
  const vv = f.local(V128);
  const accU = f.local(V128);
  const accS = f.local(V128);
  const sI = f.local(F32);
  const ss = f.local(F32);
  const sd = f.local(F32);
  const su = f.local(F32);
  const sa = f.local(F32);
  const sth = f.local(F32);
  const sv = f.local(F32);
  const tailU = f.local(F32);
  const tailS = f.local(F32);
  const paramNames = 'aD cD aS cS rho cR th be bias'.split(' ');
  const Q = Object.fromEntries(paramNames.map((k) => [k, f.local(I32)])) as Record<string, Local>;
  const sp = f.local(I32);
  f.get(P.n!).i32(2).shl().set(nBytes);
  f.get(P.n!).i32(-4).and().i32(2).shl().set(n4Bytes);
  f.get(P.spikeOff!).loadI32().set(count);
  f.forStep(
    r,
    () => f.i32(0),
    P.rows!,
    1,
    () => {
      const row = (base: Local, off: Local, into: Local) =>
        f.get(base).get(off).add().get(r).get(nBytes).mul().add().set(into);
      row(P.I!, P.o!, ptr.pI!);
      row(P.d!, P.o!, ptr.pd!);
      row(P.d!, P.op!, ptr.pdp!);
      row(P.u!, P.o!, ptr.pu!);
      row(P.u!, P.op!, ptr.pup!);
      row(P.a!, P.o!, ptr.pa!);
      row(P.a!, P.op!, ptr.pap!);
      row(P.thr!, P.o!, ptr.pthr!);
      row(P.thr!, P.op!, ptr.pthrp!);
      row(P.s!, P.o!, ptr.ps!);
      row(P.s!, P.op!, ptr.psp!);
      const net = netRows(
        f,
        r,
        P.perNet!,
        P.stride!,
        paramNames.map((k) => P[k]!),
        paramNames.map((k) => Q[k]!),
      );
      f.get(P.sums!).get(net).i32(4).shl().add().set(sp);
      f.vzero().set(accU).vzero().set(accS).f32(0).set(tailU).f32(0).set(tailS);
      overRow(f, ib, nBytes, n4Bytes, (L) => {
        const [I, s, d, u, a, th, v] = L.vec ? [vI, vs, vd, vu, va, vth, vv] : [sI, ss, sd, su, sa, sth, sv];
        L.store(ptr.pI!, ib, () => {
          L.load(ptr.pI!, ib).load(Q.bias!, ib).add();
          f.tee(I!);
        });
        L.load(ptr.psp!, ib);
        f.set(s!);
        L.load(Q.aD!, ib).load(ptr.pdp!, ib).mul();
        L.load(Q.cD!, ib);
        f.get(I!);
        L.mul().add();
        f.set(d!);
        L.store(ptr.pd!, ib, () => f.get(d!));
        L.load(Q.aS!, ib).load(ptr.pup!, ib).mul().load(Q.cS!, ib);
        f.get(d!);
        L.mul().add().load(ptr.pthrp!, ib);
        f.get(s!);
        L.mul().sub();
        f.set(u!);
        L.store(ptr.pu!, ib, () => f.get(u!));
        L.load(Q.th!, ib);
        if (adapt) {
          L.load(Q.rho!, ib).load(ptr.pap!, ib).mul().load(Q.cR!, ib);
          f.get(s!);
          L.mul().add();
          f.set(a!);
          L.store(ptr.pa!, ib, () => f.get(a!));
          L.load(Q.be!, ib);
          f.get(a!);
          L.mul().add();
        }
        f.set(th!);
        L.store(ptr.pthr!, ib, () => f.get(th!));
        f.get(u!).get(th!);
        L.sub();
        f.set(v!);
        // s = (v > 0) as 0/1.
        if (L.vec) {
          f.get(v!);
          L.c(0);
          f.vgt().set(vv);
          f.get(vv);
          L.c(1);
          f.vand().set(vs);
        } else {
          f.get(v!).f32(0).fgt().fromI32().set(ss);
        }
        L.store(ptr.ps!, ib, () => f.get(s!));
        const [accUx, accSx] = L.vec ? [accU, accS] : [tailU, tailS];
        f.get(accUx).get(u!).get(u!);
        L.mul().add();
        f.set(accUx);
        f.get(accSx).get(s!);
        L.add();
        f.set(accSx);
        // Spike list: the neuron indices whose s is 1.
        const push = (lane: number) => {
          f.get(P.spikeIdx!).get(count).i32(2).shl().add();
          f.get(ib).i32(2).op(0x76).i32(lane).add(); // ib >> 2 + lane
          f.storeI32();
          f.inc(count, 1);
        };
        if (L.vec) {
          f.get(vv).anyTrue();
          f.if(() => {
            for (let lane = 0; lane < 4; lane++) {
              f.get(vv).ilane(lane);
              f.if(() => push(lane));
            }
          });
        } else {
          f.get(ss).f32(0).fgt();
          f.if(() => push(0));
        }
      });
      f.get(P.spikeOff!).get(r).i32(1).add().i32(2).shl().add().get(count).storeI32();
      f.get(sp).get(sp).loadF64();
      f.get(accU).lane(0).get(accU).lane(1).fadd().get(accU).lane(2).get(accU).lane(3).fadd().fadd();
      f.get(tailU).fadd().promote().dadd().storeF64();
      f.get(sp).get(sp).loadF64(8);
      f.get(accS).lane(0).get(accS).lane(1).fadd().get(accS).lane(2).get(accS).lane(3).fadd().fadd();
      f.get(tailS).fadd().promote().dadd().storeF64(8);
    },
  );
  return f;
}

/**
 * ψ of `rows` consecutive trial rows: fast-sigmoid γ / (1 + κ|x|)² or arctan γ / (1 + (kx)²) with
 * x = (u − ϑ)/θ and k = πκ/2 (passed as `kappa`). Row r uses the θ row of network (r / perNet) % nets,
 * θ rows `stride` bytes apart (rows run over steps, then networks, then trials).
 */
export function psiKernel(kind: 'fast-sigmoid' | 'arctan'): Fn {
  const f = new Fn(`psi_${kind === 'arctan' ? 'arctan' : 'fast_sigmoid'}`, [
    ...[0, 0, 0, 0, 0, 0].map((): ValType => I32),
    F32,
    F32,
    I32,
    I32,
    I32,
  ]);
  const [u, thr, th0, out, rows, n, gamma, kappa, perNet, nets, stride] = f.params as Local[] as [
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
  ];
  const th = f.local(I32);
  const r = f.local(I32);
  const ib = f.local(I32);
  const nBytes = f.local(I32);
  const n4Bytes = f.local(I32);
  const pu = f.local(I32);
  const pt = f.local(I32);
  const po = f.local(I32);
  const vx = f.local(V128);
  const sx = f.local(F32);
  f.get(n).i32(2).shl().set(nBytes);
  f.get(n).i32(-4).and().i32(2).shl().set(n4Bytes);
  f.forStep(
    r,
    () => f.i32(0),
    rows,
    1,
    () => {
      f.get(u).get(r).get(nBytes).mul().add().set(pu);
      f.get(thr).get(r).get(nBytes).mul().add().set(pt);
      f.get(out).get(r).get(nBytes).mul().add().set(po);
      f.get(th0).get(r).get(perNet).op(0x6e).get(nets).op(0x70).get(stride).mul().add().set(th); // div_u, rem_u
      overRow(f, ib, nBytes, n4Bytes, (L) => {
        const x = L.vec ? vx : sx;
        L.load(pu, ib).load(pt, ib).sub().load(th, ib).div();
        if (kind === 'fast-sigmoid') {
          L.abs().scalar(kappa).mul().c(1).add();
          f.set(x);
          L.store(po, ib, () => {
            L.scalar(gamma);
            f.get(x).get(x);
            L.mul().div();
          });
        } else {
          L.scalar(kappa).mul();
          f.set(x);
          L.store(po, ib, () => {
            L.scalar(gamma);
            f.get(x).get(x);
            L.mul().c(1).add().div();
          });
        }
      });
    },
  );
  return f;
}

/**
 * Backward update at one step of `rows` consecutive trial rows, perNet per network
 * (docs/fused-engine.md): the adjoints ū, d̄, ā (from those of the next step), Ī into the
 * trajectory, and each network's accumulated derivatives with respect to α_d, α_s, ρ, β, θ and b.
 * `ds` holds W_rec Ī[t+1]; ψ is precomputed; c_h of network k is the f32 at ch + 4k.
 */
export function backwardKernel(adapt: boolean, soft: boolean): Fn {
  const names = (
    'ds duN ddN daN du dd da st u thr s psi d I a dI o op aD cD aS cS rho cR th be ' +
    'gaD gaS gRho gBe gTh gB dy woT nOut rows n ch perNet stride woStride'
  ).split(' ');
  const f = new Fn(
    `backward_${adapt ? 'adapt' : 'plain'}_${soft ? 'soft' : 'hard'}`,
    names.map((): ValType => I32),
  );
  const P = Object.fromEntries(names.map((k, i) => [k, f.p(i)])) as Record<string, Local>;
  const ch = f.local(F32);
  const paramNames = 'aD cD aS cS rho cR th be gaD gaS gRho gBe gTh gB'.split(' ');
  const Q = Object.fromEntries([...paramNames, 'woT'].map((k) => [k, f.local(I32)])) as Record<string, Local>;
  const r = f.local(I32);
  const ib = f.local(I32);
  const o = f.local(I32);
  const wo = f.local(I32);
  const dyr = f.local(I32);
  const nBytes = f.local(I32);
  const n4Bytes = f.local(I32);
  const ptr = Object.fromEntries(
    'pds pduN pddN pdaN pdu pdd pda pu pthr ps ppsi pd pdp pI pa pap pdI pup psp'
      .split(' ')
      .map((k) => [k, f.local(I32)]),
  ) as Record<string, Local>;
  const V = (t: typeof V128 | typeof F32) =>
    Object.fromEntries('rb ut v duNx dv dthr du dd dI'.split(' ').map((k) => [k, f.local(t)])) as Record<string, Local>;
  const vecL = V(V128);
  const scaL = V(F32);
  f.get(P.n!).i32(2).shl().set(nBytes);
  f.get(P.n!).i32(-4).and().i32(2).shl().set(n4Bytes);
  f.forStep(
    r,
    () => f.i32(0),
    P.rows!,
    1,
    () => {
      const row = (base: Local, off: Local, into: Local) =>
        f.get(base).get(off).add().get(r).get(nBytes).mul().add().set(into);
      row(P.ds!, P.st!, ptr.pds!);
      row(P.duN!, P.st!, ptr.pduN!);
      row(P.ddN!, P.st!, ptr.pddN!);
      row(P.daN!, P.st!, ptr.pdaN!);
      row(P.du!, P.st!, ptr.pdu!);
      row(P.dd!, P.st!, ptr.pdd!);
      row(P.da!, P.st!, ptr.pda!);
      row(P.u!, P.o!, ptr.pu!);
      row(P.u!, P.op!, ptr.pup!);
      row(P.thr!, P.o!, ptr.pthr!);
      row(P.s!, P.o!, ptr.ps!);
      row(P.s!, P.op!, ptr.psp!);
      row(P.psi!, P.o!, ptr.ppsi!);
      row(P.d!, P.o!, ptr.pd!);
      row(P.d!, P.op!, ptr.pdp!);
      row(P.I!, P.o!, ptr.pI!);
      row(P.a!, P.o!, ptr.pa!);
      row(P.a!, P.op!, ptr.pap!);
      row(P.dI!, P.o!, ptr.pdI!);
      f.get(P.dy!).get(r).get(P.nOut!).mul().i32(2).shl().add().set(dyr);
      const net = netRows(
        f,
        r,
        P.perNet!,
        P.stride!,
        paramNames.map((k) => P[k]!),
        paramNames.map((k) => Q[k]!),
      );
      f.get(P.woT!).get(net).get(P.woStride!).mul().add().set(Q.woT!);
      f.get(P.ch!).get(net).i32(2).shl().add().loadF32().set(ch);
      overRow(f, ib, nBytes, n4Bytes, (L) => {
        const x = L.vec ? vecL : scaL;
        // rb = W_out ȳ for these neurons: Σ_o ȳ[o] W_outᵀ[o][i].
        L.c(0);
        f.set(x.rb!);
        f.get(Q.woT!).set(wo);
        f.forStep(
          o,
          () => f.i32(0),
          P.nOut!,
          1,
          () => {
            f.get(x.rb!).get(dyr).get(o).i32(2).shl().add().loadF32();
            if (L.vec) f.splat();
            L.load(wo, ib).mul().add();
            f.set(x.rb!);
            f.get(wo).get(nBytes).add().set(wo);
          },
        );
        L.load(ptr.pu!, ib);
        f.tee(x.ut!);
        L.load(ptr.pthr!, ib).sub();
        f.set(x.v!);
        L.load(ptr.pduN!, ib);
        f.set(x.duNx!);
        // v̄ = (W_rec Ī[t+1] − ϑ ū[t+1] + (1 − ρ) ā[t+1]) ψ
        L.load(ptr.pds!, ib).load(ptr.pthr!, ib);
        f.get(x.duNx!);
        L.mul().sub().load(Q.cR!, ib).load(ptr.pdaN!, ib).mul().add().load(ptr.ppsi!, ib).mul();
        f.set(x.dv!);
        // ϑ̄ = −v̄ − s ū[t+1]
        f.get(x.dv!);
        L.neg().load(ptr.ps!, ib);
        f.get(x.duNx!);
        L.mul().sub();
        f.set(x.dthr!);
        // ū = W_out ȳ + c_h u + α_s ū[t+1] + v̄
        f.get(x.rb!);
        L.scalar(ch);
        f.get(x.ut!);
        L.mul().add().load(Q.aS!, ib);
        f.get(x.duNx!);
        L.mul().add();
        f.get(x.dv!);
        L.add();
        f.set(x.du!);
        L.store(ptr.pdu!, ib, () => f.get(x.du!));
        // d̄ = (1 − α_s) ū + α_d d̄[t+1];  Ī = (1 − α_d) d̄
        L.load(Q.cS!, ib);
        f.get(x.du!);
        L.mul().load(Q.aD!, ib).load(ptr.pddN!, ib).mul().add();
        f.set(x.dd!);
        L.store(ptr.pdd!, ib, () => f.get(x.dd!));
        L.load(Q.cD!, ib);
        f.get(x.dd!);
        L.mul();
        f.set(x.dI!);
        L.store(ptr.pdI!, ib, () => f.get(x.dI!));
        L.accumulate(Q.gaD!, ib, () => {
          f.get(x.dd!);
          L.load(ptr.pdp!, ib).load(ptr.pI!, ib).sub().mul();
        });
        L.accumulate(Q.gaS!, ib, () => {
          f.get(x.du!);
          L.load(ptr.pup!, ib).load(ptr.pd!, ib).sub().mul();
        });
        if (adapt) {
          // ā = β ϑ̄ + ρ ā[t+1]  (reusing the dd local for ā)
          L.load(Q.be!, ib);
          f.get(x.dthr!);
          L.mul().load(Q.rho!, ib).load(ptr.pdaN!, ib).mul().add();
          f.set(x.dd!);
          L.store(ptr.pda!, ib, () => f.get(x.dd!));
          L.accumulate(Q.gRho!, ib, () => {
            f.get(x.dd!);
            L.load(ptr.pap!, ib).load(ptr.psp!, ib).sub().mul();
          });
          L.accumulate(Q.gBe!, ib, () => {
            f.get(x.dthr!);
            L.load(ptr.pa!, ib).mul();
          });
        } else {
          L.store(ptr.pda!, ib, () => L.c(0));
        }
        L.accumulate(Q.gTh!, ib, () => {
          f.get(x.dthr!);
          if (soft) {
            f.get(x.dv!).get(x.v!);
            L.mul().load(Q.th!, ib).div().sub();
          }
        });
        L.accumulate(Q.gB!, ib, () => f.get(x.dI!));
      });
    },
  );
  return f;
}

/**
 * A leaky scan over `steps` rows of n floats, `stride` bytes apart (negative: backwards):
 * dst[k] = κ dst[k − 1] + c src[k], where dst[k − 1] is the row at dst[k] − stride. The spike readout
 * filters the spikes forwards with it (z = κ z + (1 − κ) s) and its adjoint backwards (z̄ = κ z̄ + z̄, in place).
 */
export function leakKernel(): Fn {
  const f = new Fn('leak', [I32, I32, I32, I32, I32, F32, F32]);
  const [dst, src, steps, n, stride, kappa, c] = f.params as Local[];
  const ib = f.local(I32);
  const nBytes = f.local(I32);
  const n4Bytes = f.local(I32);
  const t = f.local(I32);
  const d = f.local(I32);
  const sp = f.local(I32);
  const prev = f.local(I32);
  f.get(n!).i32(2).shl().set(nBytes);
  f.get(n!).i32(-4).and().i32(2).shl().set(n4Bytes);
  f.get(dst!).set(d);
  f.get(src!).set(sp);
  f.forStep(
    t,
    () => f.i32(0),
    steps!,
    1,
    () => {
      f.get(d).get(stride!).sub().set(prev);
      overRow(f, ib, nBytes, n4Bytes, (L) => {
        L.store(d, ib, () => {
          L.scalar(kappa!).load(prev, ib).mul().scalar(c!).load(sp, ib).mul().add();
        });
      });
      f.get(d).get(stride!).add().set(d);
      f.get(sp).get(stride!).add().set(sp);
    },
  );
  return f;
}
