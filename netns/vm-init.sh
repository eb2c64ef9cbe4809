#!/bin/busybox sh
# /init of the test VM's initramfs (netns/vm-build.sh packs it; see
# docs esp-in-vm.md §4). Loads the modules, mounts the host's root
# (read-only 9p, tag "host") on /host with writable tmpfs on /tmp, /run and
# /dev/shm, the source tree (read-only, tag "tree") again at /host$vmtree
# so that a tree under /tmp is there too, optionally the writable share
# "out" on /host$vmout, runs
# $vmcmd (a kernel parameter, so an environment variable here) chrooted in
# /host, prints "VMRC=<status>" and powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

while read -r m; do
	insmod "/mods/$m" || echo "VMINIT: insmod $m failed"
done </mods/order

rc=1
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose \
	host /host; then
	mount --bind /proc /host/proc
	mount --bind /sys /host/sys
	mount --bind /dev /host/dev
	mkdir -p /host/dev/pts /host/dev/shm
	mount -t devpts devpts /host/dev/pts
	mount -t tmpfs tmpfs /host/tmp
	mount -t tmpfs tmpfs /host/run
	mount -t tmpfs tmpfs /host/dev/shm
	mkdir -p /host/run/netns
	ok=1
	if [ -n "${vmtree:-}" ]; then
		mkdir -p "/host$vmtree" 2>/dev/null
		mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose \
			tree "/host$vmtree" ||
			{ echo "VMINIT: tree share failed"; ok=0; }
	fi
	if [ -n "${vmout:-}" ]; then
		mkdir -p "/host$vmout" 2>/dev/null
		mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 \
			out "/host$vmout" || { echo "VMINIT: out share failed"; ok=0; }
	fi
	if [ "$ok" = 1 ] && [ -n "${vmcmd:-}" ]; then
		chroot /host /usr/bin/env -i \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root TERM=dumb /bin/sh -c "$vmcmd" </dev/null
		rc=$?
	elif [ -z "${vmcmd:-}" ]; then
		echo "VMINIT: no vmcmd= on the kernel command line"
	fi
	[ -n "${vmout:-}" ] && umount "/host$vmout" 2>/dev/null
	[ -n "${vmtree:-}" ] && umount "/host$vmtree" 2>/dev/null
else
	echo "VMINIT: mounting the host root failed"
fi
sync
echo "VMRC=$rc"
# Second channel: qemu's isa-debug-exit device exits with (rc << 1) | 1.
printf "\\$(printf %03o $((rc & 255)))" | dd of=/dev/port bs=1 seek=244 \
	count=1 2>/dev/null
poweroff -f
