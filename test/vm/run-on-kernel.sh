#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run-on-kernel.sh VERSION BUILDDIR: run BUILDDIR's tests on a real Debian
# kernel under qemu-system-x86_64 (TCG: no KVM needed) and exit with their
# result. VERSION is 6.1 (bookworm's linux-image-amd64) or 5.10 (bullseye's).
# See test/vm/README for what it needs, the environment it reads and times.
#
# The guest's userland is always Debian 12 (bookworm), that of the machines
# that build libusock, so the host's build runs in it unchanged; only the
# kernel changes. The root is made once with debootstrap into the cache
# (USOCK_VM_CACHE) and booted read-only (qemu's snapshot). The source and
# build trees go on a second disk, made afresh each run and mounted in the
# guest at their host paths, which meson's build directory records. The
# guest writes meson's exit status on that disk; the host reads it back with
# debugfs (no mount, no root) and a guest that never writes it fails.
set -euo pipefail

usage() {
	echo "usage: $0 VERSION BUILDDIR (VERSION: 6.1 or 5.10)" >&2
	exit 2
}
[ $# -eq 2 ] || usage
version=$1
builddir=$(realpath "$2")

case "$version" in
6.1) suite=bookworm ;;
5.10) suite=bullseye ;;
*) usage ;;
esac

cache=${USOCK_VM_CACHE:-/var/tmp/usock-vm}
mirror=${USOCK_VM_MIRROR:-http://deb.debian.org/debian}
timeout_s=${USOCK_VM_TIMEOUT:-2400}
# abi and man check files on the host's disk, not the kernel's behaviour,
# and need a compiler and tools the guest does not have.
test_args=${USOCK_VM_TEST_ARGS:---no-suite abi --no-suite man}
root=$cache/root

[ -f "$builddir/meson-private/coredata.dat" ] ||
	{ echo "$builddir is no meson build directory" >&2; exit 2; }
srcdir=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["directories"]["source"])' \
	"$builddir/meson-info/meson-info.json")

for tool in qemu-system-x86_64 mkfs.ext4 debugfs timeout; do
	command -v "$tool" >/dev/null ||
		{ echo "missing $tool (see test/vm/README)" >&2; exit 2; }
done

mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9

# ---- the root (once) -------------------------------------------------------

# The guest's init: mounts what the tests use, the job disk and the trees at
# their host paths, then runs the job, whose exit status it leaves on the
# job disk. Powering off through sysrq needs no init system.
guest_init='#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sysfs /sys 2>/dev/null
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /mnt/job
mount -t ext4 /dev/vdb /mnt/job
for d in /mnt/job/tree/*; do
	mkdir -p "/${d##*/}"
	mount --bind "$d" "/${d##*/}"
done
echo "usock-vm: kernel $(uname -r), up $(cut -d" " -f1 /proc/uptime) s"
/bin/sh /mnt/job/job.sh
echo $? >/mnt/job/rc
sync
umount -l /mnt/job
echo o >/proc/sysrq-trigger
sleep 60
'

# The kernel package of VERSION that linux-image-amd64 of the suite names.
kernel_package() {
	chroot "$root" apt-cache show linux-image-amd64 |
		sed -n 's/^Depends: //p' |
		grep -oE "linux-image-${version//./\\.}\\.0-[0-9]+-amd64" |
		sort -uV | tail -n 1
}

if [ ! -f "$root/.usock-vm-ready" ]; then
	[ "$(id -u)" = 0 ] ||
		{ echo "making the root needs root (debootstrap)" >&2; exit 2; }
	command -v debootstrap >/dev/null ||
		{ echo "missing debootstrap (see test/vm/README)" >&2; exit 2; }
	echo "usock-vm: debootstrap bookworm into $root"
	rm -rf "$root"
	t0=$SECONDS
	# What the tests need at run time: meson to run them, python3 for
	# interop and meson, libsubunit0 (libcheck's runtime); and what a
	# kernel package needs to make its initrd.
	debootstrap --variant=minbase \
		--include=meson,python3,libsubunit0,initramfs-tools,kmod \
		bookworm "$root" "$mirror"
	echo "usock-vm: root made in $((SECONDS - t0)) s"
	touch "$root/.usock-vm-ready"
fi

# The kernel of VERSION, installed into the root the first time, with an
# initrd of just what mounts the root disk: the default (MODULES=most)
# takes a quarter of an hour in a chroot on a slow machine.
if ! ls "$root"/boot/vmlinuz-"$version".* >/dev/null 2>&1; then
	[ "$(id -u)" = 0 ] ||
		{ echo "installing a kernel needs root" >&2; exit 2; }
	echo MODULES=list >"$root/etc/initramfs-tools/conf.d/usock-vm"
	printf '%s\n' virtio_pci virtio_blk crc32c_generic ext4 \
		>"$root/etc/initramfs-tools/modules"
	echo "deb $mirror $suite main" \
		>"$root/etc/apt/sources.list.d/usock-$suite.list"
	mount -t proc proc "$root/proc"
	trap 'umount "$root/proc"' EXIT
	t0=$SECONDS
	chroot "$root" apt-get update -q
	pkg=$(kernel_package)
	[ -n "$pkg" ] || { echo "no $version kernel in $suite" >&2; exit 1; }
	chroot "$root" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "$pkg"
	chroot "$root" apt-get clean
	umount "$root/proc"
	trap - EXIT
	echo "usock-vm: $pkg installed in $((SECONDS - t0)) s"
