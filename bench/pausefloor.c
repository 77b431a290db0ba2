/* pausefloor.c — the least CPU a stop-and-copy of SIZE MiB costs on this
 * machine, stage by stage, measured on the same operations ferry uses:
 * reading another process's memory (process_vm_readv), the record CRC
 * (crc32c), AES-128-GCM in 16 KiB TLS records (GnuTLS, both ways), a TCP
 * stream over loopback (the sending and the receiving thread's CPU), and
 * placing pages in fresh memory (UFFDIO_COPY). With the source and the
 * destination on one machine, their sum over the cores is the shortest
 * pause the work allows, however it is spread. Prints one line per stage
 * and the floors with and without TLS.
 * usage: pausefloor [SIZE_MIB=256] [CHUNK_KIB=2048] */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/userfaultfd.h>
#include <time.h>
#include <unistd.h>

#include "state/crc32c.h"

#define TLS_RECORD 16384 /* a TLS record's most plaintext */
#define GCM_TAG 16

static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static size_t size, chunk;

struct wire {
	int fd;
	const uint8_t *data;
	double ms; /* the thread's CPU */
};

static void *wire_send(void *arg)
{
	struct wire *w = arg;
	double t = cpu_ms();
	for (size_t at = 0; at < size;) {
		ssize_t n = write(w->fd, w->data + at % chunk, chunk - at % chunk);
		if (n <= 0)
			return NULL;
		at += (size_t)n;
	}
	w->ms = cpu_ms() - t;
	shutdown(w->fd, SHUT_WR);
	return NULL;
}

static void *wire_recv(void *arg)
{
	struct wire *w = arg;
	uint8_t *buf = malloc(chunk);
	double t = cpu_ms();
	while (buf && read(w->fd, buf, chunk) > 0)
		;
	w->ms = cpu_ms() - t;
	free(buf);
	return NULL;
}

/* TCP over loopback: the CPU of the writing and of the reading thread. */
static int measure_wire(const uint8_t *data, double *send_ms, double *recv_ms)
{
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (l < 0 || bind(l, (struct sockaddr *)&a, al) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &al) < 0)
		return -errno;
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, al) < 0)
		return -errno;
	int s = accept(l, NULL, NULL);
	setsockopt(c, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
	struct wire tx = {.fd = c, .data = data}, rx = {.fd = s};
	pthread_t tt, rt;
	pthread_create(&rt, NULL, wire_recv, &rx);
	pthread_create(&tt, NULL, wire_send, &tx);
	pthread_join(tt, NULL);
	pthread_join(rt, NULL);
	close(c), close(s), close(l);
	*send_ms = tx.ms, *recv_ms = rx.ms;
	return 0;
}

/* Seals (or opens) a chunk as TLS records of TLS_RECORD bytes. */
static int gcm_chunk(gnutls_aead_cipher_hd_t h, bool seal, const uint8_t *in, uint8_t *out)
{
	uint8_t iv[12] = {0};
	size_t rec_in = seal ? TLS_RECORD : TLS_RECORD + GCM_TAG, rec_out = seal ? TLS_RECORD + GCM_TAG : TLS_RECORD;
	for (size_t i = 0; i < chunk / TLS_RECORD; i++) {
		size_t n = rec_out;
		int g = seal ? gnutls_aead_cipher_encrypt(h, iv, sizeof(iv), NULL, 0, GCM_TAG, in + i * rec_in, rec_in,
							  out + i * rec_out, &n)
			     : gnutls_aead_cipher_decrypt(h, iv, sizeof(iv), NULL, 0, GCM_TAG, in + i * rec_in, rec_in,
							  out + i * rec_out, &n);
		if (g < 0)
			return g;
	}
	return 0;
}

static void line(const char *what, double ms)
{
	printf("  %-44s %7.1f ms  %6.2f GB/s\n", what, ms, (double)size / (ms / 1e3) / 1e9);
}

