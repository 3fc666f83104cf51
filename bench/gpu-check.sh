#!/usr/bin/env bash
# GPU check of GpuPopulation, for a machine with a GPU (installs nothing; run from the repository
# root after `npm ci`): prints the WebGPU adapter, runs the agreement tests against
# FusedPopulation, then the benchmark. IP2_WEBGPU_BACKEND=vulkan forces Dawn's Vulkan backend.
set -u
cd "$(dirname "$0")/.."
# Headless Linux without Vulkan: Dawn's OpenGL ES path needs Mesa's surfaceless EGL platform.
export EGL_PLATFORM="${EGL_PLATFORM:-surfaceless}"
echo "== node $(node --version); nvidia-smi:"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "(no nvidia-smi)"
ls /usr/lib/x86_64-linux-gnu/libvulkan.so.1 /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d/ 2>/dev/null
echo "== agreement tests"
npx vitest run --config vitest.gpu.config.ts
tests=$?
echo "== benchmark"
npx tsx --conditions @ip2/source bench/gpu-population.ts "$@"
bench=$?
echo "== tests rc=$tests, benchmark rc=$bench"
exit $(( tests != 0 ? tests : bench ))
