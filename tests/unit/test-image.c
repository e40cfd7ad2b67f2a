/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernel image parsing: synthetic ELF64 kernels with Xen notes, plain and
 * wrapped in bzImages with gzip, xz and zstd payloads, and broken ones. */
#include <elf.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <xen/elfnote.h>
#include <zlib.h>
#include <zstd.h>

#include <stdio.h>
#include <unistd.h>

#include "builder/image.h"
#include "builder/kcache.h"
#include "internal.h"
#include "suites.h"

#define VBASE 0xffffffff80000000ull

struct img {
	uint8_t buf[16384];
	size_t len;
};

static size_t put_note(uint8_t *p, uint32_t type, const void *desc, uint32_t dlen)
{
	uint32_t h[3] = { 4, dlen, type };

	memcpy(p, h, 12);
	memcpy(p + 12, "Xen", 4);
	memcpy(p + 16, desc, dlen);
	return 16 + ((dlen + 3u) & ~3u);
}

/* An ELF with one PT_LOAD (paddr 0x1000000, 8 KiB file, 12 KiB memory) and a
 * PT_NOTE carrying the notes selected by MASK (bit = note type). */
static void make_elf(struct img *im, unsigned int mask, uint16_t machine)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)im->buf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(im->buf + sizeof(*eh));
	uint8_t *notes = im->buf + 512;
	size_t nlen = 0;
	uint64_t v;

	memset(im, 0, sizeof(*im));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_machine = machine;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 2;
	if (mask & (1u << XEN_ELFNOTE_ENTRY)) {
		v = VBASE + 0x1000000 + 0x100;
		nlen += put_note(notes + nlen, XEN_ELFNOTE_ENTRY, &v, 8);
	}
	if (mask & (1u << XEN_ELFNOTE_VIRT_BASE)) {
		v = VBASE;
		nlen += put_note(notes + nlen, XEN_ELFNOTE_VIRT_BASE, &v, 8);
	}
	if (mask & (1u << XEN_ELFNOTE_PADDR_OFFSET)) {
		v = 0;
		nlen += put_note(notes + nlen, XEN_ELFNOTE_PADDR_OFFSET, &v, 8);
	}
	if (mask & (1u << XEN_ELFNOTE_HYPERCALL_PAGE)) {
		v = VBASE + 0x1000000 + 0x1000;
		nlen += put_note(notes + nlen, XEN_ELFNOTE_HYPERCALL_PAGE, &v, 8);
	}
	nlen += put_note(notes + nlen, XEN_ELFNOTE_GUEST_OS, "linux", 6);
	ph[0].p_type = PT_NOTE;
	ph[0].p_offset = 512;
	ph[0].p_filesz = nlen;
	ph[1].p_type = PT_LOAD;
	ph[1].p_offset = 4096;
	ph[1].p_vaddr = VBASE + 0x1000000;
	ph[1].p_paddr = 0x1000000;
	ph[1].p_filesz = 8192;
	ph[1].p_memsz = 12288;
	memset(im->buf + 4096, 0xcc, 8192);
	im->len = 4096 + 8192;
}

#define ALL_NOTES ((1u << XEN_ELFNOTE_ENTRY) | (1u << XEN_ELFNOTE_VIRT_BASE) | \
                   (1u << XEN_ELFNOTE_PADDR_OFFSET) | (1u << XEN_ELFNOTE_HYPERCALL_PAGE))

static void check_parsed(const struct ed_kernel *k)
{
	ck_assert_uint_eq(k->virt_base, VBASE);
	ck_assert_uint_eq(k->virt_kstart, VBASE + 0x1000000);
	ck_assert_uint_eq(k->virt_kend, VBASE + 0x1000000 + 12288);
	ck_assert_uint_eq(k->entry, VBASE + 0x1000100);
	ck_assert_uint_eq(k->hypercall_page, VBASE + 0x1001000);
	ck_assert_str_eq(k->guest_os, "linux");
}