int main(int argc, char **argv)
{
	size = (size_t)(argc > 1 ? atol(argv[1]) : 256) << 20;
	chunk = (size_t)(argc > 2 ? atol(argv[2]) : 2048) << 10;
	if (size == 0 || chunk < TLS_RECORD || chunk % TLS_RECORD || size % chunk) {
		fprintf(stderr, "usage: pausefloor [SIZE_MIB=256] [CHUNK_KIB=2048: a multiple of 16 that divides SIZE]\n");
		return 2;
	}
	uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *buf = aligned_alloc(4096, chunk), *sealed = malloc(chunk / TLS_RECORD * (TLS_RECORD + GCM_TAG));
	if (mem == MAP_FAILED || !buf || !sealed)
		return 1;
	uint64_t x = 0x9E3779B97F4A7C15ull; /* random data: nothing compresses, no page is zero */
	for (size_t i = 0; i < size / 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		((uint64_t *)mem)[i] = x;
	}
	pid_t parent = getpid(), child = fork(); /* the "process being moved": the same pages, another mm */
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* whatever way this program ends */
		if (getppid() == parent)
			pause();
		_exit(0);
	}
	uint8_t key[16] = {1};
	gnutls_aead_cipher_hd_t gcm;
	if (child < 0 || gnutls_aead_cipher_init(&gcm, GNUTLS_CIPHER_AES_128_GCM, &(gnutls_datum_t){key, sizeof(key)}) < 0)
		return 1;

	/* timed on the second pass: the first one also marks each page of the
	 * fresh fork accessed (LRU work a live process's pages have had) and
	 * takes twice as long; a floor takes the least */
	double t = 0;
	for (int pass = 0; pass < 2; pass++) {
		t = cpu_ms();
		for (size_t at = 0; at < size; at += chunk) {
			struct iovec l = {.iov_base = buf, .iov_len = chunk}, r = {.iov_base = mem + at, .iov_len = chunk};
			if (process_vm_readv(child, &l, 1, &r, 1, 0) != (ssize_t)chunk)
				return perror("process_vm_readv"), 1;
		}
	}
	double readv_ms = cpu_ms() - t;
	t = cpu_ms();
	uint32_t crc = 0;
	for (size_t at = 0; at < size; at += chunk)
		crc = crc32c(crc, mem + at, chunk);
	double crc_ms = cpu_ms() - t;
	t = cpu_ms();
	for (size_t at = 0; at < size; at += chunk)
		gcm_chunk(gcm, true, mem + at, sealed);
	double seal_ms = cpu_ms() - t;
	t = cpu_ms();
	for (size_t at = 0; at < size; at += chunk)
		if (gcm_chunk(gcm, false, sealed, buf) < 0)
			return fprintf(stderr, "decryption failed\n"), 1;
	double open_ms = cpu_ms() - t;
	double wire_tx = 0, wire_rx = 0;
	if (measure_wire(mem, &wire_tx, &wire_rx) < 0)
		return perror("loopback"), 1;

	uint8_t *dst = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	struct uffdio_api api = {.api = UFFD_API};
	struct uffdio_register reg = {.range = {.start = (uintptr_t)dst, .len = size}, .mode = UFFDIO_REGISTER_MODE_MISSING};
	if (dst == MAP_FAILED || uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0 || ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
		return perror("userfaultfd"), 1;
	t = cpu_ms();
	for (size_t at = 0; at < size; at += chunk) {
		struct uffdio_copy c = {.dst = (uintptr_t)dst + at, .src = (uintptr_t)mem + at, .len = chunk};
		if (ioctl(uffd, UFFDIO_COPY, &c) < 0)
			return perror("UFFDIO_COPY"), 1;
	}
	double place_ms = cpu_ms() - t;
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);

	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	printf("pausefloor: %zu MiB in %zu KiB pieces, CPU per stage (crc %08x):\n", size >> 20, chunk >> 10, crc);
	line("A: process_vm_readv (another process)", readv_ms);
	line("A+B: crc32c (once on each side)", crc_ms);
	line("A: AES-128-GCM seal, 16 KiB records", seal_ms);
	line("A: TCP send (loopback: writer thread)", wire_tx);
	line("B: TCP receive (loopback: reader thread)", wire_rx);
	line("B: AES-128-GCM open", open_ms);
	line("B: UFFDIO_COPY into fresh memory", place_ms);
	double plain = readv_ms + 2 * crc_ms + wire_tx + wire_rx + place_ms, tls = plain + seal_ms + open_ms;
	printf("  sum without TLS %.1f ms, with TLS %.1f ms: on %ld cores shared by both sides, a pause of at least "
	       "%.1f ms (--insecure) and %.1f ms (TLS)\n", plain, tls, ncpu, plain / (double)ncpu, tls / (double)ncpu);
	return 0;
}
