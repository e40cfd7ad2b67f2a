// SPDX-License-Identifier: LGPL-2.1-or-later

package edera

// #include "shim.h"
import "C"

import "context"

// HostInfo is what the hypervisor reports about the host.
type HostInfo struct {
	XenMajor, XenMinor uint32
	XenExtra           string // e.g. ".7"
	TotalMemoryKiB     uint64 // RAM Xen manages
	FreeMemoryKiB      uint64 // not given to any domain
	CPUs               uint32 // physical CPUs online
	Nodes              uint32 // NUMA nodes online
	CPUKHz             uint32
	ThreadsPerCore     uint32
	CoresPerSocket     uint32
}

// HostInfo asks the hypervisor about the host (on the library's
// threadpool).
func (c *Context) HostInfo(goctx context.Context) (HostInfo, error) {
	p := newPending("HostInfo")
	r, err := c.start(goctx, p, func(h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_host_info(c.ctx, h, e)
	})
	return r.host, err
}

//export goHostInfo
func goHostInfo(h C.uintptr_t, status C.int, msg *C.char, info *C.edera_host_info) {
	p := takePending(h)
	r := result{err: cbErr(p.op, status, msg)}
	if status >= 0 {
		r.host = HostInfo{XenMajor: uint32(info.xen_major), XenMinor: uint32(info.xen_minor),
			XenExtra:       C.GoString(&info.xen_extra[0]),
			TotalMemoryKiB: uint64(info.total_memory_kib), FreeMemoryKiB: uint64(info.free_memory_kib),
			CPUs: uint32(info.nr_cpus), Nodes: uint32(info.nr_nodes), CPUKHz: uint32(info.cpu_khz),
			ThreadsPerCore: uint32(info.threads_per_core), CoresPerSocket: uint32(info.cores_per_socket)}
	}
	p.complete(r)
}

// XenStoreStats are the context's XenStore client counters.
type XenStoreStats struct {
	Requests       uint64 // sent since the context opened
	WatchEvents    uint64 // received
	ProtocolErrors uint64 // replies and events that could not be used
	Pending        uint32 // requests waiting for their reply now
	Watches        uint32 // registered now
	Connected      bool
}

// XenStoreStats gives the context's XenStore client counters.
func (c *Context) XenStoreStats(goctx context.Context) (XenStoreStats, error) {
	var s XenStoreStats
	err := c.do(goctx, func() error {
		var st C.edera_xs_stats
		if C.edgo_xs_stats(c.ctx, &st, c.loopErr()) < 0 {
			return errOf("XenStoreStats", c.loopErr())
		}
		s = XenStoreStats{Requests: uint64(st.requests), WatchEvents: uint64(st.watch_events),
			ProtocolErrors: uint64(st.protocol_errors), Pending: uint32(st.pending),
			Watches: uint32(st.watches), Connected: C.edera_xs_connected(c.ctx) != 0}
		return nil
	})
	return s, err
}

// Reconnect connects to xenstored again after the connection was lost (or
// drops and remakes it): requests of the old connection fail with
// ErrConnReset, watches are registered again.
func (c *Context) Reconnect(goctx context.Context) error {
	return c.do(goctx, func() error {
		if C.edgo_xs_reconnect(c.ctx, c.loopErr()) < 0 {
			return errOf("Reconnect", c.loopErr())
		}
		return nil
	})
}

// Version is the library's version ("0.1.0").
func Version() string { return C.GoString(C.edera_version()) }

// VersionNumber is the library's version as a number (0x000100 for 0.1.0).
func VersionNumber() uint { return uint(C.edera_version_number()) }
