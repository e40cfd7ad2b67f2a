// SPDX-License-Identifier: LGPL-2.1-or-later

package edera

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"context"
	"runtime/cgo"
	"strings"
	"sync"
	"unsafe"
)

// ChannelFrameMax is the longest frame payload, either way.
const ChannelFrameMax = C.EDERA_CHANNEL_FRAME_MAX

// ChannelConfig describes a channel to open (see OpenChannel).
type ChannelConfig struct {
	Name       string // 1 to 32 of a-z, 0-9, '-': the XenStore key the zone finds it by
	RingPages  uint32 // each way, a power of two up to 64 (0: 4)
	QueueKiB   uint32 // the library's send queue (0: 1024)
	BufferSize int    // frames' bytes held for Receive before the zone is made to wait (0: 1 MiB)
}

// Frame is a message of a channel.
type Frame struct {
	Type    uint32
	Payload []byte
}

// Channel is a framed message channel with a program in a zone (the
// library's rings in pages shared with it; edera/channel.h says the
// protocol the zone's side speaks).  Receive takes the zone's frames in
// order; when more than BufferSize bytes wait, the library stops taking
// them and the zone's writes wait (back-pressure).  Send waits while the
// library's queue is full.
type Channel struct {
	z   *Zone
	ch  *C.edera_channel // loop goroutine only; nil once released
	h   cgo.Handle
	max int

	mu       sync.Mutex
	frames   []Frame
	bytes    int
	held     bool
	err      error // why it ended
	ready    chan struct{}
	writable chan struct{}
	once     sync.Once
	done     chan struct{} // closed when it ends
}