START_TEST(plain_elf)
{
	struct img *im = malloc(sizeof(*im));
	struct ed_kernel k;
	uint8_t *mem = malloc(12288);

	make_elf(im, ALL_NOTES, EM_X86_64);
	ck_assert_int_eq(ed_kernel_parse(&k, im->buf, im->len, "kernel image 't'"), 0);
	check_parsed(&k);
	ck_assert_str_eq(k.compression, "none");
	memset(mem, 0x55, 12288);
	ed_kernel_load(&k, mem);
	ck_assert_uint_eq(mem[0], 0xcc);
	ck_assert_uint_eq(mem[8191], 0xcc);
	ck_assert_uint_eq(mem[8192], 0); /* bss zeroed */
	ck_assert_uint_eq(mem[12287], 0);
	ed_kernel_free(&k);
	free(mem);
	free(im);
}
END_TEST

START_TEST(missing_notes_and_wrong_machine)
{
	struct img *im = malloc(sizeof(*im));
	struct ed_kernel k;

	make_elf(im, ALL_NOTES & ~(1u << XEN_ELFNOTE_ENTRY), EM_X86_64);
	ck_assert_int_eq(ed_kernel_parse(&k, im->buf, im->len, "kernel image 'x'"), EDERA_EINVAL);
	ck_assert_str_eq(edera_last_error(),
	                 "kernel image 'x': not an x86-64 PV kernel (no XEN_ELFNOTE_ENTRY)");
	ck_assert_ptr_null(k.elf);
	make_elf(im, ALL_NOTES & ~(1u << XEN_ELFNOTE_VIRT_BASE), EM_X86_64);
	ck_assert_int_eq(ed_kernel_parse(&k, im->buf, im->len, "k"), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "VIRT_BASE") != NULL, "%s", edera_last_error());
	make_elf(im, ALL_NOTES, EM_AARCH64);
	ck_assert_int_eq(ed_kernel_parse(&k, im->buf, im->len, "k"), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "not an x86-64 kernel") != NULL, "%s",
	              edera_last_error());
	/* truncated: the segment runs past the end */
	make_elf(im, ALL_NOTES, EM_X86_64);
	ck_assert_int_eq(ed_kernel_parse(&k, im->buf, im->len - 100, "k"), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "truncated") != NULL, "%s", edera_last_error());
	/* garbage and tiny files */
	ck_assert_int_eq(ed_kernel_parse(&k, (const uint8_t *)"hello", 5, "k"), EDERA_EINVAL);
	memset(im->buf, 0x41, 4096);
	ck_assert_int_eq(ed_kernel_parse(&k, im->buf, 4096, "k"), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "neither a bzImage nor an ELF") != NULL, "%s",
	              edera_last_error());
	free(im);
}
END_TEST

/* ---- bzImages ------------------------------------------------------------- */

