// SPDX-License-Identifier: LGPL-2.1-or-later

/*
Package edera runs isolation zones — Xen PV domains, each with its own
kernel — from Go, over libedera (the C library) with cgo.

	ctx, err := edera.Open(edera.Options{})
	if err != nil { ... }  // errors.Is(err, edera.ErrNoXen) outside dom0
	defer ctx.Close()
	z, err := ctx.CreateZone(goctx, edera.ZoneConfig{Name: "web-1",
		Kernel: "/boot/vmlinuz", Initrd: "web.cpio.gz", Cmdline: "console=hvc0",
		MemoryMiB: 256, NICs: []edera.NIC{{Bridge: "br0"}}})
	go io.Copy(os.Stdout, z.Console())
	reached, err := z.SetMemory(goctx, 128)
	reason, err := z.Shutdown(goctx, edera.PowerOffMode) // or <-z.Exited()
	if errors.Is(err, edera.ErrTimedOut) { z.Destroy(goctx) }

Container images run with RunWorkload (the image converted once and
cached, a zone booted with the zone's init, the process started):

	w, err := ctx.RunWorkload(goctx, edera.WorkloadConfig{Name: "job-1",
		Image: "busybox-oci", Process: edera.ProcessConfig{Args: []string{"sh", "-c", "echo hi"}}})
	go io.Copy(os.Stdout, w.Process().Stdout())
	st, err := w.Process().Wait(goctx) // st.ExitCode(): 128 + signal when killed
	w.Zone().Destroy(goctx)

# Threads

A Context runs the library's event loop on a goroutine of its own, locked
to one OS thread.  Every method hands its work to that goroutine (a queue
and a libuv async wake-up) and waits for the result on a channel, so all
methods are safe for concurrent use from any number of goroutines, and
none runs the loop on the caller's thread.  The library's per-thread last
error is copied in the same C call that failed.

# Waiting and cancellation

Every method that waits takes a context.Context.  Cancelling it ends the
wait with ctx.Err(); at its deadline the error is an *Error that matches
both ErrTimedOut and context.DeadlineExceeded (the library's own timeouts,
which a deadline sets, come back the same way).  The library cannot stop
an operation once started, so a cancelled wait detaches it: it completes
in the library and is undone where it would leave something behind — a
cancelled CreateZone destroys the zone it made (no domain is left), a
cancelled AttachDisk or AttachNIC detaches the device.  Shutdown, SetMemory
and SetVCPUs requests stay with the guest; Destroy, Detach and Reattach go
on to their end.

# Errors

Failures are *Error values: the library's code and its message (what was
wrong, what to do).  errors.Is matches them against the sentinels
(ErrNotFound, ErrExists, ErrBusy, ErrTimedOut, ErrNoXen, ...) and, through
Unwrap, against the matching syscall.Errno.

# Handles

Zones, devices, console readers, watches, shared pages and event channels
are handles of their Context.  A Zone is usable until Destroy completes or
the Context closes (its methods then return ErrGone or ErrClosed); the zone
itself outlives the Context and another one takes it over with Reattach.
The library's callbacks reach Go through runtime/cgo handles (C never holds
a Go pointer), each deleted exactly once; HandleCount counts them.

# Untrusted guests

Everything a guest sends is bounded: a console reader keeps at most its
buffer (dropping the oldest output, counted), a workload's output at most
OutputBuffer (then the zone's writes wait: nothing is dropped), a watch at most WatchBuffer
events, an event channel one pending notification.  A Share's Bytes stays
mapped when its zone stops (private zeroed pages take the zone's place)
until Close, the zone's Destroy or the Context's Close, so a guest cannot
pull memory from under
a goroutine.
*/
package edera
