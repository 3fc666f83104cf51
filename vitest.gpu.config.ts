import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { defineConfig } from 'vitest/config';
import { shared } from './vitest.config.js';

/**
 * GPU agreement tests (GpuPopulation against FusedPopulation): `npm run test:gpu`, on a machine with
 * a WebGPU adapter. Not part of `npm test`.
 *
 * `IP2_WEBGPU_BACKEND=software` (`npm run test:gpu:software`, a step of .ci/run) runs them on a CPU
 * Vulkan driver through Dawn's Vulkan backend, so that the WGSL kernels are checked on any machine:
 * SwiftShader as Debian's Chromium ships it, or Mesa's lavapipe (Mesa 24 or later; 22.x lacks a
 * feature that Dawn requires). VK_ICD_FILENAMES, when set, names the driver instead.
 */
const SOFTWARE_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/share/vulkan/icd.d/lvp_icd.json',
  '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json',
];

function backendEnv(): Record<string, string> {
  const wanted = process.env.IP2_WEBGPU_BACKEND;
  if (wanted !== 'software') return wanted === undefined ? {} : { IP2_WEBGPU_BACKEND: wanted };
  const icd = process.env.VK_ICD_FILENAMES ?? SOFTWARE_ICDS.find((f) => existsSync(f));
  if (icd === undefined) {
    throw new Error(
      `IP2_WEBGPU_BACKEND=software needs a CPU Vulkan driver: none of ${SOFTWARE_ICDS.join(', ')} exists ` +
        "(install Debian's chromium, or mesa-vulkan-drivers 24 or later), or set VK_ICD_FILENAMES",
    );
  }
  return {
    IP2_WEBGPU_BACKEND: 'vulkan',
    VK_ICD_FILENAMES: icd,
    XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? tmpdir(),
  };
}

export default defineConfig({
  ...shared,
  test: {
    ...shared.test,
    include: ['packages/snn/src/gpu/**/*.gpu-test.ts'],
    testTimeout: 300_000,
    // Headless Linux without Vulkan: Dawn's OpenGL ES path needs Mesa's surfaceless EGL platform,
    // which @ip2/snn leaves to the application.
    env: { ...shared.test.env, EGL_PLATFORM: process.env.EGL_PLATFORM ?? 'surfaceless', ...backendEnv() },
  },
});
