// SPDX-License-Identifier: LGPL-2.1-or-later

package edera

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"context"
	"io"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// ConsoleBufferSize is how much output a Console reader holds for its
// reader by default.  The guest is never made to wait for a reader (the
// library reads its ring regardless): a reader that falls further behind
// loses the oldest output, counted by Dropped.
const ConsoleBufferSize = 1 << 20

// Console reads a zone's console output (io.Reader) and writes its input
// (io.Writer).  Each Console is its own reader: it sees the output from
// its creation on (after the history, with replay), independently of the
// others.  Read returns io.EOF once the zone has stopped (or its handle was
// freed: Destroy, Context.Close) and all its output
// was read.  Write blocks while the guest does not read its input
// (back-pressure); WriteContext bounds the wait.  Close ends the reader.
type Console struct {
	z *Zone

	sub *C.edera_console_sub // loop goroutine only
	h   cgo.Handle           // the output callback's; 0 once released

	mu      sync.Mutex
	buf     []byte
	max     int
	dropped uint64
	eof     bool
	err     error // why reading ended early (subscribe failed, closed)
	ready   chan struct{}
}

// Console opens a reader of the zone's output, starting with the history
// the library kept (see ZoneConfig.ConsoleHistoryKiB), and a writer of its
// input.  Errors (ErrNotSupported for a console left to xenconsoled, ...)
// come from the first Read.
func (z *Zone) Console() *Console {
	return z.OpenConsole(true, ConsoleBufferSize)
}

// OpenConsole is Console with the choice of replaying the history first
// and the reader's buffer size (in bytes, at least 4096).
func (z *Zone) OpenConsole(replay bool, bufferSize int) *Console {
	if bufferSize < 4096 {
		bufferSize = 4096
	}
	con := &Console{z: z, max: bufferSize, ready: make(chan struct{}, 1)}
	var flags C.uint
	if replay {
		flags = C.EDERA_CONSOLE_REPLAY
	}
	err := z.onLoop(context.Background(), func(cz *C.edera_zone) error {
		con.h = newHandle(con)
		// REPLAY calls the callback with the history before returning
		if C.edgo_console_subscribe(cz, flags, C.uintptr_t(con.h), &con.sub, z.c.loopErr()) < 0 {
			deleteHandle(con.h)
			con.h = 0
			return errOf("Console", z.c.loopErr())
		}
		z.readers[con] = struct{}{}
		if _, stopped := z.ExitReason(); stopped {
			con.end(nil)
		}
		return nil
	})
	if err != nil {
		con.mu.Lock()
		con.err = err
		con.mu.Unlock()
	}
	return con
}

//export goConsoleOutput
func goConsoleOutput(h C.uintptr_t, b *C.char, n C.size_t) {
	con := cgo.Handle(h).Value().(*Console)
	data := unsafe.Slice((*byte)(unsafe.Pointer(b)), int(n))
	con.mu.Lock()
	if len(data) >= con.max {
		con.dropped += uint64(len(con.buf) + len(data) - con.max)
		con.buf = append(con.buf[:0], data[len(data)-con.max:]...)
	} else {
		if over := len(con.buf) + len(data) - con.max; over > 0 {
			con.dropped += uint64(over)
			con.buf = append(con.buf[:0], con.buf[over:]...)
		}
		con.buf = append(con.buf, data...)
	}
	con.mu.Unlock()
	con.signal()
}

func (con *Console) signal() {
	select {
	case con.ready <- struct{}{}:
	default:
	}
}

// end: no more output will come (loop goroutine).
func (con *Console) end(err error) {
	con.mu.Lock()
	con.eof = true
	if err != nil && con.err == nil {
		con.err = err
	}
	con.mu.Unlock()
	con.signal()
}

// release: the subscription is gone (the zone freed, or Close) (loop
// goroutine).
func (con *Console) release() {
	if con.h != 0 {
		deleteHandle(con.h)
		con.h = 0
	}
	con.sub = nil
	con.end(nil)
}

// Read reads output; io.EOF once the zone has stopped and everything was
// read.
func (con *Console) Read(p []byte) (int, error) {
	return con.ReadContext(context.Background(), p)
}

// ReadContext is Read, giving up when GOCTX is done.
func (con *Console) ReadContext(goctx context.Context, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		con.mu.Lock()
		if len(con.buf) > 0 {
			n := copy(p, con.buf)
			con.buf = con.buf[n:]
			if len(con.buf) == 0 {
				con.buf = nil
			}
			more := len(con.buf) > 0 || con.eof || con.err != nil
			con.mu.Unlock()
			if more {
				con.signal() // for another goroutine reading too
			}
			return n, nil
		}
		eof, err := con.eof, con.err
		con.mu.Unlock()
		if eof || err != nil {
			con.signal() // every reader sees the end
		}
		if err != nil {
			return 0, err
		}
		if eof {
			return 0, io.EOF
		}
		select {
		case <-con.ready:
		case <-goctx.Done():
			return 0, ctxErr("Console.Read", goctx)
		}
	}
}

// Dropped is how many bytes of output this reader lost for being too far
// behind (more than its buffer size unread).
func (con *Console) Dropped() uint64 {
	con.mu.Lock()
	defer con.mu.Unlock()
	return con.dropped
}

// Close ends this reader (a Read waiting returns ErrClosed).  The zone's
// console goes on.
func (con *Console) Close() error {
	con.mu.Lock()
	if con.err == nil {
		con.err = ErrClosed
	}
	con.mu.Unlock()
	con.signal()
	err := con.z.c.do(context.Background(), func() error {
		if con.sub != nil {
			C.edera_console_unsubscribe(con.sub)
		}
		if con.z.readers != nil {
			delete(con.z.readers, con)
		}
		con.release()
		return nil
	})
	if err == ErrClosed {
		return nil // the context closed: everything ended with it
	}
	return err
}

