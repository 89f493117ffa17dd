#!/bin/sh
# busybox udhcpc's script (udhcpc -s): configures the boot NIC from the lease and writes
# /run/rackcast/net.env for the clone agent (the keys NETBOOT-CONTRACT.md in the repository's
# shared notes lists), values single-quoted. udhcpc exports $interface, $ip, $mask (prefix
# length), $router, $hostname, $domain, $serverid, $siaddr.
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound | renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    gw=
    for r in $router; do gw=$r; break; done
    if [ -n "$gw" ]; then
      ip route replace default via "$gw" dev "$interface"
    else
      # No router: multicast still has to leave through this NIC.
      ip route replace 224.0.0.0/4 dev "$interface"
    fi
    [ -n "$hostname" ] && hostname "$hostname"
    server=$siaddr
    [ -z "$server" ] || [ "$server" = 0.0.0.0 ] && server=$serverid
    mac=$(cat "/sys/class/net/$interface/address")
    {
      echo "IFACE=$(q "$interface")"
      echo "MAC=$(q "$mac")"
      echo "IP=$(q "$ip")"
      echo "PREFIX=$(q "${mask:-24}")"
      echo "ROUTER=$(q "$gw")"
      echo "HOSTNAME=$(q "$hostname")"
      echo "DOMAIN=$(q "$domain")"
      echo "SERVER=$(q "$server")"
      echo "BOOTIF=$(q "$BOOTIF")"
    } > /run/rackcast/net.env.tmp
    mv /run/rackcast/net.env.tmp /run/rackcast/net.env
    ;;
esac
exit 0
