// SPDX-License-Identifier: LGPL-2.1-or-later

package edera

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"context"
	"fmt"
	"strings"
	"unsafe"
)

// DeviceKind says what a Device is.
type DeviceKind int

// Device kinds.
const (
	DiskDevice DeviceKind = C.EDERA_DEVICE_DISK
	NICDevice  DeviceKind = C.EDERA_DEVICE_NIC
)

func (k DeviceKind) String() string {
	switch k {
	case DiskDevice:
		return "disk"
	case NICDevice:
		return "nic"
	}
	return fmt.Sprintf("DeviceKind(%d)", int(k))
}

// Device is a disk or network interface of a zone.  Its handle stays
// usable until Detach completes or its zone's handle is freed; when the
// zone stops on its own the device goes with it (Detach then returns
// ErrNotConnected) and its fields still say what it was.
type Device struct {
	c    *Context
	zone *Zone
	dev  *C.edera_device // loop goroutine only; nil once freed

	kind     DeviceKind
	id       uint32
	hostName string
	mac      string
}

// Kind is DiskDevice or NICDevice.
func (d *Device) Kind() DeviceKind { return d.kind }

// ID is the XenBus device id (a disk's virtual-device number, a NIC's
// handle).
func (d *Device) ID() uint32 { return d.id }

// HostName is the host side: "/dev/loop3" (or the block device given) for
// a disk, "vif5.0" for a NIC.
func (d *Device) HostName() string { return d.hostName }

// MAC is a NIC's MAC address ("" for a disk).
func (d *Device) MAC() string { return d.mac }

// Zone is the device's zone.
func (d *Device) Zone() *Zone { return d.zone }

func (d *Device) String() string {
	return fmt.Sprintf("%s %d of %s (%s)", d.kind, d.id, d.zone.nameNow(), d.hostName)
}

func (c *Context) wrapDevice(z *Zone, cd *C.edera_device) *Device {
	if d, ok := c.devices[cd]; ok {
		return d
	}
	d := &Device{c: c, zone: z, dev: cd, kind: DeviceKind(C.edera_device_kind(cd)),
		id: uint32(C.edera_device_id(cd)), hostName: C.GoString(C.edera_device_host_name(cd))}
	if m := C.edera_device_mac(cd); m != nil {
		d.mac = C.GoString(m)
	}
	c.devices[cd] = d
	return d
}

func (z *Zone) attach(goctx context.Context, op string,
	call func(cz *C.edera_zone, ms C.uint, h C.uintptr_t, e *C.edgo_err) C.int) (*Device, error) {
	p := newPending(op)
	p.z = z
	p.cleanup = func(r *result) {
		if r.dev != nil && r.dev.dev != nil {
			cd := r.dev.dev
			delete(z.c.devices, cd)
			r.dev.dev = nil
			C.edgo_device_detach_quiet(cd)
		}
	}
	ms := timeoutMs(goctx, 0)
	r, err := z.startOn(goctx, p, func(cz *C.edera_zone, h C.uintptr_t, e *C.edgo_err) C.int {
		return call(cz, ms, h, e)
	})
	return r.dev, byDeadline(goctx, err)
}

// AttachDisk attaches a disk to the running zone and waits until the
// guest's driver has connected it (by GOCTX's deadline, else within 30 s:
// then ErrTimedOut, and nothing of it is left).  Cancelling GOCTX ends the
// wait; the attach completes and the disk is detached again.  Errors at
// once: ErrInvalid (bad config: what and why), ErrNotFound (no such image),
// ErrBusy (image attached read-write elsewhere), ErrExists (VDev in use),
// ErrNoDevice (no free loop device).
func (z *Zone) AttachDisk(goctx context.Context, disk Disk) (*Device, error) {
	if disk.Path == "" || disk.VDev == "" {
		return nil, invalid("AttachDisk", "Disk.Path and Disk.VDev are required")
	}
	if strings.ContainsRune(disk.Path+disk.VDev, 0) {
		return nil, invalid("AttachDisk", "Disk.Path or Disk.VDev holds a NUL byte")
	}
	path, vdev := cstr(disk.Path), cstr(disk.VDev)
	defer free(path)
	defer free(vdev)
	ro := C.int(0)
	if disk.ReadOnly {
		ro = 1
	}
	return z.attach(goctx, "AttachDisk", func(cz *C.edera_zone, ms C.uint, h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_attach_disk(cz, path, vdev, ro, ms, h, e)
	})
}

// AttachNIC attaches a network interface (as AttachDisk).  Errors at once:
// ErrInvalid, ErrNotFound (no such bridge).
func (z *Zone) AttachNIC(goctx context.Context, nic NIC) (*Device, error) {
	if nic.Bridge == "" {
		return nil, invalid("AttachNIC", "NIC.Bridge is required")
	}
	if strings.ContainsRune(nic.Bridge+nic.MAC, 0) {
		return nil, invalid("AttachNIC", "NIC.Bridge or NIC.MAC holds a NUL byte")
	}
	br := cstr(nic.Bridge)
	defer free(br)
	var mac *C.char
	if nic.MAC != "" {
		mac = cstr(nic.MAC)
		defer free(mac)
	}
	return z.attach(goctx, "AttachNIC", func(cz *C.edera_zone, ms C.uint, h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_attach_nic(cz, br, mac, C.uint32_t(nic.MTU), ms, h, e)
	})
}

//export goDevice
func goDevice(h C.uintptr_t, status C.int, msg *C.char, cd *C.edera_device) {
	p := takePending(h)
	r := result{err: cbErr(p.op, status, msg)}
	if status >= 0 && cd != nil {
		r.dev = p.c.wrapDevice(p.z, cd)
	}
	p.complete(r)
}