// Write writes P to the zone's console input, waiting while the guest does
// not read it (the library queues at most 16 KiB).
func (con *Console) Write(p []byte) (int, error) {
	return con.z.WriteConsole(context.Background(), p)
}

// WriteContext is Write, giving up when GOCTX is done (returning how much
// was queued for the guest).
func (con *Console) WriteContext(goctx context.Context, p []byte) (int, error) {
	return con.z.WriteConsole(goctx, p)
}

// WriteConsole writes P to the zone's console input: what Console().Write
// does, without opening a reader.  ErrNotConnected once the zone stopped.
func (z *Zone) WriteConsole(goctx context.Context, p []byte) (int, error) {
	select {
	case z.wlock <- struct{}{}:
	case <-z.gone:
		return 0, ErrGone
	case <-z.c.done:
		return 0, ErrClosed
	case <-goctx.Done():
		return 0, ctxErr("WriteConsole", goctx)
	}
	defer func() { <-z.wlock }()
	done := 0
	for done < len(p) {
		var n C.long
		err := z.onLoop(goctx, func(cz *C.edera_zone) error {
			e := z.c.loopErr()
			if z.wh == 0 {
				z.wh = newHandle(z)
				if C.edgo_console_on_writable(cz, C.uintptr_t(z.wh), e) < 0 {
					deleteHandle(z.wh)
					z.wh = 0
					return errOf("WriteConsole", e)
				}
			}
			rest := p[done:]
			n = C.edgo_console_write(cz, unsafe.Pointer(&rest[0]), C.size_t(len(rest)), e)
			if n == C.EDERA_EAGAIN {
				n = 0
			} else if n < 0 {
				return errOf("WriteConsole", e)
			}
			return nil
		})
		if err != nil {
			return done, err
		}
		done += int(n)
		if done < len(p) {
			select {
			case <-z.writable:
			case <-z.exited:
			case <-z.gone: // the next write says ErrGone
			case <-z.c.done:
			case <-goctx.Done():
				return done, ctxErr("WriteConsole", goctx)
			}
		}
	}
	return done, nil
}

//export goConsoleWritable
func goConsoleWritable(h C.uintptr_t) {
	z := cgo.Handle(h).Value().(*Zone)
	select {
	case z.writable <- struct{}{}:
	default:
	}
}

// ConsoleHistory is the output the library kept (the newest, up to the
// zone's ConsoleHistoryKiB).
func (z *Zone) ConsoleHistory(goctx context.Context) ([]byte, error) {
	var out []byte
	err := z.onLoop(goctx, func(cz *C.edera_zone) error {
		e := z.c.loopErr()
		var st C.edera_console_stats
		if C.edgo_console_stats(cz, &st, e) < 0 {
			return errOf("ConsoleHistory", e)
		}
		if st.history_bytes == 0 {
			out = []byte{}
			return nil
		}
		buf := C.malloc(C.size_t(st.history_bytes))
		defer C.free(buf)
		n := C.edgo_console_history(cz, (*C.char)(buf), C.size_t(st.history_bytes), e)
		if n < 0 {
			return errOf("ConsoleHistory", e)
		}
		out = C.GoBytes(buf, C.int(n))
		return nil
	})
	return out, err
}

// SetConsoleLog appends the zone's output to the file PATH from now on
// (created 0640; rotated to PATH.1 past the zone's ConsoleLogMaxKiB); an
// empty PATH stops logging.  The file is written by the library's writer
// thread, never on the loop.
func (z *Zone) SetConsoleLog(goctx context.Context, path string) error {
	var cs *C.char
	if path != "" {
		cs = cstr(path)
		defer free(cs)
	}
	return z.onLoop(goctx, func(cz *C.edera_zone) error {
		if C.edgo_console_log(cz, cs, z.c.loopErr()) < 0 {
			return errOf("SetConsoleLog", z.c.loopErr())
		}
		return nil
	})
}

// ConsoleStats are a console's counters (edera_console_stats).
type ConsoleStats struct {
	OutputBytes       uint64 // read from the guest
	InputBytes        uint64 // delivered to the guest
	InputQueued       uint32 // waiting for the guest to read
	HistoryBytes      uint32
	RingErrors        uint64 // impossible ring indices seen (a buggy or hostile guest)
	LogErrors         uint64
	Connected         bool // the ring is being served
	LogBytes          uint64
	LogDropped        uint64
	LogQueued         uint32
	LogRotations      uint32
	Notifications     uint64
	NotificationsHeld uint64 // times a guest notifying in a loop was made to wait
}

// ConsoleStats gives the zone's console counters.
func (z *Zone) ConsoleStats(goctx context.Context) (ConsoleStats, error) {
	var s ConsoleStats
	err := z.onLoop(goctx, func(cz *C.edera_zone) error {
		var st C.edera_console_stats
		if C.edgo_console_stats(cz, &st, z.c.loopErr()) < 0 {
			return errOf("ConsoleStats", z.c.loopErr())
		}
		s = ConsoleStats{OutputBytes: uint64(st.output_bytes), InputBytes: uint64(st.input_bytes),
			InputQueued: uint32(st.input_queued), HistoryBytes: uint32(st.history_bytes),
			RingErrors: uint64(st.ring_errors), LogErrors: uint64(st.log_errors),
			Connected: st.connected != 0, LogBytes: uint64(st.log_bytes),
			LogDropped: uint64(st.log_dropped), LogQueued: uint32(st.log_queued),
			LogRotations: uint32(st.log_rotations), Notifications: uint64(st.notifications),
			NotificationsHeld: uint64(st.notifications_held)}
		return nil
	})
	return s, err
}
