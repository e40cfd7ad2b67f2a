// SPDX-License-Identifier: LGPL-2.1-or-later

package edera_test

import (
	"errors"
	"testing"
	"time"

	"libedera.dev/edera"
)

// A creation of the pool's shape takes a prepared shell; the pool refills;
// the shells go with the shape and with Close.
func TestRigPool(t *testing.T) {
	c := open(t)
	goctx := timeout(t, 5*time.Minute)
	before := len(domains(t))
	if err := c.SetPool(goctx, 16, 1, 1); err != nil {
		t.Fatalf("SetPool: %v", err)
	}
	ready := func(n uint32) {
		t.Helper()
		for i := 0; ; i++ {
			st, err := c.Pool(goctx, 16, 1)
			if err != nil {
				t.Fatalf("Pool: %v", err)
			}
			if st.Failed != 0 {
				t.Fatalf("a shell failed: %s", st.LastError)
			}
			if st.Ready == n {
				return
			}
			if i == 1200 {
				t.Fatalf("%d shells ready after 2 minutes, not %d", st.Ready, n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ready(1)
	if n := len(domains(t)); n != before+1 {
		t.Errorf("%d domains with one shell, %d before", n, before)
	}
	z, err := c.CreateZone(goctx, mini("go-pool", "reason=wait"))
	if err != nil {
		t.Fatalf("CreateZone: %v", err)
	}
	if st, _ := c.Pool(goctx, 16, 1); st.Taken != 1 || st.Missed != 0 {
		t.Errorf("after a creation of its shape: %+v; want one taken", st)
	}
	ready(1) // refilled
	if err := z.Destroy(goctx); err != nil {
		t.Errorf("Destroy: %v", err)
	}
	if err := c.SetPool(goctx, 16, 1, 0); err != nil {
		t.Fatalf("SetPool 0: %v", err)
	}
	if _, err := c.Pool(goctx, 16, 1); !errors.Is(err, edera.ErrNotFound) {
		t.Errorf("Pool of a removed shape: %v, want ErrNotFound", err)
	}
	if err := c.SetPool(goctx, 8, 1, 1); !errors.Is(err, edera.ErrInvalid) {
		t.Errorf("SetPool of 8 MiB: %v, want ErrInvalid", err)
	}
	// the shells go on the threadpool, then their records: wait for both
	// (a Close before would cut the records' removal short, leaving them
	// to the next Reattach)
	for i := 0; ; i++ {
		names := creationRecords(t)
		if len(names) == 0 && len(domains(t)) == before {
			break
		}
		if i == 600 {
			t.Fatalf("after the shape was removed: %d records, %d domains (%d before)",
				len(names), len(domains(t)), before)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