fi
# An i386 build runs in the guest too (Debian's amd64 kernel runs 32-bit
# programs, which the CI machine's refuses): its runtime goes into the root
# once, when asked for (USOCK_VM_I386=1).
if [ "${USOCK_VM_I386:-0}" = 1 ] && [ ! -e "$root/.usock-vm-i386" ]; then
	[ "$(id -u)" = 0 ] ||
		{ echo "adding the i386 runtime needs root" >&2; exit 2; }
	mount -t proc proc "$root/proc"
	trap 'umount "$root/proc"' EXIT
	t0=$SECONDS
	chroot "$root" dpkg --add-architecture i386
	chroot "$root" apt-get update -q
	chroot "$root" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends \
		libc6:i386 libsubunit0:i386
	chroot "$root" apt-get clean
	umount "$root/proc"
	trap - EXIT
	touch "$root/.usock-vm-i386"
	echo "usock-vm: i386 runtime installed in $((SECONDS - t0)) s"
fi
# meson test reads the build directory's state only with the meson that
# wrote it: the guest's (bookworm's) must be the host's.
guest_meson=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Version}' meson)
build_meson=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["meson_version"]["full"])' \
	"$builddir/meson-info/meson-info.json")
[ "${guest_meson%%-*}" = "$build_meson" ] || {
	echo "$builddir was made by meson $build_meson, the guest has" \
		"$guest_meson (bookworm's): build with bookworm's meson" >&2
	exit 2
}
vmlinuz=$(ls "$root"/boot/vmlinuz-"$version".* | sort -V | tail -n 1)
initrd=$root/boot/initrd.img-${vmlinuz##*/vmlinuz-}
[ -r "$initrd" ] || { echo "no initrd $initrd" >&2; exit 1; }

# The root image, rebuilt when the root or the init changes.
stamp=$(printf '%s\n' "$guest_init" |
	cat - <(ls -ld --time-style=+%s "$root"/boot/* "$root"/.usock-vm-*) |
	sha256sum | cut -c1-16)
rootimg=$cache/root.img
if [ "$(cat "$cache/root.stamp" 2>/dev/null)" != "$stamp" ]; then
	printf '%s' "$guest_init" >"$root/usock-vm-init"
	chmod 755 "$root/usock-vm-init"
	rm -f "$rootimg"
	mkfs.ext4 -q -F -L usock-root -d "$root" "$rootimg" \
		"$(($(du -sm "$root" | cut -f1) * 5 / 4 + 256))M"
	echo "$stamp" >"$cache/root.stamp"
fi
exec 9>&-

# ---- the job disk (every run) ----------------------------------------------

work=$(mktemp -d "${TMPDIR:-/tmp}/usock-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/job/tree"
# The source without any build directory (they are big), then BUILDDIR.
mkdir -p "$work/job/tree$srcdir" "$work/job/tree$builddir"
tar -C "$srcdir" --exclude=./.git --exclude-tag-all=meson-private -cf - . |
	tar -C "$work/job/tree$srcdir" -xf -
tar -C "$builddir" -cf - . | tar -C "$work/job/tree$builddir" -xf -
# Paths are the host's; quote the build directory for the guest's shell.
# Through a pipe, meson prints a line per test instead of a progress bar;
# TCG is slow, hence the timeout multiplier (the arguments may override it).
{
	printf 'cd %q || exit 1\n' "$builddir"
	printf '{ meson test -C %q --no-rebuild --print-errorlogs -t 4 %s; ' \
		"$builddir" "$test_args"
	printf 'echo $? >/mnt/job/meson-rc; } 2>&1 | cat\n'
	printf 'exit "$(cat /mnt/job/meson-rc)"\n'
} >"$work/job/job.sh"
jobimg=$work/job.img
mkfs.ext4 -q -F -L usock-job -d "$work/job" "$jobimg" \
	"$(($(du -sm "$work/job" | cut -f1) + 512))M"

# ---- boot ------------------------------------------------------------------

echo "usock-vm: booting ${vmlinuz##*/} ($suite), timeout ${timeout_s} s"
t0=$(date +%s)
set +e
timeout -k 10 "$timeout_s" qemu-system-x86_64 \
	-accel tcg,thread=multi -cpu max -smp 2 -m 2048 \
	-nographic -no-reboot -nic none \
	-kernel "$vmlinuz" -initrd "$initrd" \
	-append "console=ttyS0 root=/dev/vda rw rootfstype=ext4 panic=-1 init=/usock-vm-init quiet" \
	-drive "file=$rootimg,format=raw,if=virtio,snapshot=on" \
	-drive "file=$jobimg,format=raw,if=virtio" \
	</dev/null 2>&1 | tee "$work/console.log"
qemu_rc=${PIPESTATUS[0]}
set -e
echo "usock-vm: qemu exited ($qemu_rc) after $(($(date +%s) - t0)) s"

rc=$(debugfs -R 'cat /rc' "$jobimg" 2>/dev/null | tr -dc 0-9)
log=$builddir/meson-logs/vm-$version-testlog.txt
debugfs -R "dump -p /tree$builddir/meson-logs/testlog.txt $log" \
	"$jobimg" >/dev/null 2>&1 || true
if [ -z "$rc" ]; then
	echo "usock-vm: FAIL: the guest wrote no result (no boot, or timeout)" >&2
	exit 1
fi
echo "usock-vm: Linux $version: meson test exited $rc; log in $log"
exit "$rc"