// Devices lists the zone's devices.
func (z *Zone) Devices(goctx context.Context) ([]*Device, error) {
	var ds []*Device
	err := z.onLoop(goctx, func(cz *C.edera_zone) error {
		for cd := C.edera_device_next(cz, nil); cd != nil; cd = C.edera_device_next(cz, cd) {
			ds = append(ds, z.c.wrapDevice(z, cd))
		}
		return nil
	})
	return ds, err
}

// Detach asks the guest to let the device go, waits for it (by GOCTX's
// deadline, else 10 s; a guest that does not answer is detached anyway
// then — with a deadline the error is then ErrTimedOut, though the device
// is gone), removes both ends and releases the host side.  Errors: ErrBusy
// (still attaching, or already detaching), ErrNotConnected (the zone
// stopped: the device went with it), ErrGone.
func (d *Device) Detach(goctx context.Context) error {
	p := newPending("Detach")
	p.always = func(r *result) {
		if r.cb && d.dev != nil {
			// freed right after the callback, whatever its status
			delete(d.c.devices, d.dev)
			d.dev = nil
		}
	}
	ms := timeoutMs(goctx, 0)
	_, err := d.c.start(goctx, p, func(h C.uintptr_t, e *C.edgo_err) C.int {
		if d.dev == nil {
			return rcGone
		}
		return C.edgo_device_detach(d.dev, ms, h, e)
	})
	return byDeadline(goctx, err)
}

// ---- shared pages and event channels ---------------------------------------

// PageSize is the size of a shared page.
const PageSize = C.EDERA_PAGE_SIZE

// MaxSharePages is the most pages one share or mapping may hold.
const MaxSharePages = C.EDERA_SHARE_MAX_PAGES

// Share is memory shared with a zone: pages of the host granted to it
// (Zone.SharePages) or pages it granted to dom0 (Zone.MapPages).
type Share struct {
	z     *Zone
	s     *C.edera_share // loop goroutine only; nil once released
	bytes []byte
	refs  []uint32
}

// Bytes is the shared memory.  It stays valid until Close, or until the
// zone's handle is freed (Destroy completed, or the Context closed): when
// the zone stops on its own, the library puts private zeroed pages in its
// place, so a goroutine still using it does not fault.
func (s *Share) Bytes() []byte { return s.bytes }

// Refs are the grant references: the host's own (SharePages; give them to
// the zone) or the zone's (MapPages).
func (s *Share) Refs() []uint32 { return s.refs }

func (z *Zone) share(goctx context.Context, op string, call func(cz *C.edera_zone, out **C.edera_share, e *C.edgo_err) C.int) (*Share, error) {
	s := &Share{z: z}
	err := z.onLoop(goctx, func(cz *C.edera_zone) error {
		e := z.c.loopErr()
		var out *C.edera_share // (not &s.s: cgo checks the whole of *s)
		if call(cz, &out, e) < 0 {
			return errOf(op, e)
		}
		s.s = out
		n := int(C.edera_share_pages_count(s.s))
		s.bytes = unsafe.Slice((*byte)(C.edera_share_addr(s.s)), n*PageSize)
		refs := unsafe.Slice(C.edera_share_refs(s.s), n)
		s.refs = make([]uint32, n)
		for i, r := range refs {
			s.refs[i] = uint32(r)
		}
		if C.edera_share_zone(s.s) != cz {
			panic("edera: a share of another zone")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// SharePages shares N fresh zeroed host pages with the zone (writable by
// it unless readOnly).  Errors: ErrInvalid (N is 0 or above MaxSharePages,
// no running zone), ErrNoDevice (module xen-gntalloc not loaded), ErrNoSpace
// (dom0's gntalloc limit).
func (z *Zone) SharePages(goctx context.Context, n int, readOnly bool) (*Share, error) {
	if n <= 0 || n > MaxSharePages {
		return nil, invalid("SharePages", "%d pages: share 1 to %d", n, MaxSharePages)
	}
	flags := C.int(0)
	if readOnly {
		flags = C.EDERA_SHARE_READONLY
	}
	return z.share(goctx, "SharePages", func(cz *C.edera_zone, out **C.edera_share, e *C.edgo_err) C.int {
		return C.edgo_share_pages(cz, C.size_t(n), flags, out, e)
	})
}

// MapPages maps the pages the zone granted to dom0 by REFS, contiguously.
// Errors: ErrInvalid, ErrAccess (a reference not granted to dom0, or
// read-only when a writable mapping was asked).
func (z *Zone) MapPages(goctx context.Context, refs []uint32, readOnly bool) (*Share, error) {
	if len(refs) == 0 || len(refs) > MaxSharePages {
		return nil, invalid("MapPages", "%d references: map 1 to %d", len(refs), MaxSharePages)
	}
	flags := C.int(0)
	if readOnly {
		flags = C.EDERA_SHARE_READONLY
	}
	crefs := (*[MaxSharePages]C.uint32_t)(C.calloc(C.size_t(len(refs)), 4))
	defer C.free(unsafe.Pointer(crefs))
	for i, r := range refs {
		crefs[i] = C.uint32_t(r)
	}
	return z.share(goctx, "MapPages", func(cz *C.edera_zone, out **C.edera_share, e *C.edgo_err) C.int {
		return C.edgo_share_map(cz, &crefs[0], C.size_t(len(refs)), flags, out, e)
	})
}

// Close unmaps (a mapping) or revokes and frees (a share) the pages; Bytes
// must not be used after.  Calling it again does nothing.
func (s *Share) Close() error {
	err := s.z.c.do(context.Background(), func() error {
		if s.s != nil && s.z.gen {
			C.edera_share_release(s.s)
		}
		s.s = nil
		return nil
	})
	if err == ErrClosed {
		return nil
	}
	return err
}
