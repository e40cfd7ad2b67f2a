// SPDX-License-Identifier: LGPL-2.1-or-later

package edera_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"libedera.dev/edera"
)

// Open fails with ErrNoXen outside Xen's control domain.
func ExampleOpen() {
	ctx, err := edera.Open(edera.Options{})
	if errors.Is(err, edera.ErrNoXen) {
		fmt.Println("not in dom0")
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ctx.Close()
	fmt.Println("in dom0")
}

// Errors match the package's sentinels and the errno they stand for.
func ExampleError() {
	err := error(edera.ErrNotFound)
	fmt.Println(errors.Is(err, edera.ErrNotFound), errors.Is(err, syscall.ENOENT),
		errors.Is(err, edera.ErrExists))
	// Output: true true false
}

// Validate says what is wrong with a configuration before any work.
func ExampleZoneConfig_Validate() {
	cfg := edera.ZoneConfig{Name: "web-1", Kernel: "/boot/vmlinuz", MemoryMiB: 512, MaxMemoryMiB: 256}
	err := cfg.Validate()
	fmt.Println(errors.Is(err, edera.ErrInvalid))
	fmt.Println(err)
	// Output:
	// true
	// edera: ZoneConfig: MaxMemoryMiB 256 is below MemoryMiB 512 (EDERA_EINVAL)
}

// A zone from creation to its end, with its console on stdout.
func ExampleContext_CreateZone() {
	ctx, err := edera.Open(edera.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer ctx.Close()
	goctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	z, err := ctx.CreateZone(goctx, edera.ZoneConfig{Name: "web-1", Kernel: "/boot/vmlinuz",
		Initrd: "web.cpio.gz", Cmdline: "console=hvc0", MemoryMiB: 256,
		NICs: []edera.NIC{{Bridge: "br0"}}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	go io.Copy(os.Stdout, z.Console())
	if _, err := z.SetMemory(goctx, 128); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	reason, err := z.Shutdown(goctx, edera.PowerOffMode)
	if errors.Is(err, edera.ErrTimedOut) {
		err = z.Destroy(context.Background())
	} else if err == nil {
		fmt.Fprintln(os.Stderr, "stopped:", reason)
		err = z.Destroy(goctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}

// A transaction that increments a counter node, retried on conflict.
func ExampleContext_Transaction() {
	ctx, err := edera.Open(edera.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer ctx.Close()
	goctx := context.Background()
	err = ctx.Transaction(goctx, func(tx *edera.Txn) error {
		v, err := tx.Read(goctx, "/local/domain/0/counter")
		if err != nil && !errors.Is(err, edera.ErrNotFound) {
			return err
		}
		var n int
		fmt.Sscan(string(v), &n)
		return tx.Write(goctx, "/local/domain/0/counter", []byte(fmt.Sprint(n+1)))
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}

// Watches deliver events on a channel.
func ExampleContext_Watch() {
	ctx, err := edera.Open(edera.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer ctx.Close()
	w, err := ctx.Watch(context.Background(), "@releaseDomain")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer w.Close()
	for ev := range w.Events() {
		fmt.Println("a domain went away:", ev.Path)
	}
}

// A container image run in a zone: its output streamed, its exit code
// returned (the zone powers off when the process ends, then is destroyed).
func ExampleContext_RunWorkload() {
	ctx, err := edera.Open(edera.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer ctx.Close()
	goctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	w, err := ctx.RunWorkload(goctx, edera.WorkloadConfig{Name: "hello",
		Image:   "busybox-oci", // skopeo copy docker://busybox oci:busybox-oci:latest
		Process: edera.ProcessConfig{Args: []string{"/bin/sh", "-c", "echo hello; exit 3"}}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	go io.Copy(os.Stderr, w.Process().Stderr())
	io.Copy(os.Stdout, w.Process().Stdout()) // until the process ends
	st, err := w.Process().Wait(goctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		fmt.Fprintln(os.Stderr, "exit status", st.ExitCode())
	}
	if err := w.Zone().Destroy(goctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}
