#!/bin/sh
# make demo: two gateways, one post-quantum (X-Wing) ESP tunnel, end to end.
#
# Brings up the netns/topology.sh namespaces (site1 - gw1 == gw2 - site2)
# with a prefix unique to this run, makes a key pair per gateway, writes
# the two configurations, starts epochd on both gateways, waits for the
# tunnel, pings site1 -> site2 through it, rekeys it with epochctl and shows
# the status before and after, then stops everything again (also on
# failure or interrupt). Ends with "demo: OK" or "demo: FAILED ...".
#
# When the running kernel cannot do ESP (netns/probe-esp.sh), the demo runs
# inside the qemu VM of netns/vm.sh (assets from netns/vm-build.sh; the
# first run downloads Debian's kernel package, about 70 MB).
#
# usage: netns/demo.sh [BUILD]   (from the tree's root, as root; make demo)
# environment: DEMO_VM=1 forces the VM; DEMO_TIMEOUT seconds for each wait
#              (default 120); DEMO_DEBUG=1 makes the daemons log at debug
#              level. The daemons' logs and configurations are left in
#              BUILD/demo/ afterwards.
set -u
build=${1:-build}
tmo=${DEMO_TIMEOUT:-120}
dbg=${DEMO_DEBUG:-0}

# ---- outer part: pick the host or the VM ---------------------------------
if [ "${DEMO_INNER:-0}" != 1 ]; then
	start=$(date +%s)
	fail() { echo "demo: FAILED: $*"; exit 1; }
	[ "$(id -u)" = 0 ] ||
		fail "needs root (network namespaces, IPsec): sudo make demo"
	for b in epochd epochctl; do
		[ -x "$build/bin/$b" ] || fail "$build/bin/$b missing (make)"
	done
	out=$(pwd)/$build/demo
	rm -rf "$out"
	mkdir -p "$out" || fail "cannot create $out"
	export DEMO_INNER=1 DEMO_OUT="$out" DEMO_TIMEOUT="$tmo" DEMO_DEBUG="$dbg"
	if [ "${DEMO_VM:-0}" != 1 ] && netns/probe-esp.sh; then
		where="this machine's kernel $(uname -r)"
		"$(pwd)/netns/demo.sh" "$build"
		rc=$?
	else
		echo "demo: this kernel ($(uname -r)) cannot do ESP; the demo" \
			"runs inside a small qemu VM"
		echo "demo: (Debian's kernel, software-emulated; this" \
			"machine's files, read-only)"
		netns/vm-build.sh "$build/vm" ||
			fail "building the VM (netns/vm-build.sh) failed"
		where="a qemu VM, kernel $(cat "$build/vm/kernel-version")"
		VM_ENV="DEMO_INNER DEMO_OUT DEMO_TIMEOUT DEMO_DEBUG" \
			VM_TIMEOUT=$((tmo * 4 + 300)) \
			netns/vm.sh -o "$out" "$(pwd)/netns/demo.sh" "$build"
		rc=$?
	fi
	echo
	if [ "$rc" = 0 ] && [ -f "$out/.ok" ]; then
		echo "demo: OK ($where; $(($(date +%s) - start)) s;" \
			"logs in $build/demo/)"
		exit 0
	fi
	echo "demo: FAILED (status $rc; daemon logs in $build/demo/)"
	exit 1
fi

# ---- inner part: runs where ESP works ------------------------------------
out=${DEMO_OUT:?}
bin=$(pwd)/$build/bin
p=epd$$-
s1=${p}site1 g1=${p}gw1 g2=${p}gw2
name=sites
dir=
pid1='' pid2=''
topo=0
step=0
t0=$(date +%s)

hdr() {
	step=$((step + 1))
	echo
	echo "== $step. $*"
}
say() { echo "   $*"; }
indent() { sed 's/^/   | /'; }

