#!/bin/sh
# rackcast netboot /init (busybox sh, PID 1): mounts, modules, network, then the clone agent,
# then what the agent's exit asks for. The interface with the agent is NETBOOT-CONTRACT.md in
# the repository's shared notes; what this script promises is written there.
#
# Modules: no udev. The file systems and their checksums are always loaded
# (/etc/rackcast/modules.always); the NIC and disk drivers are loaded for the hardware that is
# there, by walking every bus's */modalias (PCI first, then the virtio and SCSI devices the
# PCI drivers create) through busybox modprobe and modules.alias, up to 3 passes, until no
# new module loads. If no NIC appears after that, every listed driver is loaded
# (/etc/rackcast/modules.hardware), for a device whose alias is not in modules.alias.

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /run /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /run/rackcast
echo 0 > /proc/sys/kernel/printk_ratelimit 2>/dev/null

log() {
  read -r up _ < /proc/uptime
  echo "rackcast-init: [${up}s] $*"
}

shell() {
  log "starting a shell on the console ($1)"
  while :; do
    setsid cttyhack sh -l
    sleep 1
  done
}

# The kernel command line, in this script's words.
PLAN=default
DRYRUN=
DEBUG=
BOOTIF=
SETS=
set -f
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    BOOTIF=*) BOOTIF="${arg#BOOTIF=}" ;;
    rackcast.plan=*) PLAN="${arg#rackcast.plan=}" ;;
    rackcast.dryrun=1) DRYRUN=1 ;;
    rackcast.debug=1) DEBUG=1 ;;
    rackcast.dryrun=* | rackcast.debug=*) ;;
    rackcast.*=*) SETS="$SETS ${arg#rackcast.}" ;;
  esac
done
set +f
[ -n "$DEBUG" ] && set -x
log "booted $(uname -r), plan $PLAN"

# Modules: see the top of this file. One modprobe per pass (each program start costs tens
# of milliseconds on a slow or emulated CPU), not one per device.
modprobe -qa $(cat /etc/rackcast/modules.always)
count_modules() { wc -l < /proc/modules; }
pass=0
before=-1
while [ "$pass" -lt 3 ] && [ "$before" != "$(count_modules)" ]; do
  before=$(count_modules)
  modprobe -qa $(cat /sys/bus/*/devices/*/modalias 2>/dev/null | sort -u) 2>/dev/null
  pass=$((pass + 1))
done

nics() {
  for n in /sys/class/net/*; do
    name=${n##*/}
    [ "$name" = lo ] && continue
    [ -e "$n/device" ] || continue
    echo "$name"
  done
}

i=0
while [ -z "$(nics)" ] && [ "$i" -lt 10 ]; do
  sleep 1
  i=$((i + 1))
  [ "$i" = 3 ] && modprobe -qa $(cat /etc/rackcast/modules.hardware)
done
log "modules: $(count_modules) loaded; NICs: $(echo $(nics))"
[ -z "$(nics)" ] && shell "no network interface"

# The boot NIC: the one BOOTIF names (01-aa-bb-cc-dd-ee-ff, as pxelinux and iPXE pass it),
# else the first with carrier.
BOOTMAC=
case "$BOOTIF" in
  01-??-??-??-??-??-??) BOOTMAC=$(echo "${BOOTIF#01-}" | tr 'A-F-' 'a-f:') ;;
esac
for n in $(nics); do ip link set "$n" up; done
IFACE=
if [ -n "$BOOTMAC" ]; then
  for n in $(nics); do
    [ "$(cat /sys/class/net/$n/address)" = "$BOOTMAC" ] && IFACE=$n
  done
  [ -z "$IFACE" ] && log "no NIC has BOOTIF's address $BOOTMAC; taking the first with carrier"
fi
i=0
while [ -z "$IFACE" ] && [ "$i" -lt 30 ]; do
  for n in $(nics); do
    if [ "$(cat /sys/class/net/$n/carrier 2>/dev/null)" = 1 ]; then IFACE=$n; break; fi
  done
  [ -z "$IFACE" ] && sleep 1
  i=$((i + 1))
done
[ -z "$IFACE" ] && shell "no NIC has carrier"
for n in $(nics); do [ "$n" != "$IFACE" ] && ip link set "$n" down; done

# DHCP: udhcpc's script writes /run/rackcast/net.env (and configures the NIC).
export BOOTIF
tries=0
until [ -s /run/rackcast/net.env ]; do
  tries=$((tries + 1))
  [ "$tries" -gt 5 ] && shell "no DHCP lease on $IFACE"
  log "DHCP on $IFACE (try $tries)"
  udhcpc -i "$IFACE" -s /etc/rackcast/udhcpc.sh -f -q -n -t 5 -T 2 -O hostname -O domain >/tmp/udhcpc.log 2>&1
done
. /run/rackcast/net.env
log "network: $IFACE $IP/$PREFIX router '${ROUTER}' server '${SERVER}' hostname '${HOSTNAME}'"

# The agent, and what its exit asks for.
PLANFILE=/etc/rackcast/plans/$PLAN.json
[ -r "$PLANFILE" ] || shell "no plan $PLAN in /etc/rackcast/plans ($(ls /etc/rackcast/plans 2>/dev/null | tr '\n' ' '))"
set --
for kv in $SETS; do set -- "$@" --set "$kv"; done
[ -n "$DRYRUN" ] && set -- "$@" --dry-run
[ -n "$DEBUG" ] && export RACKCAST_DEBUG=1
retries=0
while :; do
  rm -f /run/rackcast/on-failure
  log "running the clone agent: plan $PLANFILE $*"
  /usr/bin/node /opt/rackcast/dist/clone/cli.js --plan "$PLANFILE" --net-env /run/rackcast/net.env "$@"
  rc=$?
  if [ "$rc" = 0 ]; then
    shell "the clone agent finished with end action shell"
  fi
  action=$(cat /run/rackcast/on-failure 2>/dev/null)
  log "the clone agent exited $rc; on failure: ${action:-(not said)}"
  case "$action" in
    retry)
      retries=$((retries + 1))
      [ "$retries" -gt 3 ] && shell "the agent failed 4 times"
      log "retrying in 10 s ($retries of 3)"
      sleep 10
      ;;
    poweroff) sync; poweroff -f ;;
    reboot) sync; reboot -f ;;
    *) shell "the clone agent failed" ;;
  esac
done
