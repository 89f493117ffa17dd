// Kernel registry and run-time CPU dispatch.

#include "kernels.h"

#include <cstring>

namespace rackcast::rs {

namespace {

#if defined(__x86_64__) || defined(__i386__)
// __builtin_cpu_supports also checks that the OS saves the wide registers (XGETBV), so a kernel
// is only marked supported when it can really run.
bool Cpu(const char* what) {
  __builtin_cpu_init();
  if (std::strcmp(what, "gfni-avx512") == 0) {
    return __builtin_cpu_supports("gfni") && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  }
  if (std::strcmp(what, "gfni-avx2") == 0) return __builtin_cpu_supports("gfni") && __builtin_cpu_supports("avx2");
  if (std::strcmp(what, "avx2") == 0) return __builtin_cpu_supports("avx2");
  if (std::strcmp(what, "ssse3") == 0) return __builtin_cpu_supports("ssse3");
  return false;
}
#endif

struct Registry {
  Kernel kernels[5];
  size_t count = 0;

  Registry() {
#if defined(__x86_64__) || defined(__i386__)
    kernels[count++] = {"gfni-avx512", GfniAvx512Kernel, kTablesAffine, Cpu("gfni-avx512")};
    kernels[count++] = {"gfni-avx2", GfniAvx2Kernel, kTablesAffine, Cpu("gfni-avx2")};
    kernels[count++] = {"avx2", Avx2Kernel, kTablesNibble, Cpu("avx2")};
    kernels[count++] = {"ssse3", Ssse3Kernel, kTablesNibble, Cpu("ssse3")};
#endif
    kernels[count++] = {"scalar", ScalarKernel, kTablesCoef, true};
  }
};

const Registry& Get() {
  static const Registry registry;
  return registry;
}

}  // namespace

const Kernel* Kernels(size_t* count) {
  *count = Get().count;
  return Get().kernels;
}

const Kernel* BestKernel() {
  const Registry& r = Get();
  for (size_t i = 0; i < r.count; i++) {
    if (r.kernels[i].supported) return &r.kernels[i];
  }
  return &r.kernels[r.count - 1];
}

const Kernel* FindKernel(const char* name) {
  const Registry& r = Get();
  for (size_t i = 0; i < r.count; i++) {
    if (r.kernels[i].supported && std::strcmp(r.kernels[i].name, name) == 0) return &r.kernels[i];
  }
  return nullptr;
}

}  // namespace rackcast::rs
