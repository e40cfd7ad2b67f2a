// SPDX-License-Identifier: LGPL-2.1-or-later

package edera_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"libedera.dev/edera"
)

// A channel with tests/guest/chan-guest echoing in a Linux zone: frames
// both ways in order, the Go reader's small buffer holding the zone back,
// and the end when the zone stops.
func TestRigChannelEchoBackPressureAndEnd(t *testing.T) {
	c := open(t)
	goctx := timeout(t, 5*time.Minute)
	z, err := c.CreateZone(goctx, edera.ZoneConfig{Name: "go-channel", Kernel: linux(t),
		Initrd: env(t, "EDERA_GUEST_CHAN"), MemoryMiB: 128,
		Cmdline: "console=hvc0 quiet loglevel=0 edera.test.args=echo"})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Destroy(context.Background())
	ch, err := z.OpenChannel(goctx, edera.ChannelConfig{Name: "test", BufferSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := z.OpenChannel(goctx, edera.ChannelConfig{Name: "test"}); !errors.Is(err, edera.ErrExists) {
		t.Fatalf("a second channel 'test': %v, want ErrExists", err)
	}
	if _, err := z.OpenChannel(goctx, edera.ChannelConfig{Name: "Bad Name"}); !errors.Is(err, edera.ErrInvalid) {
		t.Fatalf("a bad name: %v, want ErrInvalid", err)
	}
	payload := func(i int) []byte {
		b := make([]byte, (i*4099)%(edera.ChannelFrameMax+1))
		for k := range b {
			b[k] = byte(i*31 + k*13)
		}
		return b
	}
	const n = 300
	// all sent before anything is read: the echoes pile up past the
	// reader's 64 KiB, the library holds the zone back, nothing is lost
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			if err := ch.Send(goctx, uint32(1000+i), payload(i)); err != nil {
				t.Errorf("Send %d: %v", i, err)
				return
			}
		}
	}()
	time.Sleep(2 * time.Second)
	for i := 0; i < n; i++ {
		f, err := ch.Receive(goctx)
		if err != nil {
			t.Fatalf("Receive %d: %v", i, err)
		}
		if f.Type != uint32(1001+i) || !bytes.Equal(f.Payload, payload(i)) {
			t.Fatalf("frame %d: type %d, %d bytes", i, f.Type, len(f.Payload))
		}
	}
	wg.Wait()
	st, err := ch.Stats(goctx)
	if err != nil || st.FramesIn != n || st.FramesOut != n || st.Errors != 0 {
		t.Fatalf("Stats %+v %v", st, err)
	}
	// the guest program ends on 0xffffffff and the zone powers off
	if err := ch.Send(goctx, 0xffffffff, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Receive(goctx); !errors.Is(err, edera.ErrNotConnected) {
		t.Fatalf("Receive after the zone stopped: %v, want ErrNotConnected", err)
	}
	if err := ch.Send(goctx, 1, []byte("x")); err == nil {
		t.Fatal("Send after the end succeeded")
	}
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}
}
