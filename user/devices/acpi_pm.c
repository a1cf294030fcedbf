// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: the ACPI fixed-hardware registers the FADT points at, at port
 * 0x600 (where QEMU's PIIX4 power management puts them):
 *
 *   0x600  PM1a_STS  16 bits  TMR_STS (bit 0) set whenever the timer's
 *                             bit 23 changed since last cleared; WAK_STS;
 *                             write 1 to clear
 *   0x602  PM1a_EN   16 bits  stored (no SCI is ever raised)
 *   0x604  PM1a_CNT  16 bits  SCI_EN (bit 0) always 1: there is no SMI
 *                             command port, the machine is always in ACPI
 *                             mode; SLP_EN (bit 13) with SLP_TYP (12-10)
 *                             0, the DSDT's \_S5, powers off: the run
 *                             ends with status 0
 *   0x608  PM_TMR    32 bits  read-only 24-bit counter at 3.579545 MHz
 *                             from the host's CLOCK_MONOTONIC
 *
 * Accesses of any width are taken byte by byte.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "../bus.h"
#include "../dev.h"
#include "../pc.h"
#include "../vm.h"

#define PM_TIMER_HZ	3579545ULL
#define PM1_STS_TMR	(1u << 0)
#define PM1_STS_WAK	(1u << 15)
#define PM1_CNT_SCI_EN	(1u << 0)
#define PM1_CNT_SLP_TYP	(7u << 10)
#define PM1_CNT_SLP_EN	(1u << 13)

static struct acpi_pm {
	pthread_mutex_t lock;
	struct vm *vm;
	u16 sts, en, cnt;
	u32 last_timer;		/* for TMR_STS */
} pm = { .lock = PTHREAD_MUTEX_INITIALIZER };

static u32 pm_timer(void)
{
	struct timespec ts;
	unsigned __int128 ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (unsigned __int128)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	return (u32)(ns * PM_TIMER_HZ / 1000000000ULL) & 0xffffff;
}

static u16 pm_status(void)
{
	u32 now = pm_timer();

	if ((now ^ pm.last_timer) & 0x800000)
		pm.sts |= PM1_STS_TMR;
	pm.last_timer = now;
	return pm.sts;
}

/* the registers as one access sees them: the timer is read once */
static void pm_snapshot(u8 regs[PC_PM_SIZE])
{
	u32 timer = pm_timer();
	u16 sts = pm_status();

	memset(regs, 0, PC_PM_SIZE);
	le_put(regs + 0, 2, sts);
	le_put(regs + 2, 2, pm.en);
	le_put(regs + 4, 2, pm.cnt | PM1_CNT_SCI_EN);
	le_put(regs + 8, 4, timer);
}

static void pm_write_cnt(u16 v)
{
	pm.cnt = v & ~PM1_CNT_SLP_EN;
	if ((v & PM1_CNT_SLP_EN) && !(v & PM1_CNT_SLP_TYP)) {
		pr_info("guest powered off (ACPI S5)");
		vm_request_exit(pm.vm, STATUS_OK);
	}
}

static void pm_io(void *opaque, u64 offset, u8 *data, u32 len,
		  bool is_write)
{
	u32 i;

	(void)opaque;
	pthread_mutex_lock(&pm.lock);
	if (is_write) {
		/* whole registers: gather the bytes, then act once */
		u16 sts_clear = 0, en = pm.en, cnt = pm.cnt;
		bool cnt_written = false;

		for (i = 0; i < len; i++) {
			u64 off = offset + i;
			u16 b = data[i];

			switch (off) {
			case 0: case 1:
				sts_clear |= b << (8 * off);
				break;
			case 2: case 3:
				en = (en & ~(0xff << (8 * (off - 2)))) |
				     b << (8 * (off - 2));
				break;
			case 4: case 5:
				cnt = (cnt & ~(0xff << (8 * (off - 4)))) |
				      b << (8 * (off - 4));
				cnt_written = true;
				break;
			}
		}
		pm.sts &= ~sts_clear;
		pm.en = en;
		if (cnt_written)
			pm_write_cnt(cnt);
	} else {
		u8 regs[PC_PM_SIZE];

		pm_snapshot(regs);
		for (i = 0; i < len; i++)
			data[i] = offset + i < PC_PM_SIZE ? regs[offset + i] : 0;
	}
	pthread_mutex_unlock(&pm.lock);
}

static void acpi_pm_reset(struct device *dev)
{
	(void)dev;
	pthread_mutex_lock(&pm.lock);
	pm.sts = 0;
	pm.en = 0;
	pm.cnt = 0;
	pm.last_timer = pm_timer();
	pthread_mutex_unlock(&pm.lock);
}

static int acpi_pm_init(struct device *dev, struct vm *vm)
{
	pm.vm = vm;
	acpi_pm_reset(dev);
	return bus_register(BUS_PIO, PC_PM_BASE, PC_PM_SIZE, "acpi-pm",
			    pm_io, NULL);
}

static struct device acpi_pm_dev = {
	.name		= "acpi-pm",
	.machines	= DEV_MACHINE_PC,
	.init		= acpi_pm_init,
	.reset		= acpi_pm_reset,
};
DEVICE_REGISTER(acpi_pm_dev);
