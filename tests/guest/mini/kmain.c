/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The minimal PV test kernel: a few hundred bytes that prove a domain
 * libedera built really runs.  It writes one line to its PV console ring
 * and shuts down with the reason its command line asks for
 * ("reason=poweroff|reboot|crash|suspend|watchdog"; default poweroff; or
 * "reason=wait" to stay up, blocked, until destroyed; "wait" also answers
 * no shutdown request), so
 * the toolstack's own cost can be measured apart from a Linux boot.
 *
 * Console stress modes, before the reason is acted on:
 *   flood=N    write N bytes of numbered 64-byte lines as fast as the
 *              backend takes them (N=0: forever)
 *   garbage    publish an impossible output index once (a hostile guest),
 *              then write "EDERA-AFTER-GARBAGE"
 *   notify     notify its console's event channel in a tight loop, with
 *              nothing in the ring, forever (a hostile guest) */
#include <stdint.h>
/* Without this, xen.h maps the hypercall names to their pre-3.2 "compat"
 * forms: sched_op becomes sched_op_compat (6), which takes the shutdown
 * reason by value, not a pointer to it. */
#define __XEN_INTERFACE_VERSION__ 0x00040e00
#include <xen/xen.h>
#include <xen/sched.h>
#include <xen/event_channel.h>
#include <xen/io/console.h>

#define VIRT_BASE 0x400000ul
/* Xen maps its machine-to-physical table read-only into 64-bit PV guests. */
#define M2P ((const unsigned long *)0xFFFF800000000000ul)

/* The page the builder fills (XEN_ELFNOTE_HYPERCALL_PAGE in head.S): using
 * it, rather than a syscall of our own, proves the builder wrote it. */
extern char hypercall_page[4096];

static long hypercall2(unsigned long nr, unsigned long a1, unsigned long a2)
{
	register unsigned long rdi __asm__("rdi") = a1;
	register unsigned long rsi __asm__("rsi") = a2;
	long ret;

	__asm__ volatile("call *%[stub]"
	                 : "=a"(ret), "+r"(rdi), "+r"(rsi)
	                 : [stub] "r"(hypercall_page + nr * 32)
	                 : "rcx", "r11", "memory");
	return ret;
}

static unsigned int slen(const char *s)
{
	unsigned int n = 0;

	while (s[n])
		n++;
	return n;
}

static int starts(const char *s, const char *p)
{
	while (*p)
		if (*s++ != *p++)
			return 0;
	return 1;
}

static unsigned long number(const char *s)
{
	unsigned long v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (unsigned long)(*s++ - '0');
	return v;
}

static const char *find(const char *s, const char *word)
{
	for (; *s; s++)
		if (starts(s, word))
			return s + slen(word);
	return 0;
}

/* Write LEN bytes; with PATIENT, wait for room as long as it takes (else
 * give up waiting after a while, for a console nobody serves). */
static void console_put(struct xencons_interface *c, uint32_t port, const char *s,
                        unsigned int n, int patient)
{
	struct evtchn_send send = { .port = port };
	XENCONS_RING_IDX prod = c->out_prod;

	for (unsigned int i = 0; i < n; i++) {
		/* wait for room; the backend drains as it is notified */
		for (int spins = 0; prod - c->out_cons >= sizeof(c->out) && (patient || spins < 1000000);
		     spins++) {
			__asm__ volatile("sfence" ::: "memory");
			c->out_prod = prod;
			hypercall2(__HYPERVISOR_event_channel_op, EVTCHNOP_send, (unsigned long)&send);
			hypercall2(__HYPERVISOR_sched_op, SCHEDOP_yield, 0);
		}
		c->out[MASK_XENCONS_IDX(prod, c->out)] = s[i];
		prod++;
	}
	__asm__ volatile("sfence" ::: "memory");
	c->out_prod = prod;
	hypercall2(__HYPERVISOR_event_channel_op, EVTCHNOP_send, (unsigned long)&send);
}

static void console_write(struct xencons_interface *c, uint32_t port, const char *s)
{
	console_put(c, port, s, slen(s), 0);
}

