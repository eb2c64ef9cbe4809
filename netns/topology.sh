#!/bin/sh
# The test topology: four network namespaces joined by veth pairs,
#
#   PREFIXsite1 ---- PREFIXgw1 ==== PREFIXgw2 ---- PREFIXsite2
#   eth0        s1 /      g1 \  / g2      \ s2        eth0
#
#   link         IPv4                IPv6
#   site1-gw1    198.51.100.2 / .1   2001:db8:1::2 / ::1   (/24, /64)
#   gw1-gw2      192.0.2.1 / .2      2001:db8::1 / ::2
#   gw2-site2    203.0.113.1 / .2    2001:db8:2::1 / ::2
#
# (RFC 5737 and RFC 3849 documentation addresses only.) Sites route
# everything through their gateway; each gateway routes the far site via
# the other gateway and forwards IPv4 and IPv6. IPv6 makes little noise of
# its own: no link-local addresses (addrgenmode none), no DAD (nodad) and
# static neighbour entries (a router without a link-local address cannot
# send neighbour solicitations for forwarded packets), so no RS, DAD or NS
# packets cross the links. What is left are a few MLD reports right after
# up, sent from :: to ff02::16: link-scope, never forwarded, never matching
# a site-to-site policy. IPv4 uses ARP as usual.
#
# Every interface is created inside the namespaces, never in the caller's.
#
# usage: netns/topology.sh up|down [PREFIX]   (default PREFIX "ep-")
#   PREFIX should be unique to the run and end in a character that cannot
#   continue another run's prefix (tests/e2e/run.sh uses "ep<pid>-").
#   up    fails if any of the namespaces exists; if a step fails it removes
#         what it made
#   down  deletes the four namespaces (and with them every veth and any
#         XFRM state in them); exits 1 if a namespace starting with PREFIX
#         is still there afterwards
set -u
act=${1:-}
p=${2:-ep-}
case $p in
*[!A-Za-z0-9_-]* | "") echo "topology: bad prefix '$p'" >&2; exit 2 ;;
esac
s1=${p}site1 g1=${p}gw1 g2=${p}gw2 s2=${p}site2
NS="$s1 $g1 $g2 $s2"
# Fixed, locally administered MAC addresses, so IPv6 neighbours can be
# static (see above).
m_s1=02:00:00:00:01:02 m_g1s1=02:00:00:00:01:01
m_g1=02:00:00:00:00:01 m_g2=02:00:00:00:00:02
m_g2s2=02:00:00:00:02:01 m_s2=02:00:00:00:02:02

nslist() { ip netns list 2>/dev/null | awk '{ print $1 }'; }

down() {
	for n in $NS; do
		nslist | grep -qxF "$n" && ip netns del "$n"
	done
	left=$(nslist | awk -v p="$p" 'index($0, p) == 1')
	if [ -n "$left" ]; then
		echo "topology: namespaces left with prefix $p:" $left >&2
		return 1
	fi
	return 0
}

up() {
	# Namespaces first; every later batch runs inside one namespace.
	printf 'netns add %s\n' $NS | ip -batch - || return 1

	# gw1: creates both of its links (peers straight into site1 / gw2).
	ip -n "$g1" -batch - <<-EOF || return 1
	link set lo up
	link add s1 address $m_g1s1 type veth \
	    peer name eth0 address $m_s1 netns $s1
	link add g1 address $m_g1 type veth peer name g2 address $m_g2 netns $g2
	link set s1 addrgenmode none
	link set g1 addrgenmode none
	addr add 198.51.100.1/24 dev s1
	addr add 192.0.2.1/24 dev g1
	addr add 2001:db8:1::1/64 dev s1 nodad
	addr add 2001:db8::1/64 dev g1 nodad
	link set s1 up
	link set g1 up
	route add 203.0.113.0/24 via 192.0.2.2 dev g1
	route add 2001:db8:2::/64 via 2001:db8::2 dev g1
	neigh add 2001:db8:1::2 lladdr $m_s1 dev s1 nud permanent
	neigh add 2001:db8::2 lladdr $m_g2 dev g1 nud permanent
	EOF
	ip -n "$g2" -batch - <<-EOF || return 1
	link set lo up
	link add s2 address $m_g2s2 type veth \
	    peer name eth0 address $m_s2 netns $s2
	link set s2 addrgenmode none
	link set g2 addrgenmode none
	addr add 203.0.113.1/24 dev s2
	addr add 192.0.2.2/24 dev g2
	addr add 2001:db8:2::1/64 dev s2 nodad
	addr add 2001:db8::2/64 dev g2 nodad
	link set s2 up
	link set g2 up
	route add 198.51.100.0/24 via 192.0.2.1 dev g2
	route add 2001:db8:1::/64 via 2001:db8::1 dev g2
	neigh add 2001:db8:2::2 lladdr $m_s2 dev s2 nud permanent
	neigh add 2001:db8::1 lladdr $m_g1 dev g2 nud permanent
	EOF
	ip -n "$s1" -batch - <<-EOF || return 1
	link set lo up
	link set eth0 addrgenmode none
	addr add 198.51.100.2/24 dev eth0
	addr add 2001:db8:1::2/64 dev eth0 nodad
	link set eth0 up
	route add default via 198.51.100.1 dev eth0
	route add default via 2001:db8:1::1 dev eth0
	neigh add 2001:db8:1::1 lladdr $m_g1s1 dev eth0 nud permanent
	EOF
	ip -n "$s2" -batch - <<-EOF || return 1
	link set lo up
	link set eth0 addrgenmode none
	addr add 203.0.113.2/24 dev eth0
	addr add 2001:db8:2::2/64 dev eth0 nodad
	link set eth0 up
	route add default via 203.0.113.1 dev eth0
	route add default via 2001:db8:2::1 dev eth0
	neigh add 2001:db8:2::1 lladdr $m_g2s2 dev eth0 nud permanent
	EOF
	# Forwarding (one process per gateway; sysctls are per namespace).
	for n in "$g1" "$g2"; do
		ip netns exec "$n" sh -c '
			echo 1 >/proc/sys/net/ipv4/ip_forward &&
			echo 1 >/proc/sys/net/ipv6/conf/all/forwarding' ||
			return 1
	done
	return 0
}

case $act in
up)
	for n in $NS; do
		if nslist | grep -qxF "$n"; then
			echo "topology: namespace $n exists already" >&2
			exit 1
		fi
	done
	if ! up; then
		echo "topology: up $p failed; removing what was made" >&2
		down
		exit 1
	fi ;;
down) down || exit 1 ;;
*) echo "usage: topology.sh up|down [PREFIX]" >&2; exit 2 ;;
esac
