#!/usr/bin/env bash
# System tools the namespace lab and the tests need (root only): iproute2 for
# netns/veth/bridge and tc, nftables for injected loss, and the pipeline's tools below. Installed from Debian's packages when missing; a
# non-root run only says what is missing (the lab tests then skip with a clear line).
set -euo pipefail
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v tc >/dev/null 2>&1 || need+=(iproute2)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v gzip >/dev/null 2>&1 || need+=(gzip)
# The receiver pipeline's tests (test/*/pipeline*, cpio*): GNU cpio makes and checks the
# archives, the lz4 CLI the LZ4 frames, mkfs.ext4 a file system to mount on a loop device.
command -v cpio >/dev/null 2>&1 || need+=(cpio)
command -v lz4 >/dev/null 2>&1 || need+=(lz4)
command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
command -v losetup >/dev/null 2>&1 || need+=(mount)
# bench/slow-node.ts throttles one receiver's output to a fixed rate with pv -L.
command -v pv >/dev/null 2>&1 || need+=(pv)
# Debian's udp-receiver: the stock receiver `udp-sender --protocol udpcast` is tested against
# (test/integration/udpcast-*.test.ts, netns-udpcast.test.ts).
command -v udp-receiver >/dev/null 2>&1 || need+=(udpcast)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "lab-deps: missing ${need[*]} (install as root: apt-get install ${need[*]}); root-only lab tests will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "lab-deps: installed ${need[*]}"