/* N bytes (0: forever) of lines "EDERA-FLOOD xxxxxxxx ....\r\n", 64 bytes each. */
static void flood(struct xencons_interface *c, uint32_t port, unsigned long n)
{
	static const char hex[] = "0123456789abcdef";
	char line[64];
	unsigned long done = 0;

	for (unsigned int i = 0; i < sizeof(line); i++)
		line[i] = '.';
	for (unsigned int i = 0; i < 12; i++)
		line[i] = "EDERA-FLOOD "[i];
	line[62] = '\r';
	line[63] = '\n';
	for (unsigned long k = 0; n == 0 || done < n; k++) {
		unsigned int len = sizeof(line);

		for (int d = 0; d < 8; d++)
			line[12 + d] = hex[(k >> (28 - 4 * d)) & 15];
		if (n && n - done < len)
			len = (unsigned int)(n - done);
		console_put(c, port, line, len, 1);
		done += len;
	}
}

void kmain(start_info_t *si);

void kmain(start_info_t *si)
{
	unsigned long pfn = M2P[si->console.domU.mfn];
	struct xencons_interface *c = (void *)(VIRT_BASE + (pfn << 12));
	uint32_t port = si->console.domU.evtchn;
	struct sched_shutdown sd = { .reason = SHUTDOWN_poweroff };
	int wait = 0;
	const char *cmd = (const char *)si->cmd_line;
	const char *word = "poweroff";

	for (const char *p = cmd; *p; p++) {
		if (starts(p, "reason=")) {
			word = p + 7;
			if (starts(word, "reboot"))
				sd.reason = SHUTDOWN_reboot;
			else if (starts(word, "crash"))
				sd.reason = SHUTDOWN_crash;
			else if (starts(word, "suspend"))
				sd.reason = SHUTDOWN_suspend;
			else if (starts(word, "watchdog"))
				sd.reason = SHUTDOWN_watchdog;
			else if (starts(word, "wait"))
				wait = 1;
			break;
		}
	}
	console_write(c, port, "EDERA-MINI hello from a minimal PV kernel; cmdline: ");
	console_write(c, port, cmd);
	console_write(c, port, "\r\n");
	if (find(cmd, "garbage")) {
		struct evtchn_send send = { .port = port };

		/* An output index 256 MiB ahead: impossible for a 2 KiB ring.
		 * A sound backend skips to it; continue from there. */
		c->out_prod = c->out_cons + 0x10000000u;
		hypercall2(__HYPERVISOR_event_channel_op, EVTCHNOP_send, (unsigned long)&send);
		for (int spins = 0; c->out_cons != c->out_prod && spins < 1000000; spins++)
			hypercall2(__HYPERVISOR_sched_op, SCHEDOP_yield, 0);
		console_write(c, port, "EDERA-AFTER-GARBAGE\r\n");
	}
	if (find(cmd, "flood="))
		flood(c, port, number(find(cmd, "flood=")));
	if (find(cmd, "notify")) {
		struct evtchn_send send = { .port = port };

		for (;;)
			hypercall2(__HYPERVISOR_event_channel_op, EVTCHNOP_send,
			           (unsigned long)&send);
	}
	/* Let the backend take the line before the domain goes away. */
	for (int spins = 0; c->out_cons != c->out_prod && spins < 100000; spins++)
		hypercall2(__HYPERVISOR_sched_op, SCHEDOP_yield, 0);
	if (wait) {
		/* Sleep without taking events (there is no handler for them):
		 * poll a channel of our own that nothing ever signals. */
		struct evtchn_alloc_unbound au = { .dom = DOMID_SELF, .remote_dom = DOMID_SELF };
		struct sched_poll poll = { .nr_ports = 1, .timeout = 0 };

		hypercall2(__HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound, (unsigned long)&au);
		set_xen_guest_handle(poll.ports, &au.port);
		for (;;)
			hypercall2(__HYPERVISOR_sched_op, SCHEDOP_poll, (unsigned long)&poll);
	}
	for (;;)
		hypercall2(__HYPERVISOR_sched_op, SCHEDOP_shutdown, (unsigned long)&sd);
}
