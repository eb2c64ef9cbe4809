#!/bin/sh
# Builds the assets netns/vm.sh boots: DIR/vmlinuz and DIR/initrd.gz
# (busybox + the kernel modules ESP tests need + netns/vm-init.sh as /init).
#
# The kernel is Debian's: the package linux-image-amd64 depends on
# (apt-cache), fetched with apt-get download into DIR/cache and unpacked
# there only for the build (the 400 MB tree is removed afterwards; the .deb
# stays as the cache). Nothing else is downloaded. Cached: when both files
# exist and are newer than this script and /init, it does nothing.
#
# usage: netns/vm-build.sh [DIR]   (default build/vm)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-build/vm}
mkdir -p "$dir/cache"
dir=$(cd "$dir" && pwd)
init=$here/vm-init.sh

if [ -s "$dir/vmlinuz" ] && [ -s "$dir/initrd.gz" ] &&
   [ -z "$(find "$here/vm-build.sh" "$init" -newer "$dir/initrd.gz")" ]; then
	exit 0
fi
start=$(date +%s)

# The modules, in the order they are asked for (esp-in-vm.md §3):
# sha3_generic before jitterentropy_rng (it looks sha3-256 up by name).
MODS="virtio_pci 9pnet_virtio 9p
aesni-intel ctr sha512_generic ghash-generic ghash-clmulni-intel sha3_generic
jitterentropy_rng drbg crypto_null gcm seqiv echainiv authenc authencesn
chacha_generic poly1305_generic chacha20poly1305 chacha-x86_64 poly1305-x86_64
cmac xcbc xfrm_user esp4 esp6 xfrm_interface veth tun ip6_tunnel sch_netem
sch_prio cls_u32"

# The kernel package: the image the linux-image-amd64 metapackage depends
# on, never a hard-coded version. If apt has no lists yet, update once.
find_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
deb=$(ls "$dir"/cache/linux-image-*-amd64_*.deb 2>/dev/null | tail -n 1 || :)
if [ -z "$deb" ]; then
	pkg=$(find_pkg)
	if [ -z "$pkg" ]; then
		apt-get update >/dev/null
		pkg=$(find_pkg)
	fi
	if [ -z "$pkg" ]; then
		echo "vm-build: no linux-image-amd64 in apt" >&2
		exit 1
	fi
	echo "vm-build: downloading $pkg (Debian package, about 70 MB)"
	# apt-get download writes into the current directory. As root it
	# warns that _apt cannot read it; harmless.
	(cd "$dir/cache" && apt-get download -q "$pkg" 2>&1 |
		grep -v 'unsandboxed' || :)
	deb=$(ls "$dir"/cache/"${pkg}"_*.deb 2>/dev/null | tail -n 1 || :)
	if [ -z "$deb" ]; then
		echo "vm-build: download of $pkg failed" >&2
		exit 1
	fi
fi

tmp=$dir/unpack.$$
trap 'rm -rf "$tmp"' EXIT INT TERM
rm -rf "$dir"/unpack.*
mkdir -p "$tmp/kroot" "$tmp/initrd"
echo "vm-build: unpacking $(basename "$deb")"
dpkg-deb -x "$deb" "$tmp/kroot"
kver=$(ls "$tmp/kroot/lib/modules" | head -n 1)
[ -n "$kver" ] || { echo "vm-build: no modules in $deb" >&2; exit 1; }
depmod -b "$tmp/kroot" "$kver"

# Module files in load order: dependencies first, each once.
ir=$tmp/initrd
mkdir -p "$ir/bin" "$ir/mods" "$ir/proc" "$ir/sys" "$ir/dev" "$ir/host"
: >"$ir/mods/order"
: >"$tmp/files"
for m in $MODS; do
	modprobe -d "$tmp/kroot" -S "$kver" --show-depends "$m" \
		>"$tmp/deps" || {
		echo "vm-build: module $m not found in $kver" >&2; exit 1; }
	awk '$1 == "insmod" { print $2 }' "$tmp/deps" >>"$tmp/files"
done
while read -r path; do
	base=$(basename "$path")
	name=${base%%.ko*}
	grep -qx "$name.ko" "$ir/mods/order" && continue
	case $base in
	*.ko) cp "$path" "$ir/mods/$name.ko" ;;
	*.ko.xz) xz -dc "$path" >"$ir/mods/$name.ko" ;;
	*.ko.zst) zstd -qdc "$path" >"$ir/mods/$name.ko" ;;
	*.ko.gz) gzip -dc "$path" >"$ir/mods/$name.ko" ;;
	*) echo "vm-build: unknown module file $base" >&2; exit 1 ;;
	esac
	echo "$name.ko" >>"$ir/mods/order"
done <"$tmp/files"
nmods=$(wc -l <"$ir/mods/order")

cp /bin/busybox "$ir/bin/busybox"
cp "$init" "$ir/init"
chmod 755 "$ir/init" "$ir/bin/busybox"
(cd "$ir" && find . | cpio -o -H newc --quiet | gzip -9) >"$dir/initrd.gz.new"
cp "$tmp/kroot/boot/vmlinuz-$kver" "$dir/vmlinuz.new"
echo "$kver" >"$dir/kernel-version"
mv "$dir/vmlinuz.new" "$dir/vmlinuz"
mv "$dir/initrd.gz.new" "$dir/initrd.gz"
rm -rf "$tmp"
echo "vm-build: kernel $kver, $nmods modules, initrd" \
	"$(du -k "$dir/initrd.gz" | cut -f1) KiB, $(($(date +%s) - start)) s"