static size_t compress_gzip(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	z_stream s;

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(deflateInit2(&s, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	s.next_in = (Bytef *)in;
	s.avail_in = (uInt)len;
	s.next_out = out;
	s.avail_out = (uInt)cap;
	ck_assert_int_eq(deflate(&s, Z_FINISH), Z_STREAM_END);
	deflateEnd(&s);
	return s.total_out;
}

static size_t compress_xz(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	size_t pos = 0;

	ck_assert_int_eq(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, len, out, &pos, cap),
	                 LZMA_OK);
	return pos;
}

static size_t compress_zstd(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	size_t n = ZSTD_compress(out, cap, in, len, 3);

	ck_assert(!ZSTD_isError(n));
	return n;
}

/* A bzImage: 4 setup sectors + boot sector, then the payload at offset 0x40
 * of the protected-mode part. */
static size_t make_bzimage(uint8_t *out, size_t cap, const uint8_t *payload, size_t plen)
{
	size_t start = 5 * 512, off = 0x40;
	uint32_t o = (uint32_t)off, l = (uint32_t)plen;
	uint16_t ver = 0x20f;

	ck_assert_uint_le(start + off + plen, cap);
	memset(out, 0, start + off);
	out[0x1f1] = 4;
	memcpy(out + 0x202, "HdrS", 4);
	memcpy(out + 0x206, &ver, 2);
	memcpy(out + 0x248, &o, 4);
	memcpy(out + 0x24c, &l, 4);
	memcpy(out + start + off, payload, plen);
	return start + off + plen;
}

START_TEST(bzimage_payloads)
{
	size_t (*packers[3])(const uint8_t *, size_t, uint8_t *, size_t) = {
		compress_gzip, compress_xz, compress_zstd
	};
	static const char *names[3] = { "gzip", "xz", "zstd" };
	struct img *im = malloc(sizeof(*im));
	uint8_t *packed = malloc(65536), *bz = malloc(65536);

	make_elf(im, ALL_NOTES, EM_X86_64);
	for (int i = 0; i < 3; i++) {
		struct ed_kernel k;
		size_t plen = packers[i](im->buf, im->len, packed, 65536);
		size_t blen = make_bzimage(bz, 65536, packed, plen);

		ck_assert_int_eq(ed_kernel_parse(&k, bz, blen, "bz"), 0);
		ck_assert_str_eq(k.compression, names[i]);
		ck_assert_uint_eq(k.elf_len, im->len);
		check_parsed(&k);
		ed_kernel_free(&k);

		/* corrupt the middle of the payload: an error naming the format */
		bz[5 * 512 + 0x40 + plen / 2] ^= 0xff;
		bz[5 * 512 + 0x40 + plen / 2 + 1] ^= 0xff;
		ck_assert_int_eq(ed_kernel_parse(&k, bz, blen, "bz"), EDERA_EINVAL);
		/* truncated: payload length beyond the file */
		ck_assert_int_eq(ed_kernel_parse(&k, bz, blen - 10, "bz"), EDERA_EINVAL);
		ck_assert_msg(strstr(edera_last_error(), "truncated") != NULL, "%s",
		              edera_last_error());
	}
	free(im);
	free(packed);
	free(bz);
}
END_TEST

START_TEST(read_file_errors)
{
	uint8_t *d;
	size_t n;

	ck_assert_int_eq(ed_read_file("/nonexistent/vmlinuz", "kernel image", 1 << 20, &d, &n),
	                 EDERA_ENOENT);
	ck_assert_str_eq(edera_last_error(),
	                 "kernel image '/nonexistent/vmlinuz': No such file or directory");
	ck_assert_int_eq(ed_read_file("/", "kernel image", 1 << 20, &d, &n), EDERA_EINVAL);
	ck_assert_int_eq(ed_read_file("/proc/self/exe", "kernel image", 10, &d, &n), EDERA_EINVAL);
	ck_assert_int_eq(ed_read_file("/proc/self/exe", "kernel image", 64 << 20, &d, &n), 0);
	ck_assert_uint_gt(n, 0);
	free(d);
}
END_TEST

START_TEST(kernel_cache_shares_and_notices_changes)
{
	struct img *im = malloc(sizeof(*im));
	char path[] = "/tmp/edera-kcache-XXXXXX";
	struct ed_kcache c;
	struct ed_kimage *a, *b, *d;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	make_elf(im, ALL_NOTES, EM_X86_64);
	ck_assert_int_eq(write(fd, im->buf, im->len), (ssize_t)im->len);
	close(fd);
	ed_kcache_init(&c);
	ck_assert_int_eq(ed_kcache_get(&c, path, &a), 0);
	ck_assert_int_eq(ed_kcache_get(&c, path, &b), 0);
	ck_assert_ptr_eq(a, b); /* parsed once */
	ck_assert_uint_eq(c.hits, 1);
	ck_assert_uint_eq(c.misses, 1);
	check_parsed(&a->k);
	/* the file changes: parsed again; the old image lives while held */
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
	ck_assert_int_eq(ed_kcache_get(&c, path, &d), 0);
	ck_assert_ptr_ne(d, a);
	ck_assert_uint_eq(c.misses, 2);
	check_parsed(&a->k);
	ed_kcache_put(&c, a);
	ed_kcache_put(&c, b);
	ed_kcache_put(&c, d);
	ck_assert_int_eq(ed_kcache_get(&c, "/nonexistent/k", &a), EDERA_ENOENT);
	ed_kcache_fini(&c);
	unlink(path);
	free(im);
}
END_TEST

Suite *image_suite(void)
{
	Suite *s = suite_create("image");
	TCase *tc = tcase_create("kernel");

	tcase_add_test(tc, plain_elf);
	tcase_add_test(tc, missing_notes_and_wrong_machine);
	tcase_add_test(tc, bzimage_payloads);
	tcase_add_test(tc, read_file_errors);
	tcase_add_test(tc, kernel_cache_shares_and_notices_changes);
	suite_add_tcase(s, tc);
	return s;
}
