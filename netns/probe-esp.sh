#!/bin/sh
# Exit 0 if the running kernel can install a tunnel-mode ESP SA with
# rfc4106(gcm(aes)), else 1. Tries in a scratch network namespace of its
# own (removed again), so nothing outside it is touched.
# -v prints the kernel's answer.
set -u
ns=epprobe$$-
trap 'ip netns del "$ns" 2>/dev/null' EXIT
trap 'exit 1' INT TERM
if ! ip netns add "$ns" 2>/dev/null; then
	echo "probe-esp: cannot add a netns" >&2
	exit 1
fi
msg=$(ip -n "$ns" xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp \
	spi 0x1001 reqid 1 mode tunnel \
	aead 'rfc4106(gcm(aes))' \
	0x000102030405060708090a0b0c0d0e0f10111213 128 \
	2>&1)
rc=$?
[ "${1:-}" = -v ] && echo "probe-esp: ${msg:-SA installed} ($(uname -r))"
[ "$rc" -eq 0 ]
