/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The workload layer's internals. */
#ifndef EDERA_WORKLOAD_PRIV_H
#define EDERA_WORKLOAD_PRIV_H

#include <stddef.h>

/* The release of a bzImage KERNEL (its setup header's version string, up
 * to the first space) into OUT.  Errors: EDERA_ENOENT, EDERA_EINVAL (not a
 * bzImage: give the modules' directory instead), EDERA_EIO. */
int ed_kernel_release(const char *kernel, char *out, size_t size);

/*
 * The workload zone's initramfs: INIT (edera-zone-init) as /init and the
 * modules it loads, from MODULES_DIR (its modules.dep), in load order
 * under /modules.  Made once into CACHE_DIR/zone-init-<hash>.cpio (the hash
 * covers INIT's bytes and each module's path, size and time) and found
 * there afterwards; *OUT is the path (free it).  Errors: EDERA_ENOENT (INIT,
 * MODULES_DIR or a needed module missing: which), EDERA_EIO, EDERA_ENOMEM.
 */
int ed_zone_initramfs(const char *init, const char *modules_dir, const char *cache_dir,
                      char **out);

#endif
