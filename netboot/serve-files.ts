// The files a TFTP or HTTP server hands a PXE-booting node besides vmlinuz and initrd.img:
// iPXE binaries to chainload (BIOS: undionly.kpxe over the NIC's own PXE stack; UEFI:
// snponly.efi over the firmware's network driver, or ipxe.efi with iPXE's drivers), the
// iPXE script, and an example dnsmasq configuration that hands out the right one.

/** Debian's ipxe package. */
export const IPXE_BINARIES: readonly { readonly name: string; readonly source: string }[] = [
  { name: 'undionly.kpxe', source: '/usr/lib/ipxe/undionly.kpxe' },
  { name: 'ipxe.efi', source: '/usr/lib/ipxe/ipxe.efi' },
  { name: 'snponly.efi', source: '/usr/lib/ipxe/snponly.efi' },
];

export const DEFAULT_CMDLINE = 'console=tty0 console=ttyS0,115200n8';

/**
 * iPXE loads both files relative to the script's own URL (tftp:// or http://). BOOTIF in
 * pxelinux's form tells /init which NIC booted; initrd= is what the kernel's EFI stub needs
 * to find the initramfs under UEFI.
 */
export function bootIpxe(opt: { readonly cmdline: string }): string {
  return [
    '#!ipxe',
    '# rackcast netboot: the kernel and the initramfs that images this node (made by rackcast-netboot).',
    '# Kernel parameters /init reads: rackcast.plan=NAME (a plan in the image; default "default"),',
    '# rackcast.dryrun=1, rackcast.debug=1, rackcast.KEY=VALUE (a plan field, e.g. rackcast.disk.path=/dev/sdb).',
    `kernel vmlinuz initrd=initrd.img BOOTIF=01-\${net0/mac:hexhyp} ${opt.cmdline}`.trimEnd(),
    'initrd initrd.img',
    'boot',
    '',
  ].join('\n');
}

export function dnsmasqExample(opt: { readonly tftpRoot: string }): string {
  return `# dnsmasq: DHCP and TFTP for PXE-booting nodes into rackcast (BIOS and UEFI).
# Copy to /etc/dnsmasq.d/rackcast.conf (or run: dnsmasq --no-daemon --conf-file=THIS), set the
# interface and the address range of the imaging network, and run udp-sender on the same network.
# Addresses below are examples from the benchmarking range; use your rack's.

interface=eth1
bind-interfaces
# port=0 turns off dnsmasq's DNS server: only DHCP and TFTP are wanted here.
port=0
dhcp-range=198.18.0.100,198.18.0.250,255.255.255.0,1h
# Fixed addresses and host names (the clone agent names a node after DHCP option 12):
#dhcp-host=52:54:00:12:34:56,198.18.0.101,node01

enable-tftp
tftp-root=${opt.tftpRoot}

# First boot: the NIC's PXE ROM gets an iPXE binary; iPXE then asks again (option 175 set)
# and gets the script that loads vmlinuz and initrd.img.
dhcp-match=set:ipxe,175
dhcp-match=set:efi64,option:client-arch,7
dhcp-match=set:efi64,option:client-arch,9
dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe
dhcp-boot=tag:!ipxe,tag:efi64,snponly.efi
# UEFI firmware without a usable network driver (no SNP): use ipxe.efi instead of snponly.efi.
dhcp-boot=tag:ipxe,boot.ipxe

# Another DHCP server already runs on this network? Use proxy DHCP instead of dhcp-range above:
#dhcp-range=198.18.0.0,proxy
#pxe-service=tag:!ipxe,x86PC,"rackcast",undionly.kpxe
#pxe-service=tag:!ipxe,X86-64_EFI,"rackcast",snponly.efi
#pxe-service=tag:ipxe,x86PC,"rackcast",boot.ipxe
#pxe-service=tag:ipxe,X86-64_EFI,"rackcast",boot.ipxe
`;
}
