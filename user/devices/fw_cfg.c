// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: QEMU's firmware configuration device, legacy I/O interface.
 *
 * Ports 0x510-0x511, as QEMU's x86 machines decode them: a 16-bit write
 * (at either port) selects an item and rewinds it; a byte read (at
 * either port) returns the item's next byte, 0 past its end or for an
 * unknown item.  Byte writes (the old data-write path) and other sizes
 * are ignored; other reads return 0.  No DMA interface (the ID item
 * says so).  Integers are little-endian, except the file directory,
 * which is big-endian as in QEMU and is empty here.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../bus.h"
#include "../dev.h"
#include "../vm.h"

#define FW_CFG_PORT		0x510
#define FW_CFG_NR_PORTS		2

#define FW_CFG_SIGNATURE	0x00
#define FW_CFG_ID		0x01
#define FW_CFG_UUID		0x02
#define FW_CFG_RAM_SIZE		0x03
#define FW_CFG_NOGRAPHIC	0x04
#define FW_CFG_NB_CPUS		0x05
#define FW_CFG_MACHINE_ID	0x06
#define FW_CFG_BOOT_DEVICE	0x0c
#define FW_CFG_NUMA		0x0d
#define FW_CFG_BOOT_MENU	0x0e
#define FW_CFG_MAX_CPUS		0x0f
#define FW_CFG_CMDLINE_SIZE	0x14
#define FW_CFG_CMDLINE_DATA	0x15
#define FW_CFG_FILE_DIR		0x19
#define FW_CFG_ACPI_TABLES	0x8000
#define FW_CFG_SMBIOS_ENTRIES	0x8001
#define FW_CFG_IRQ0_OVERRIDE	0x8002
#define FW_CFG_E820_TABLE	0x8003

#define FW_CFG_VERSION		0x01	/* ID: traditional interface only */
#define MAX_ITEMS		24

struct fw_cfg_item {
	u16 key;
	u32 len;
	u8 *data;
};

static struct fw_cfg {
	pthread_mutex_t lock;
	struct fw_cfg_item items[MAX_ITEMS];
	unsigned int nr;
	struct fw_cfg_item *cur;	/* NULL: unknown item */
	u32 offset;
} fwc = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int add_bytes(u16 key, const void *data, u32 len)
{
	struct fw_cfg_item *it;

	if (fwc.nr == MAX_ITEMS)
		return -1;
	it = &fwc.items[fwc.nr];
	it->data = malloc(len ? len : 1);
	if (!it->data)
		return -1;
	memcpy(it->data, data, len);
	it->key = key;
	it->len = len;
	fwc.nr++;
	return 0;
}

static int add_le(u16 key, u64 v, unsigned int len)
{
	u8 buf[8];

	le_put(buf, len, v);
	return add_bytes(key, buf, len);
}

static void fw_cfg_select(u16 key)
{
	unsigned int i;

	fwc.cur = NULL;
	fwc.offset = 0;
	for (i = 0; i < fwc.nr; i++) {
		if (fwc.items[i].key == key) {
			fwc.cur = &fwc.items[i];
			break;
		}
	}
}

static void fw_cfg_io(void *opaque, u64 offset, u8 *data, u32 len,
		      bool is_write)
{
	(void)opaque;
	(void)offset;
	pthread_mutex_lock(&fwc.lock);
	if (is_write) {
		if (len == 2)
			fw_cfg_select(le_get(data, 2));
	} else if (len == 1) {
		data[0] = 0;
		if (fwc.cur && fwc.offset < fwc.cur->len)
			data[0] = fwc.cur->data[fwc.offset++];
	} else {
		memset(data, 0, len);
	}
	pthread_mutex_unlock(&fwc.lock);
}

static void fw_cfg_teardown(struct device *dev)
{
	unsigned int i;

	(void)dev;
	for (i = 0; i < fwc.nr; i++)
		free(fwc.items[i].data);
	fwc.nr = 0;
	fwc.cur = NULL;
}

static void fw_cfg_reset(struct device *dev)
{
	(void)dev;
	pthread_mutex_lock(&fwc.lock);
	fwc.cur = NULL;
	fwc.offset = 0;
	pthread_mutex_unlock(&fwc.lock);
}

static int fw_cfg_init(struct device *dev, struct vm *vm)
{
	static const u8 zero[16];
	size_t cmdlen = strlen(vm->cmdline) + 1;
	int r = 0;

	r |= add_bytes(FW_CFG_SIGNATURE, "QEMU", 4);
	r |= add_le(FW_CFG_ID, FW_CFG_VERSION, 4);
	r |= add_bytes(FW_CFG_UUID, zero, 16);
	r |= add_le(FW_CFG_RAM_SIZE, vm->mem.size, 8);
	r |= add_le(FW_CFG_NOGRAPHIC, 1, 2);
	r |= add_le(FW_CFG_NB_CPUS, vm->smp, 2);
	r |= add_le(FW_CFG_MACHINE_ID, 0, 4);
	r |= add_le(FW_CFG_BOOT_DEVICE, 0, 2);
	r |= add_le(FW_CFG_NUMA, 0, 8);		/* no NUMA nodes */
	r |= add_le(FW_CFG_BOOT_MENU, 0, 2);
	r |= add_le(FW_CFG_MAX_CPUS, vm->smp, 2);
	r |= add_le(FW_CFG_CMDLINE_SIZE, cmdlen, 4);
	r |= add_bytes(FW_CFG_CMDLINE_DATA, vm->cmdline, cmdlen);
	r |= add_bytes(FW_CFG_FILE_DIR, zero, 4);	/* 0 files, BE */
	r |= add_le(FW_CFG_ACPI_TABLES, 0, 2);
	r |= add_le(FW_CFG_SMBIOS_ENTRIES, 0, 2);
	r |= add_le(FW_CFG_IRQ0_OVERRIDE, 1, 4);
	r |= add_le(FW_CFG_E820_TABLE, 0, 4);
	if (r) {
		pr_err("fw_cfg: out of memory");
		fw_cfg_teardown(dev);
		return -1;
	}
	return bus_register(BUS_PIO, FW_CFG_PORT, FW_CFG_NR_PORTS, "fw_cfg",
			    fw_cfg_io, NULL);
}

static struct device fw_cfg_dev = {
	.name		= "fw_cfg",
	.machines	= DEV_MACHINE_PC,
	.init		= fw_cfg_init,
	.reset		= fw_cfg_reset,
	.teardown	= fw_cfg_teardown,
};
DEVICE_REGISTER(fw_cfg_dev);