# Copies what is worth keeping (logs, configurations; never the keys).
keep() {
	[ -n "$dir" ] || return 0
	for f in gw1.log gw2.log gw1.conf gw2.conf; do
		[ -f "$dir/$f" ] && cp "$dir/$f" "$out/" 2>/dev/null
	done
	return 0
}

# Stops a daemon: SIGTERM (it removes its SAs and policies), then waits for
# it; SIGKILL only if it is still there after the limit.
stop() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || return 0
	lim=$(($(date +%s) + 30))
	while kill -0 "$1" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$lim" ]; then
			echo "   epochd (pid $1) ignored SIGTERM; killing it"
			kill -KILL "$1" 2>/dev/null
			break
		fi
		sleep 0.1
	done
	wait "$1" 2>/dev/null
}

cleaned=0
cleanup() {
	[ "$cleaned" = 1 ] && return 0
	cleaned=1
	stop "$pid1"; pid1=
	stop "$pid2"; pid2=
	keep
	[ "$topo" = 1 ] && netns/topology.sh down "$p"
	[ -n "$dir" ] && rm -rf "$dir"
	return 0
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted; cleaning up"; exit 130' INT
trap 'echo; echo "demo: terminated; cleaning up"; exit 143' TERM

fail() {
	echo
	echo "demo: FAILED at step $step: $*"
	for g in gw1 gw2; do
		[ -f "$dir/$g.log" ] || continue
		echo "--- last lines of $g's epochd log:"
		tail -n 20 "$dir/$g.log"
	done
	exit 1
}

# jget JSON KEY: the value of the first member KEY (a string or an integer;
# the status replies here hold one tunnel, so each key occurs once).
jget() {
	printf '%s\n' "$1" | sed -n \
		-e "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" \
		-e "s/.*\"$2\":\([0-9][0-9]*\).*/\1/p"
}
# st GW: that gateway's status of the tunnel as JSON (empty if unreachable)
st() { "$bin/epochctl" -s "$dir/$1.sock" status "$name" --json 2>/dev/null; }
alive() {
	kill -0 "$pid1" 2>/dev/null || fail "epochd on gw1 exited"
	kill -0 "$pid2" 2>/dev/null || fail "epochd on gw2 exited"
}
hex() { printf '0x%08x' "$1"; }
# sas NS: that namespace's ESP SAs with the kernel's packet counters, one
# line each (from ip -s xfrm state)
sas() {
	ip -n "$1" -s xfrm state list | awk '
		/^src/ { s = $2 " -> " $4 }
		/proto esp spi/ { spi = $4; sub(/\(.*/, "", spi)
				  rq = sprintf("0x%08x", $6) }
		/lifetime current:/ { cur = 1; next }
		cur { split($2, n, "("); cur = 0
		      printf "   | %-24s spi %s  reqid %s  %4d packets\n",
			s, spi, rq, n[1] }'
}

echo "epochd demo: two gateways, one post-quantum ESP tunnel (MLS," \
	"X-Wing), kernel $(uname -r)"

hdr "Network: four network namespaces (prefix $p)"
dir=$(mktemp -d /tmp/epochd-demo.XXXXXX) || fail "mktemp"
netns/topology.sh up "$p" || fail "netns/topology.sh up $p"
topo=1
cat <<EOF
   site1 ---------- gw1 ============ gw2 ---------- site2
   198.51.100.2     192.0.2.1  192.0.2.2     203.0.113.2
   (namespaces ${p}site1, ${p}gw1, ${p}gw2, ${p}site2)
   site1's network is 198.51.100.0/24, site2's 203.0.113.0/24; the
   gateways talk over 192.0.2.0/24 (all documentation addresses).
EOF
# Without a tunnel the sites already reach each other, in the clear.
ip netns exec "$s1" ping -n -q -c 1 -W 10 203.0.113.2 >/dev/null ||
	fail "site1 cannot reach site2 even without IPsec"
say "site1 reaches site2 (still in the clear, no IPsec yet)"

hdr "Keys: one identity key pair per gateway (epochctl genkey)"
for g in gw1 gw2; do
	mkdir -m 700 "$dir/$g" || fail "mkdir"
	pk=$("$bin/epochctl" genkey "$dir/$g/private.key") ||
		fail "epochctl genkey on $g"
	case $g in gw1) pk_gw1=$pk ;; *) pk_gw2=$pk ;; esac
	say "$g: private key $dir/$g/private.key (mode" \
		"$(stat -c %a "$dir/$g/private.key"))"
	say "$g: public key  $pk"
