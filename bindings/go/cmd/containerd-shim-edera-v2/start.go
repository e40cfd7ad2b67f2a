// SPDX-License-Identifier: LGPL-2.1-or-later

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	v1 "github.com/containerd/cgroups/stats/v1"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/runtime/v2/shim"

	"libedera.dev/edera"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// zoneMetrics is what the hypervisor says of the zone, in the cgroup v1
// metrics `ctr task metrics` reads: memory (the pages the zone holds, its
// ceiling) and CPU (all its vCPUs' time).
func zoneMetrics(info edera.ZoneInfo) *v1.Metrics {
	return &v1.Metrics{
		Memory: &v1.MemoryStat{Usage: &v1.MemoryEntry{Usage: info.MemoryKiB << 10,
			Limit: info.MaxMemoryKiB << 10}},
		CPU: &v1.CPUStat{Usage: &v1.CPUUsage{Total: uint64(info.CPUTime.Nanoseconds())}},
	}
}

// StartShim runs for "containerd-shim-edera-v2 -namespace NS -id ID
// -address A start" in the bundle: it starts the long-lived shim (this
// binary again, without "start") listening on a socket of its own (given
// as fd 3), writes the socket's address into the bundle and returns it for
// containerd.  A shim already serving the task is reused.
func (s *service) StartShim(ctx context.Context, opts shim.StartOpts) (_ string, retErr error) {
	ns, err := namespaces.NamespaceRequired(ctx)
	if err != nil {
		return "", err
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	args := []string{"-namespace", ns, "-id", opts.ID, "-address", opts.Address}
	if opts.Debug {
		args = append(args, "-debug")
	}
	cmd := exec.Command(self, args...)
	cmd.Dir = cwd
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	address, err := shim.SocketAddress(ctx, opts.Address, opts.ID)
	if err != nil {
		return "", err
	}
	socket, err := shim.NewSocket(address)
	if err != nil {
		if !shim.SocketEaddrinuse(err) {
			return "", fmt.Errorf("the shim's socket: %w", err)
		}
		if shim.CanConnect(address) {
			if err := shim.WriteAddress("address", address); err != nil {
				return "", err
			}
			return address, nil
		}
		if err := shim.RemoveSocket(address); err != nil {
			return "", fmt.Errorf("removing a stale shim socket: %w", err)
		}
		if socket, err = shim.NewSocket(address); err != nil {
			return "", fmt.Errorf("the shim's socket: %w", err)
		}
	}
	defer func() {
		if retErr != nil {
			socket.Close()
			_ = shim.RemoveSocket(address)
		}
	}()
	if err := shim.WriteAddress("address", address); err != nil {
		return "", err
	}
	f, err := socket.File()
	if err != nil {
		return "", err
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, f) // fd 3 in the shim
	if err := cmd.Start(); err != nil {
		f.Close()
		return "", err
	}
	f.Close()
	defer func() {
		if retErr != nil {
			cmd.Process.Kill()
		}
	}()
	go cmd.Wait()
	_, _ = io.Copy(io.Discard, os.Stdin) // the runtime's options: none are read
	if err := shim.AdjustOOMScore(cmd.Process.Pid); err != nil {
		return "", fmt.Errorf("the shim's OOM score: %w", err)
	}
	return address, nil
}
