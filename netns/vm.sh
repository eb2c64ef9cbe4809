#!/bin/sh
# Runs one command inside a qemu VM (software emulation, no KVM needed)
# booting Debian's kernel with the modules ESP needs, and exits with its
# status. The host's root is the guest's root (9p, read-only, cache=loose),
# so host-built binaries and scripts run unchanged; the guest has fresh
# tmpfs on /tmp, /run, /dev/shm and no network card at all (-nic none):
# traffic stays on veths inside the guest.
#
# usage: netns/vm.sh [-o DIR] CMD [ARG...]
#   CMD must be an absolute path or in PATH; a script must live outside /tmp
#   (the guest's /tmp is empty). The command runs in the current directory.
#   -o DIR  share DIR (on the host, outside /tmp) writable into the guest at
#           the same path, for logs and results.
# environment:
#   VM_TIMEOUT  seconds before the VM is killed (default 1200)
#   VM_DIR      assets from netns/vm-build.sh (default <tree>/build/vm)
#   VM_ENV      names of variables to pass into the guest (space-separated)
#   VM_MEM      guest memory in MiB (default 1024)
#   VM_SMP      guest CPUs (default 1; under TCG a second one gave no gain
#               for booting, it may for two busy processes)
# Prints the guest's console (\r and escape sequences removed) up to the
# exit marker "VMRC=<status>" the guest's /init prints. A missing marker
# (panic, timeout, qemu failure) is a failure: exit 1, or 124 on timeout.
set -u
here=$(cd "$(dirname "$0")" && pwd)
tree=$(dirname "$here")
vmdir=${VM_DIR:-$tree/build/vm}
tmo=${VM_TIMEOUT:-1200}
mem=${VM_MEM:-1024}
smp=${VM_SMP:-1}
out=

die() { echo "vm.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
	case $1 in
	-o) [ $# -ge 2 ] || die "-o needs a directory"
	    out=$(cd "$2" 2>/dev/null && pwd) || die "no directory $2"
	    shift 2 ;;
	--) shift; break ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || die "usage: vm.sh [-o DIR] CMD [ARG...]"
for f in vmlinuz initrd.gz; do
	[ -s "$vmdir/$f" ] || die "$vmdir/$f missing (run netns/vm-build.sh)"
done
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing"
case $out in /tmp|/tmp/*) die "-o $out: the guest's /tmp is its own" ;; esac
cwd=$(pwd)
case $cwd in /tmp|/tmp/*) cwd=/ ;; esac

# The command goes into a script under VM_DIR (the guest sees it through the
# shared root; kernel parameters cannot carry spaces or quotes).
mkdir -p "$vmdir/run"
vmdir=$(cd "$vmdir" && pwd)
case $vmdir in
/tmp|/tmp/*) die "VM_DIR $vmdir: the guest's /tmp is its own" ;;
esac
run=$vmdir/run/cmd.$$
log=$vmdir/run/console.$$
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -f "$run.sh" "$log" "$run.rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
{
	echo '#!/bin/sh'
	for v in ${VM_ENV:-}; do
		eval "[ -n \"\${$v+x}\" ]" || continue
		eval "printf 'export %s=%s\n' \"\$v\" \"\$(q \"\$$v\")\""
	done
	printf 'cd %s || exit 1\nexec' "$(q "$cwd")"
	for a in "$@"; do printf ' %s' "$(q "$a")"; done
	echo
} >"$run.sh"
chmod 755 "$run.sh"

append="console=ttyS0 quiet panic=-1 vmcmd=$run.sh"
# qboot (a minimal firmware shipped with qemu) boots a little faster than
# SeaBIOS and prints nothing; SeaBIOS is the fallback.
bios() {
	f=/usr/share/qemu/qboot.rom
	[ -f $f ] && echo "-bios $f"
}
remap=',multidevs=remap'
set -- -accel tcg -cpu max -m "$mem" -smp "$smp" -nographic -no-reboot \
	-nic none -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	$(bios) \
	-kernel "$vmdir/vmlinuz" -initrd "$vmdir/initrd.gz" \
	-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on$remap
if [ -n "$out" ]; then
	set -- "$@" -virtfs \
		"local,path=$out,mount_tag=out,security_model=none$remap"
	append="$append vmout=$out"
fi

: >"$log"
timeout -k 10 "$tmo" qemu-system-x86_64 "$@" -append "$append" \
	</dev/null >"$log" 2>&1 &
pid=$!
# Stream the console: strip \r and terminal escapes, stop at the marker.
tail -n +1 -f --pid="$pid" "$log" |
	sed -u 's/\r//g; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' |
	awk -v rcf="$run.rc" '
		done { next }
		/VMRC=[0-9]+/ {
			s = substr($0, index($0, "VMRC=") + 5)
			sub(/[^0-9].*/, "", s)
			pre = substr($0, 1, index($0, "VMRC=") - 1)
			if (pre != "") print pre
			print s > rcf; close(rcf); done = 1; next
		}
		{ print; fflush() }'
wait "$pid"
qrc=$?
pid=
rc=$(cat "$run.rc" 2>/dev/null)
if [ -z "$rc" ]; then
	if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		echo "vm.sh: timed out after ${tmo}s (no VMRC marker)" >&2
		exit 124
	fi
	echo "vm.sh: the guest printed no VMRC marker (qemu exit $qrc)" >&2
	exit 1
fi
# Second channel (isa-debug-exit): qemu exits with (rc << 1) | 1.
if [ "$rc" -lt 128 ] && [ "$qrc" != $(((rc << 1) | 1)) ]; then
	echo "vm.sh: note: qemu exit $qrc does not match VMRC=$rc" >&2
fi
exit "$rc"