done
say "each gateway pins the other's public key (peer_key below)"

hdr "Configuration: one file per gateway"
# conf GW LOCAL REMOTE PEER_KEY LOCAL_TS REMOTE_TS
conf() {
	cat >"$dir/$1.conf" <<EOF
# epochd.conf of $1 (written by netns/demo.sh)
global = {
	listen = [ "$2" ];
	private_key = "$dir/$1/private.key";
	state_dir = "$dir/$1";
	control_socket = "$dir/$1.sock";
	log_level = "$lvl";
};

tunnels = (
	{
		name = "$name";
		local = "$2";
		remote = "$3";
		peer_key = "$4";
		local_ts = [ "$5" ];
		remote_ts = [ "$6" ];
		suite = "xwing";
		esp = "aes256gcm";
	}
);
EOF
}
lvl=info
[ "$dbg" = 1 ] && lvl=debug
conf gw1 192.0.2.1 192.0.2.2 "$pk_gw2" 198.51.100.0/24 203.0.113.0/24
conf gw2 192.0.2.2 192.0.2.1 "$pk_gw1" 203.0.113.0/24 198.51.100.0/24
say "$dir/gw1.conf:"
indent <"$dir/gw1.conf"
say "gw2.conf is its mirror image: local and remote swapped, local_ts"
say "and remote_ts swapped, gw1's public key as peer_key."
for g in gw1 gw2; do
	msg=$("$bin/epochd" -t -c "$dir/$g.conf" 2>&1) ||
		fail "epochd -t refuses $g.conf: $msg"
done
say "epochd -t (check only): both files are valid"

hdr "Start epochd on both gateways"
ip netns exec "$g1" "$bin/epochd" -c "$dir/gw1.conf" >"$dir/gw1.log" 2>&1 &
pid1=$!
ip netns exec "$g2" "$bin/epochd" -c "$dir/gw2.conf" >"$dir/gw2.log" 2>&1 &
pid2=$!
say "ip netns exec ${p}gw1 epochd -c gw1.conf   (pid $pid1, log gw1.log)"
say "ip netns exec ${p}gw2 epochd -c gw2.conf   (pid $pid2, log gw2.log)"

# Polls (limit tmo) until both gateways are up with one epoch above $1;
# sets ts (start), j1, j2, e1. $2 names the failure.
wait_up() {
	ts=$(date +%s)
	lim=$((ts + tmo))
	while :; do
		alive
		j1=$(st gw1); j2=$(st gw2)
		e1=$(jget "$j1" epoch); e2=$(jget "$j2" epoch)
		if [ "$(jget "$j1" state)" = up ] &&
		   [ "$(jget "$j2" state)" = up ] &&
		   [ -n "$e1" ] && [ "$e1" = "$e2" ] && [ "$e1" -gt "$1" ]; then
			return 0
		fi
		[ "$(date +%s)" -lt "$lim" ] ||
			fail "$2 after $tmo s (gw1: $j1; gw2: $j2)"
		sleep 0.2
	done
}

hdr "Wait for the tunnel (MLS handshake, then ESP SAs in the kernel)"
wait_up 0 "no tunnel"
say "up after $(($(date +%s) - ts)) s: epoch $e1 on both gateways"
say "epochd's log lines so far:"
cat "$dir/gw1.log" "$dir/gw2.log" | indent

