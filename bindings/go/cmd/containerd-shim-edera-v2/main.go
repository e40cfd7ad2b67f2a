// SPDX-License-Identifier: LGPL-2.1-or-later

// Command containerd-shim-edera-v2 is a containerd runtime v2 shim that
// runs every container in a zone of its own (a Xen PV domain with its own
// kernel), over libedera's Go bindings.  containerd starts it for the
// runtime "io.containerd.edera.v2" (it finds containerd-shim-edera-v2 on
// its PATH).
//
// One zone per container, not per pod: each container gets its own kernel,
// so a kernel exploit in one container does not reach its pod's others;
// the cost is a zone (about its memory and a second of boot) per container,
// and containers of a pod share no namespaces (no localhost between them).
//
// The zone boots dom0's own kernel unless EDERA_KERNEL names one
// (EDERA_MODULES_DIR: its modules); EDERA_ZONE_INIT and EDERA_CACHE_DIR as
// for the library.  containerd passes its environment to the shim.
//
// Built against containerd 1.6's shim scaffolding (runtime/v2/shim), as
// Debian 12 packages it (golang-github-containerd-containerd-dev).
package main

import (
	"github.com/containerd/containerd/runtime/v2/shim"
)

const runtimeName = "io.containerd.edera.v2"

func main() {
	shim.Run(runtimeName, newService)
}
