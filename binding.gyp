# The native addons (native/). Built by `npm install` (the "install" script runs
# native/install.mjs, which runs node-gyp and falls back cleanly when there is no compiler).
# Output: build/Release/rackcast_rs.node (Reed-Solomon) and build/Release/rackcast_udp.node (UDP I/O).
{
  "targets": [
    {
      "target_name": "rackcast_rs",
      "sources": [
        "native/addon.cc",
        "native/engine.cc",
        "native/gf256.cc",
        "native/kernels.cc",
        "native/kernel-scalar.cc",
        "native/kernel-x86.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      # Baseline ISA only: the x86 kernels carry their own target attributes and are picked at
      # run time, so the binary runs on any x86-64 and builds on other architectures.
      "cflags_cc": ["-O3", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "xcode_settings": {
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17"],
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      },
      "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/std:c++17"] } }
    },
    {
      # UDP I/O with segmentation offload (UDP_SEGMENT / UDP_GRO) and batched syscalls
      # (sendmmsg / recvmmsg), polled in Node's own libuv loop. Linux only: elsewhere the
      # sources compile to an addon that exports nothing, and native/udp-addon.ts says why.
      "target_name": "rackcast_udp",
      "sources": ["native/udp.cc", "native/udp-io.cc", "native/send-thread.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-O2", "-Wall", "-Wextra", "-fvisibility=hidden"]
    },
    {
      # zstd for the receiver's decompressor and the sender's --compress zstd, linked against
      # Debian's libzstd when native/probe-zstd.mjs finds libzstd-dev; otherwise built without it
      # (the addon then says why, and the rest of rackcast is unaffected).
      "target_name": "rackcast_zstd",
      "sources": ["native/zstd.cc"],
      "variables": { "have_zstd": "<!(node native/probe-zstd.mjs)" },
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-O2", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "conditions": [["have_zstd==1", { "defines": ["RACKCAST_HAVE_ZSTD"], "libraries": ["-lzstd"] }]]
    },
    {
      # System calls Node lacks (syncfs(2)), for the cpio unpacker's final sync.
      "target_name": "rackcast_sys",
      "sources": ["native/sys.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-O2", "-Wall", "-Wextra", "-fvisibility=hidden"]
    }
  ]
}
