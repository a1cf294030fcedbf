// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: QEMU's PCI test device (pci-testdev, 1b36:0005) at 00:02.0.
 *
 * BAR0 is 4 KiB of memory, BAR1 256 I/O ports; both behave the same and
 * are accessed byte by byte (wider accesses split).  Six tests, three
 * per BAR type (mmio-, portio- x no-eventfd, wildcard-eventfd,
 * datamatch-eventfd).  Writing n < 3 to offset 0 of a BAR starts test
 * n of that BAR's type (any other value stops the current one) and
 * zeroes its count.  While a test runs, reads return the bytes of its
 * header
 *
 *   0 test  1 width (1)  4 offset (LE32)  8 data  12 count (LE32)
 *   16 name (NUL-terminated, e.g. "portio-datamatch-eventfd")
 *
 * except the last byte, which reads 0, as does everything with no test
 * running.  A byte write at the test's offset (2048 + n for memory,
 * 128 + 3 + n for I/O) counts if it equals data (0xfa), or in any case
 * for the wildcard tests (whose data is 0xce).  No eventfds here: the
 * count always counts.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../dev.h"
#include "../pci.h"
#include "../vm.h"

#define IOTEST_MEMSIZE		2048
#define IOTEST_IOSIZE		128
#define IOTEST_DATAMATCH	0xfa
#define IOTEST_NOMATCH		0xce
#define IOTEST_NR_KINDS		3
#define IOTEST_NR		(2 * IOTEST_NR_KINDS)
#define HDR_LEN			16

static const char *const kinds[IOTEST_NR_KINDS] = {
	"no-eventfd", "wildcard-eventfd", "datamatch-eventfd",
};

static struct pci_testdev {
	pthread_mutex_t lock;
	struct pci_device pci;
	int current;		/* -1: none */
	struct {
		u8 buf[64];
		u32 len;
		bool match_data;
	} tests[IOTEST_NR];
} ptd = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void test_io(bool io, u64 off, u8 *data, u32 len, bool is_write)
{
	u32 i;

	pthread_mutex_lock(&ptd.lock);
	for (i = 0; i < len; i++, off++) {
		u8 *hdr;

		if (!is_write) {
			data[i] = 0;
			if (ptd.current >= 0 &&
			    off + 1 < ptd.tests[ptd.current].len)
				data[i] = ptd.tests[ptd.current].buf[off];
			continue;
		}
		if (off == 0) {
			ptd.current = -1;
			if (data[i] < IOTEST_NR_KINDS) {
				ptd.current = (io ? IOTEST_NR_KINDS : 0) +
					      data[i];
				le_put(ptd.tests[ptd.current].buf + 12, 4, 0);
			}
			continue;
		}
		if (ptd.current < 0)
			continue;
		hdr = ptd.tests[ptd.current].buf;
		if (off != le_get(hdr + 4, 4))
			continue;
		if (ptd.tests[ptd.current].match_data && data[i] != hdr[8])
			continue;
		le_put(hdr + 12, 4, le_get(hdr + 12, 4) + 1);
	}
	pthread_mutex_unlock(&ptd.lock);
}

static void mem_bar_io(void *opaque, u64 off, u8 *data, u32 len,
		       bool is_write)
{
	(void)opaque;
	test_io(false, off, data, len, is_write);
}

static void io_bar_io(void *opaque, u64 off, u8 *data, u32 len,
		      bool is_write)
{
	(void)opaque;
	test_io(true, off, data, len, is_write);
}

static void pci_testdev_reset(struct device *dev)
{
	unsigned int i;

	(void)dev;
	pthread_mutex_lock(&ptd.lock);
	ptd.current = -1;
	for (i = 0; i < IOTEST_NR; i++) {
		bool io = i >= IOTEST_NR_KINDS;
		const char *kind = kinds[i % IOTEST_NR_KINDS];
		u8 *b = ptd.tests[i].buf;
		int n;

		memset(b, 0, sizeof(ptd.tests[i].buf));
		ptd.tests[i].match_data = strcmp(kind, "wildcard-eventfd");
		b[0] = i;
		b[1] = 1;
		le_put(b + 4, 4, (io ? IOTEST_IOSIZE : IOTEST_MEMSIZE) + i);
		b[8] = ptd.tests[i].match_data ? IOTEST_DATAMATCH :
						 IOTEST_NOMATCH;
		n = snprintf((char *)b + HDR_LEN,
			     sizeof(ptd.tests[i].buf) - HDR_LEN, "%s-%s",
			     io ? "portio" : "mmio", kind);
		ptd.tests[i].len = HDR_LEN + n + 1;
	}
	pthread_mutex_unlock(&ptd.lock);
}

static int pci_testdev_init(struct device *dev, struct vm *vm)
{
	struct pci_device *d = &ptd.pci;

	(void)vm;
	pci_testdev_reset(dev);
	/* Red Hat, Inc. test device, class "other" (0xff0000) */
	pci_init_header(d, 0x1b36, 0x0005, 0xff0000, 0x00, false);
	le_put(d->cfg + PCI_SUBSYSTEM_VENDOR_ID, 2, 0x1af4);
	le_put(d->cfg + PCI_SUBSYSTEM_ID, 2, 0x1100);
	d->cfg[PCI_INTERRUPT_PIN] = 0;		/* no interrupt */
	d->name = "pci-testdev";
	d->devfn = 2 << 3;
	d->bars[0] = (struct pci_bar) { 2 * IOTEST_MEMSIZE, false,
					mem_bar_io, NULL };
	d->bars[1] = (struct pci_bar) { 2 * IOTEST_IOSIZE, true,
					io_bar_io, NULL };
	return pci_add(d);
}

static struct device pci_testdev_dev = {
	.name		= "pci-testdev",
	.machines	= DEV_MACHINE_PC,
	.init		= pci_testdev_init,
	.reset		= pci_testdev_reset,
};
DEVICE_REGISTER(pci_testdev_dev);
