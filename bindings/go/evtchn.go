// SPDX-License-Identifier: LGPL-2.1-or-later

package edera

// #include "shim.h"
import "C"

import (
	"context"
	"runtime/cgo"
	"sync"
)

// EventChannel is an event channel between dom0 and a zone: notifications
// from the zone arrive on Notifications (coalesced: one pending at most),
// Notify signals the zone.  Close it when done; it ends with its zone's
// handle anyway (then Notify returns ErrNotConnected or ErrGone).
type EventChannel struct {
	z     *Zone
	ch    *C.edera_evtchn // loop goroutine only; nil once closed
	h     cgo.Handle
	port  uint32
	notes chan struct{}
	once  sync.Once
}

// Port is dom0's port of the channel (the zone binds to it).
func (ch *EventChannel) Port() uint32 { return ch.port }

// Notifications receives a value when the zone has notified (several
// notifications before it is read count as one).  It is closed when the
// channel is closed or its zone's handle freed.
func (ch *EventChannel) Notifications() <-chan struct{} { return ch.notes }

func (z *Zone) evtchn(goctx context.Context, op string, call func(cz *C.edera_zone, h C.uintptr_t, out **C.edera_evtchn, e *C.edgo_err) C.int) (*EventChannel, error) {
	ch := &EventChannel{z: z, notes: make(chan struct{}, 1)}
	err := z.onLoop(goctx, func(cz *C.edera_zone) error {
		e := z.c.loopErr()
		ch.h = newHandle(ch)
		var out *C.edera_evtchn // (not &ch.ch: cgo checks the whole of *ch)
		if call(cz, C.uintptr_t(ch.h), &out, e) < 0 {
			deleteHandle(ch.h)
			return errOf(op, e)
		}
		ch.ch = out
		ch.port = uint32(C.edera_evtchn_port(ch.ch))
		if C.edera_evtchn_zone(ch.ch) != cz {
			panic("edera: an event channel of another zone")
		}
		if z.evtchns == nil {
			z.evtchns = map[*EventChannel]struct{}{}
		}
		z.evtchns[ch] = struct{}{}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// AllocEventChannel makes a new event channel the zone may bind (to Port).
func (z *Zone) AllocEventChannel(goctx context.Context) (*EventChannel, error) {
	return z.evtchn(goctx, "AllocEventChannel", func(cz *C.edera_zone, h C.uintptr_t, out **C.edera_evtchn, e *C.edgo_err) C.int {
		return C.edgo_evtchn_alloc(cz, h, out, e)
	})
}

// BindEventChannel binds to REMOTEPORT, a channel the zone allocated
// unbound for dom0.  Xen marks the new port pending as it binds it, so one
// notification arrives soon after, whether or not the zone notified.
func (z *Zone) BindEventChannel(goctx context.Context, remotePort uint32) (*EventChannel, error) {
	return z.evtchn(goctx, "BindEventChannel", func(cz *C.edera_zone, h C.uintptr_t, out **C.edera_evtchn, e *C.edgo_err) C.int {
		return C.edgo_evtchn_bind(cz, C.uint32_t(remotePort), h, out, e)
	})
}

//export goEvtchn
func goEvtchn(h C.uintptr_t) {
	ch := cgo.Handle(h).Value().(*EventChannel)
	select {
	case ch.notes <- struct{}{}:
	default:
	}
}

// Notify signals the zone.
func (ch *EventChannel) Notify() error {
	return ch.z.onLoop(context.Background(), func(*C.edera_zone) error {
		if ch.ch == nil {
			return ErrClosed
		}
		if C.edgo_evtchn_notify(ch.ch, ch.z.c.loopErr()) < 0 {
			return errOf("Notify", ch.z.c.loopErr())
		}
		return nil
	})
}

// release: the C channel is gone (Close, or its zone freed) (loop
// goroutine).
func (ch *EventChannel) release() {
	if ch.ch == nil {
		return
	}
	ch.ch = nil
	deleteHandle(ch.h)
	ch.once.Do(func() { close(ch.notes) })
}

// Close unbinds the channel and closes Notifications.  Calling it again
// does nothing.
func (ch *EventChannel) Close() error {
	err := ch.z.onLoop(context.Background(), func(*C.edera_zone) error {
		if ch.ch != nil {
			C.edera_evtchn_close(ch.ch)
			delete(ch.z.evtchns, ch)
			ch.release()
		}
		return nil
	})
	if err == ErrClosed || err == ErrGone {
		return nil
	}
	return err
}