// OpenChannel opens a channel to the running zone and publishes it in
// XenStore (data/edera-channel/NAME) for the zone's program.  Errors:
// ErrInvalid (bad config), ErrExists (a channel of that name is open).
func (z *Zone) OpenChannel(goctx context.Context, cfg ChannelConfig) (*Channel, error) {
	if cfg.Name == "" || strings.ContainsRune(cfg.Name, 0) {
		return nil, invalid("OpenChannel", "the channel needs a name (1 to 32 of a-z, 0-9, '-')")
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = 1 << 20
	}
	ch := &Channel{z: z, max: cfg.BufferSize, ready: make(chan struct{}, 1),
		writable: make(chan struct{}, 1), done: make(chan struct{})}
	name := cstr(cfg.Name)
	defer free(name)
	err := z.onLoop(goctx, func(cz *C.edera_zone) error {
		e := z.c.loopErr()
		ch.h = newHandle(ch)
		var out *C.edera_channel // (not &ch.ch: cgo checks the whole of *ch)
		if C.edgo_channel_open(cz, name, C.uint32_t(cfg.RingPages), C.uint32_t(cfg.QueueKiB),
			C.uintptr_t(ch.h), &out, e) < 0 {
			deleteHandle(ch.h)
			return errOf("OpenChannel", e)
		}
		ch.ch = out
		if z.chans == nil {
			z.chans = map[*Channel]struct{}{}
		}
		z.chans[ch] = struct{}{}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ch, nil
}

//export goChanFrame
func goChanFrame(h C.uintptr_t, typ C.uint32_t, p unsafe.Pointer, n C.size_t) {
	ch := cgo.Handle(h).Value().(*Channel)
	f := Frame{Type: uint32(typ), Payload: C.GoBytes(p, C.int(n))}
	ch.mu.Lock()
	ch.frames = append(ch.frames, f)
	ch.bytes += len(f.Payload) + 8
	hold := ch.bytes > ch.max && !ch.held
	if hold {
		ch.held = true
	}
	ch.mu.Unlock()
	if hold {
		C.edera_channel_hold(ch.ch, 1)
	}
	signal(ch.ready)
}

//export goChanEnd
func goChanEnd(h C.uintptr_t, status C.int, msg *C.char) {
	ch := cgo.Handle(h).Value().(*Channel)
	ch.end(cbErr("Channel", status, msg))
}

//export goChanWritable
func goChanWritable(h C.uintptr_t) {
	signal(cgo.Handle(h).Value().(*Channel).writable)
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (ch *Channel) end(err error) {
	ch.mu.Lock()
	if ch.err == nil {
		ch.err = err
	}
	ch.mu.Unlock()
	ch.once.Do(func() { close(ch.done) })
	signal(ch.ready)
}

// release: the C channel is gone (Close, or its zone's handle freed)
// (loop goroutine).
func (ch *Channel) release() {
	if ch.ch == nil {
		return
	}
	ch.ch = nil
	deleteHandle(ch.h)
	ch.end(ErrClosed)
}

// Receive returns the next frame from the zone, waiting for one; once the
// channel ended and every frame was read, the reason: ErrNotConnected (the
// zone stopped), ErrProtocol (it broke the protocol), ErrClosed.
func (ch *Channel) Receive(goctx context.Context) (Frame, error) {
	for {
		ch.mu.Lock()
		if len(ch.frames) > 0 {
			f := ch.frames[0]
			ch.frames[0] = Frame{}
			ch.frames = ch.frames[1:]
			ch.bytes -= len(f.Payload) + 8
			resume := ch.held && ch.bytes <= ch.max/2
			if resume {
				ch.held = false
			}
			more := len(ch.frames) > 0 || ch.err != nil
			ch.mu.Unlock()
			if resume {
				_ = ch.z.onLoop(context.Background(), func(*C.edera_zone) error {
					if ch.ch != nil {
						C.edera_channel_hold(ch.ch, 0)
					}
					return nil
				})
			}
			if more {
				signal(ch.ready)
			}
			return f, nil
		}
		err := ch.err
		ch.mu.Unlock()
		if err != nil {
			signal(ch.ready)
			return Frame{}, err
		}
		select {
		case <-ch.ready:
		case <-goctx.Done():
			return Frame{}, ctxErr("Channel.Receive", goctx)
		}
	}
}

// Send sends a frame (at most ChannelFrameMax bytes), waiting while the
// library's queue is full.
func (ch *Channel) Send(goctx context.Context, typ uint32, payload []byte) error {
	if len(payload) > ChannelFrameMax {
		return invalid("Channel.Send", "a frame of %d bytes (at most %d)", len(payload), ChannelFrameMax)
	}
	for {
		full := false
		err := ch.z.onLoop(goctx, func(*C.edera_zone) error {
			if ch.ch == nil {
				return ErrClosed
			}
			var p unsafe.Pointer
			if len(payload) > 0 {
				p = unsafe.Pointer(&payload[0])
			}
			rc := C.edgo_channel_send(ch.ch, C.uint32_t(typ), p, C.size_t(len(payload)), ch.z.c.loopErr())
			if rc == C.EDERA_EAGAIN {
				full = true
				return nil
			}
			if rc < 0 {
				return errOf("Channel.Send", ch.z.c.loopErr())
			}
			return nil
		})
		if err != nil || !full {
			return err
		}
		select {
		case <-ch.writable:
		case <-ch.done:
		case <-goctx.Done():
			return ctxErr("Channel.Send", goctx)
		}
	}
}

// Done is closed when the channel ends (Receive then returns the frames
// left, then why).
func (ch *Channel) Done() <-chan struct{} { return ch.done }

// Close revokes the channel's pages, unbinds it and removes its XenStore
// node.  Calling it again does nothing.
func (ch *Channel) Close() error {
	err := ch.z.onLoop(context.Background(), func(*C.edera_zone) error {
		if ch.ch != nil {
			C.edera_channel_close(ch.ch)
			delete(ch.z.chans, ch)
			ch.release()
		}
		return nil
	})
	if err == ErrClosed || err == ErrGone {
		return nil
	}
	return err
}

// ChannelStats are a channel's counters.
type ChannelStats struct {
	FramesIn, BytesIn   uint64 // taken from the zone
	FramesOut, BytesOut uint64 // sent
	Queued              uint32 // bytes waiting to go into the ring
	Errors              uint32 // protocol errors
}

// Stats gives the channel's counters.
func (ch *Channel) Stats(goctx context.Context) (ChannelStats, error) {
	var s ChannelStats
	err := ch.z.onLoop(goctx, func(*C.edera_zone) error {
		if ch.ch == nil {
			return ErrClosed
		}
		var st C.edera_channel_stats
		if C.edgo_channel_stats(ch.ch, &st, ch.z.c.loopErr()) < 0 {
			return errOf("Channel.Stats", ch.z.c.loopErr())
		}
		s = ChannelStats{FramesIn: uint64(st.frames_in), BytesIn: uint64(st.bytes_in),
			FramesOut: uint64(st.frames_out), BytesOut: uint64(st.bytes_out),
			Queued: uint32(st.queued), Errors: uint32(st.errors)}
		return nil
	})
	return s, err
}
