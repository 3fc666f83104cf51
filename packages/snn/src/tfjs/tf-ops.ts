import * as tf from '@tensorflow/tfjs-core';

const transposeLast = (t: tf.Tensor): tf.Tensor => (t.rank === 2 ? tf.transpose(t) : tf.transpose(t, [0, 2, 1]));

/**
 * matMul (rank 2, or rank 3 batched) whose gradient uses explicit transposes: the wasm backend's
 * transposed matMul falls back to a slow scalar loop, an explicit transpose does not.
 */
export const matMulT = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor3D, tf.Tensor3D];
      const g = dy as tf.Tensor3D;
      return [tf.matMul(g, transposeLast(sb) as tf.Tensor3D), tf.matMul(transposeLast(sa) as tf.Tensor3D, g)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as <R extends tf.Tensor2D | tf.Tensor3D>(
  a: R,
  b: tf.Tensor,
) => R;
