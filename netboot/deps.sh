#!/usr/bin/env bash
# Debian packages the boot-image builder (netboot/build.ts) and the PXE VM test need
# (root only; called by bench/lab-deps.sh, so `npm test` and CI install them too):
# busybox-static, kmod and the disk tools go INTO the initramfs; syslinux/extlinux are the
# bootloader the clone agent installs; ipxe gives the chainload binaries the image ships;
# qemu-system-x86 + ipxe-qemu (NIC ROMs for -boot n) + dnsmasq-base run the VM test.
# Quick when everything is there: one dpkg-query, no apt.
set -euo pipefail
pkgs=(busybox-static kmod fdisk e2fsprogs xfsprogs dosfstools util-linux cpio gzip xz-utils zstd
      binutils syslinux syslinux-common extlinux ipxe ipxe-qemu qemu-system-x86 dnsmasq-base
      openssh-client)
need=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || need+=("$p")
done
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "netboot-deps: missing ${need[*]} (install as root: apt-get install ${need[*]}); the netboot VM test will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "netboot-deps: installed ${need[*]}"
