/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The minimal PV test kernel's entry and its Xen ELF notes.  Xen (through
 * libedera's builder) starts it with %rsi pointing at start_info and %rsp
 * at a boot stack. */
#include <xen/elfnote.h>

#define NOTE(type, desctype, descdata)          \
	.pushsection .note.Xen, "a", @note;     \
	.align 4;                               \
	.long 2f - 1f;                          \
	.long 4f - 3f;                          \
	.long type;                             \
1:	.asciz "Xen";                           \
2:	.align 4;                               \
3:	desctype descdata;                      \
4:	.align 4;                               \
	.popsection

NOTE(XEN_ELFNOTE_GUEST_OS, .asciz, "edera-mini")
NOTE(XEN_ELFNOTE_LOADER, .asciz, "generic")
NOTE(XEN_ELFNOTE_XEN_VERSION, .asciz, "xen-3.0")
NOTE(XEN_ELFNOTE_VIRT_BASE, .quad, 0x400000)
NOTE(XEN_ELFNOTE_PADDR_OFFSET, .quad, 0x400000)
NOTE(XEN_ELFNOTE_ENTRY, .quad, _start)
NOTE(XEN_ELFNOTE_FEATURES, .asciz, "!writable_page_tables")
NOTE(XEN_ELFNOTE_HYPERCALL_PAGE, .quad, hypercall_page)

	.text
	.globl _start
_start:
	mov %rsi, %rdi
	and $-16, %rsp
	call kmain
1:	hlt
	jmp 1b

	/* Filled by the domain builder: one 32-byte stub per hypercall. */
	.balign 4096
	.globl hypercall_page
hypercall_page:
	.fill 4096, 1, 0
