#!/usr/bin/env bash
# System tools the namespace lab and the tests need (root only): iproute2 for
# netns/veth/bridge and tc, nftables for injected loss, ethtool for GRO, and the
# pipeline's and the clone agent's tools below. Installed from Debian's packages when missing; a
# non-root run only says what is missing (the lab tests then skip with a clear line).
set -euo pipefail
# The netboot builder's and the PXE VM test's packages (qemu, iPXE, dnsmasq, busybox-static, ...).
bash "$(dirname "$0")/../netboot/deps.sh"
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v tc >/dev/null 2>&1 || need+=(iproute2)
command -v nft >/dev/null 2>&1 || need+=(nftables)
# The lab turns GRO on at every node's eth0, as a physical NIC's driver has it (bench/lab.ts).
command -v ethtool >/dev/null 2>&1 || need+=(ethtool)
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
# zstd: the CLI for interop tests, and libzstd's headers, which the native addon links
# (native/probe-zstd.mjs); without them the addon builds without zstd.
command -v zstd >/dev/null 2>&1 || need+=(zstd)
[ -e /usr/include/zstd.h ] || need+=(libzstd-dev)
# The clone agent (clone/) and its tests: partitioning, file systems, the bootloader, and a
# busybox to run the receiver as a node's initramfs does.
command -v sfdisk >/dev/null 2>&1 || need+=(fdisk)
command -v mkfs.xfs >/dev/null 2>&1 || need+=(xfsprogs)
command -v mkfs.vfat >/dev/null 2>&1 || need+=(dosfstools)
command -v extlinux >/dev/null 2>&1 || need+=(extlinux)
[ -e /usr/lib/syslinux/mbr/mbr.bin ] || need+=(syslinux-common)
command -v syslinux >/dev/null 2>&1 || need+=(syslinux)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "lab-deps: missing ${need[*]} (install as root: apt-get install ${need[*]}); root-only lab tests will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "lab-deps: installed ${need[*]}"
# The addon was built before libzstd-dev was here (npm ci runs first): build it again so
# it links libzstd (through npm, whose lifecycle environment gives install.mjs its node-gyp).
if [[ " ${need[*]} " == *" libzstd-dev "* ]] && [ -f package.json ] && [ -d build ]; then
  npm run --silent install
fi
