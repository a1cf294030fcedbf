// SPDX-License-Identifier: GPL-2.0
/*
 * pc_fwcfg: QEMU's fw_cfg legacy interface at 0x510/0x511.
 * Command line: cpus=N mem=MIB.
 */
#include "lib.h"

#define FW_CFG_SIGNATURE	0x00
#define FW_CFG_ID		0x01
#define FW_CFG_UUID		0x02
#define FW_CFG_RAM_SIZE		0x03
#define FW_CFG_NB_CPUS		0x05
#define FW_CFG_MAX_CPUS		0x0f
#define FW_CFG_CMDLINE_SIZE	0x14
#define FW_CFG_CMDLINE_DATA	0x15
#define FW_CFG_FILE_DIR		0x19
#define FW_CFG_IRQ0_OVERRIDE	0x8002

void test_main(void)
{
	u32 cpus = atou(arg_value("cpus") ? arg_value("cpus") : "1");
	u32 mem = atou(arg_value("mem") ? arg_value("mem") : "0");
	const char *cmd = (const char *)(ulong)mbi->cmdline;
	u8 sig[8], uuid[16], files[4], buf[256];
	u32 len, i;
	u64 ram;

	fwcfg_read(FW_CFG_SIGNATURE, sig, 4);
	ok(!memcmp(sig, "QEMU", 4), "signature QEMU");
	/* reselecting rewinds; past the end reads 0 */
	fwcfg_read(FW_CFG_SIGNATURE, sig, 8);
	ok(!memcmp(sig, "QEMU\0\0\0\0", 8), "reselect rewinds, 0 past the end");
	ok(fwcfg_u64(FW_CFG_ID, 4) == 1, "ID: traditional interface, no DMA");
	fwcfg_read(FW_CFG_UUID, uuid, 16);
	ok(fwcfg_u64(FW_CFG_UUID, 8) == 0, "UUID zero");

	ram = fwcfg_u64(FW_CFG_RAM_SIZE, 8);
	ok(ram == (u64)mem << 20, "RAM size %u MiB", (u32)(ram >> 20));
	ok(ram == ((u64)mbi->mem_upper + 1024) * 1024,
	   "RAM size agrees with multiboot mem_upper");
	ok(fwcfg_u64(FW_CFG_NB_CPUS, 2) == cpus, "%u CPUs", cpus);
	ok(fwcfg_u64(FW_CFG_MAX_CPUS, 2) == cpus, "max CPUs %u", cpus);
	fwcfg_read(FW_CFG_FILE_DIR, files, 4);
	ok(!files[0] && !files[1] && !files[2] && !files[3],
	   "file directory: 0 files");
	ok(fwcfg_u64(FW_CFG_IRQ0_OVERRIDE, 4) == 1, "IRQ0 override");
	ok(fwcfg_u64(0x1234, 8) == 0, "an unknown item reads 0");

	/* the command line item: what follows the name on the mb one */
	len = fwcfg_u64(FW_CFG_CMDLINE_SIZE, 4);
	ok(len > 0 && len <= sizeof(buf), "command line size %u", len);
	if (len > sizeof(buf))
		len = sizeof(buf);
	fwcfg_read(FW_CFG_CMDLINE_DATA, buf, len);
	ok(len && !buf[len - 1] &&
	   !strcmp((char *)buf, cmd + strlen(argv[0]) + 1),
	   "command line item is the --append text");

	/* byte reads work at 0x510 too; word reads do not select */
	outw(0x510, FW_CFG_SIGNATURE);
	sig[0] = inb(0x510);
	sig[1] = inb(0x511);
	ok(sig[0] == 'Q' && sig[1] == 'E', "data at 0x510 and 0x511");
	outb(0x511, 0x55);		/* data writes are ignored */
	sig[2] = inb(0x511);
	ok(sig[2] == 'M', "writes to the data port are ignored");
	for (i = 0; i < 2; i++)
		(void)inb(0x511);
	ok(inb(0x511) == 0, "0 after the end");
}
