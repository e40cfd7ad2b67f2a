// SPDX-License-Identifier: LGPL-2.1-or-later

// Command go-bench is what the Go bindings cost: the same work through Go
// and through the C API (bench/api-bench), in the same rig boot, ratios
// printed, nothing asserted.
//
//	create    create -> running of the minimal kernel (16 MiB, waiting),
//	          then destroyed: median of ROUNDS, seconds
//	reads     10,000 XenStore reads of one node, one after another, seconds
//	reads-pipelined
//	          the same 10,000 in flight together: all sent at once in C;
//	          from 100 goroutines reading one after another in Go, seconds
//
// Usage (in the rig; make bench runs it):
//
//	go-bench API_BENCH MINI_KERNEL [ROUNDS]
package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"libedera.dev/edera"
)

const (
	reads   = 10000
	readers = 100
	node    = "/local/domain/0/edera-go-bench"
)

func die(what string, err error) {
	fmt.Fprintf(os.Stderr, "go-bench: %s: %v\n", what, err)
	os.Exit(1)
}

func median(v []float64) float64 {
	sort.Float64s(v)
	return v[len(v)/2]
}

func main() {
	if len(os.Args) < 3 || len(os.Args) > 4 {
		fmt.Fprintln(os.Stderr, "usage: go-bench API_BENCH MINI_KERNEL [ROUNDS]")
		os.Exit(2)
	}
	rounds := 5
	if len(os.Args) == 4 {
		n, err := strconv.Atoi(os.Args[3])
		if err != nil || n < 1 || n > 32 {
			fmt.Fprintln(os.Stderr, "go-bench: ROUNDS is 1 to 32")
			os.Exit(2)
		}
		rounds = n
	}
	kernel := os.Args[2]

	// the C API first (MIB 1: its console run is not compared here)
	out, err := exec.Command(os.Args[1], kernel, strconv.Itoa(rounds), "1").Output()
	if err != nil {
		die("api-bench", err)
	}
	capi := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 {
			v, _ := strconv.ParseFloat(f[1], 64)
			capi[f[0]] = v
		}
	}

	c, err := edera.Open(edera.Options{})
	if err != nil {
		die("Open", err)
	}
	defer c.Close()
	goctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var t []float64
	for i := 0; i < rounds; i++ {
		t0 := time.Now()
		z, err := c.CreateZone(goctx, edera.ZoneConfig{Name: "go-bench", Kernel: kernel,
			Cmdline: "reason=wait", MemoryMiB: 16})
		if err != nil {
			die("CreateZone", err)
		}
		t = append(t, time.Since(t0).Seconds())
		if err := z.Destroy(goctx); err != nil {
			die("Destroy", err)
		}
	}
	create := median(t)

	if err := c.Write(goctx, node, []byte("value")); err != nil {
		die("Write", err)
	}
	t0 := time.Now()
	for i := 0; i < reads; i++ {
		if _, err := c.Read(goctx, node); err != nil {
			die("Read", err)
		}
	}
	seq := time.Since(t0).Seconds()
	t0 = time.Now()
	var wg sync.WaitGroup
	for g := 0; g < readers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < reads/readers; i++ {
				if _, err := c.Read(goctx, node); err != nil {
					die("Read", err)
				}
			}
		}()
	}
	wg.Wait()
	pipelined := time.Since(t0).Seconds()
	c.Remove(goctx, node)

	fmt.Printf("go-bench: the Go bindings against the C API, same boot (lower is better; Go/C > 1: Go slower)\n")
	fmt.Printf("  %-34s %10s %10s %7s\n", "what", "C API", "Go", "Go/C")
	row := func(what string, cv, gv float64) {
		fmt.Printf("  %-34s %10.4f %10.4f %6.2fx\n", what, cv, gv, gv/cv)
	}
	row("create -> running (s, median)", capi["create"], create)
	row("10,000 reads, one by one (s)", capi["reads"], seq)
	row("10,000 reads, in flight (s)", capi["reads-pipelined"], pipelined)
}