hdr "Ping site1 -> site2 through the tunnel"
ip netns exec "$s1" ping -n -c 3 -i 0.5 -W 5 203.0.113.2 2>&1 | indent
ip netns exec "$s1" ping -n -q -c 1 -W 5 203.0.113.2 >/dev/null ||
	fail "site1 cannot reach site2 through the tunnel"
before1=$(st gw1); before2=$(st gw2)
po=$(jget "$before1" packets_out)
[ "${po:-0}" -gt 0 ] ||
	fail "gw1's outbound SA counted no packets: $before1"
say "the pings went through ESP: gw1's outbound SA counted $po packets"
say "gw1's SAs in the kernel (ip -n ${p}gw1 -s xfrm state):"
sas "$g1"

hdr "epochctl status on both gateways (before the rekey)"
for g in gw1 gw2; do
	say "epochctl -s $g.sock status"
	"$bin/epochctl" -s "$dir/$g.sock" status | indent
done

hdr "Rekey: epochctl rekey $name (on gw1)"
"$bin/epochctl" -s "$dir/gw1.sock" rekey "$name" 2>&1 | indent
old=$(jget "$before1" epoch)
wait_up "$old" "no new epoch"
say "new epoch $e1 on both gateways after $(($(date +%s) - ts)) s"
say "ping again, now through the new SAs:"
ip netns exec "$s1" ping -n -c 3 -i 0.5 -W 5 203.0.113.2 2>&1 | indent
ip netns exec "$s1" ping -n -q -c 1 -W 5 203.0.113.2 >/dev/null ||
	fail "site1 cannot reach site2 after the rekey"
after1=$(st gw1); after2=$(st gw2)

hdr "epochctl status on both gateways (after the rekey)"
for g in gw1 gw2; do
	say "epochctl -s $g.sock status"
	"$bin/epochctl" -s "$dir/$g.sock" status | indent
done

say "the same for scripts: epochctl -s gw1.sock status $name --json"
printf '%s\n' "$after1" | indent

hdr "Before and after the rekey"
printf '   %-4s %-15s %-12s %s\n' "" "" before after
bad=
for g in gw1 gw2; do
	case $g in
	gw1) b=$before1 a=$after1 ;;
	*)   b=$before2 a=$after2 ;;
	esac
	for k in epoch spi_in spi_out packets_in packets_out; do
		vb=$(jget "$b" $k); va=$(jget "$a" $k)
		case $k in
		spi_*) fb=$(hex "$vb"); fa=$(hex "$va")
		       [ "$vb" != "$va" ] || bad="$bad $g:$k" ;;
		*)     fb=$vb; fa=$va
		       [ "$va" -gt "$vb" ] || bad="$bad $g:$k" ;;
		esac
		printf '   %-4s %-15s %-12s %s\n' "$g" "$k" "$fb" "$fa"
	done
done
[ -z "$bad" ] || fail "did not change across the rekey:$bad"
say "new epoch and new SPIs on both sides; the ESP packet counters"
say "(kernel, summed over the epochs) kept counting through the rekey"
say "gw1's SAs in the kernel now: the new pair carries the new pings;"
say "the old inbound SA stays for a grace period (make-before-break)"
sas "$g1"
say "epochd's log lines of the rekey:"
grep -h 'rekey' "$dir/gw1.log" "$dir/gw2.log" | indent

hdr "Stop: SIGTERM to both daemons, then remove the namespaces"
stop "$pid1"; pid1=
stop "$pid2"; pid2=
for g in "$g1" "$g2"; do
	n=$(ip -n "$g" xfrm state list | grep -c '^src')
	m=$(ip -n "$g" xfrm policy list | grep -c '^src')
	say "$g: $n SAs, $m policies left after epochd exited"
	[ "$n$m" = 00 ] || fail "epochd left SAs or policies in $g"
done
keep
topo=0
netns/topology.sh down "$p" || fail "netns/topology.sh down $p"
say "namespaces ${p}* removed"
echo
echo "demo: all steps passed in $(($(date +%s) - t0)) s"
: >"$out/.ok"
exit 0
