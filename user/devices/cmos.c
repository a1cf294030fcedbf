// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: the MC146818 RTC and CMOS RAM at ports 0x70 (index) and 0x71
 * (data), as QEMU's mc146818rtc on a PC.
 *
 * Port 0x70: bits 6-0 select one of 128 bytes; bit 7 is the NMI mask,
 * remembered but not applied (nothing here raises NMIs).  Reading 0x70
 * returns 0xff, as in QEMU.  Time and date (0x00-0x09, century 0x32)
 * are computed from the host's clock (UTC) plus an offset that guest
 * writes of those registers set, encoded in BCD or binary and 12 or 24
 * hour format as status register B says.  Register A's UIP bit is set
 * during the last 244 us of each second; C reads 0 (no interrupts are
 * generated: no alarm, periodic or update interrupt on IRQ 8); D reads
 * 0x80 (valid RAM and time).  The memory-size bytes are filled in as
 * QEMU's pc_cmos_init does.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "../bus.h"
#include "../dev.h"
#include "../vm.h"

#define CMOS_PORT		0x70
#define CMOS_SIZE		128

#define RTC_SECONDS		0x00
#define RTC_SECONDS_ALARM	0x01
#define RTC_MINUTES		0x02
#define RTC_MINUTES_ALARM	0x03
#define RTC_HOURS		0x04
#define RTC_HOURS_ALARM		0x05
#define RTC_DAY_OF_WEEK		0x06
#define RTC_DAY_OF_MONTH	0x07
#define RTC_MONTH		0x08
#define RTC_YEAR		0x09
#define RTC_REG_A		0x0a
#define RTC_REG_B		0x0b
#define RTC_REG_C		0x0c
#define RTC_REG_D		0x0d
#define RTC_CENTURY		0x32

#define REG_A_UIP		0x80
#define REG_B_SET		0x80
#define REG_B_DM		0x04	/* binary */
#define REG_B_24H		0x02
#define REG_D_VRT		0x80

static struct cmos {
	pthread_mutex_t lock;
	u8 index;
	bool nmi_masked;
	u8 ram[CMOS_SIZE];
	time_t offset;		/* guest time - host time, seconds */
} cmos = { .lock = PTHREAD_MUTEX_INITIALIZER };

static bool is_time_reg(u8 r)
{
	return r <= RTC_YEAR || r == RTC_CENTURY;
}

static u8 to_rtc(int v)
{
	if (cmos.ram[RTC_REG_B] & REG_B_DM)
		return v;
	return ((v / 10) << 4) | (v % 10);
}

static int from_rtc(u8 v)
{
	if (cmos.ram[RTC_REG_B] & REG_B_DM)
		return v;
	return (v >> 4) * 10 + (v & 0xf);
}

static void guest_time(struct tm *tm, long *nsec)
{
	struct timespec ts;
	time_t t;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = ts.tv_sec + cmos.offset;
	gmtime_r(&t, tm);
	if (nsec)
		*nsec = ts.tv_nsec;
}

static u8 rtc_hours(int h)
{
	bool pm = h >= 12;

	if (cmos.ram[RTC_REG_B] & REG_B_24H)
		return to_rtc(h);
	h %= 12;
	return to_rtc(h ? h : 12) | (pm ? 0x80 : 0);
}

static u8 read_time_reg(u8 r)
{
	struct tm tm;

	guest_time(&tm, NULL);
	switch (r) {
	case RTC_SECONDS:	return to_rtc(tm.tm_sec);
	case RTC_MINUTES:	return to_rtc(tm.tm_min);
	case RTC_HOURS:		return rtc_hours(tm.tm_hour);
	case RTC_DAY_OF_WEEK:	return to_rtc(tm.tm_wday + 1);
	case RTC_DAY_OF_MONTH:	return to_rtc(tm.tm_mday);
	case RTC_MONTH:		return to_rtc(tm.tm_mon + 1);
	case RTC_YEAR:		return to_rtc(tm.tm_year % 100);
	case RTC_CENTURY:	return to_rtc((tm.tm_year + 1900) / 100);
	default:		return cmos.ram[r];	/* alarms */
	}
}

/* A guest write of a time register: move the clock to match it */
static void write_time_reg(u8 r, u8 v)
{
	struct timespec ts;
	struct tm tm;
	int h;

	if (r == RTC_SECONDS_ALARM || r == RTC_MINUTES_ALARM ||
	    r == RTC_HOURS_ALARM) {
		cmos.ram[r] = v;
		return;
	}
	guest_time(&tm, NULL);
	switch (r) {
	case RTC_SECONDS:	tm.tm_sec = from_rtc(v); break;
	case RTC_MINUTES:	tm.tm_min = from_rtc(v); break;
	case RTC_HOURS:
		if (cmos.ram[RTC_REG_B] & REG_B_24H) {
			tm.tm_hour = from_rtc(v);
		} else {
			h = from_rtc(v & 0x7f) % 12;
			tm.tm_hour = h + ((v & 0x80) ? 12 : 0);
		}
		break;
	case RTC_DAY_OF_WEEK:	return;		/* derived from the date */
	case RTC_DAY_OF_MONTH:	tm.tm_mday = from_rtc(v); break;
	case RTC_MONTH:		tm.tm_mon = from_rtc(v) - 1; break;
	case RTC_YEAR:
		tm.tm_year = (tm.tm_year + 1900) / 100 * 100 + from_rtc(v) -
			     1900;
		break;
	case RTC_CENTURY:
		tm.tm_year = from_rtc(v) * 100 + (tm.tm_year % 100) - 1900;
		break;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	cmos.offset = timegm(&tm) - ts.tv_sec;
}

static u8 cmos_read(u8 r)
{
	long nsec;
	struct tm tm;
	u8 v;

	if (is_time_reg(r) || r == RTC_SECONDS_ALARM ||
	    r == RTC_MINUTES_ALARM || r == RTC_HOURS_ALARM)
		return read_time_reg(r);
	switch (r) {
	case RTC_REG_A:
		guest_time(&tm, &nsec);
		v = cmos.ram[RTC_REG_A] & ~REG_A_UIP;
		if (!(cmos.ram[RTC_REG_B] & REG_B_SET) &&
		    nsec >= 1000000000L - 244000L)
			v |= REG_A_UIP;
		return v;
	case RTC_REG_C:
		v = cmos.ram[RTC_REG_C];
		cmos.ram[RTC_REG_C] = 0;
		return v;
	case RTC_REG_D:
		return REG_D_VRT;
	default:
		return cmos.ram[r];
	}
}

static void cmos_write(u8 r, u8 v)
{
	if (is_time_reg(r) || r == RTC_SECONDS_ALARM ||
	    r == RTC_MINUTES_ALARM || r == RTC_HOURS_ALARM) {
		write_time_reg(r, v);
		return;
	}
	switch (r) {
	case RTC_REG_A:
		cmos.ram[r] = v & ~REG_A_UIP;
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break;			/* read-only */
	default:
		cmos.ram[r] = v;
	}
}

static void cmos_io(void *opaque, u64 offset, u8 *data, u32 len,
		    bool is_write)
{
	u32 i;

	(void)opaque;
	pthread_mutex_lock(&cmos.lock);
	for (i = 0; i < len; i++) {
		u64 port = offset + i;

		if (port == 0) {
			if (is_write) {
				cmos.index = data[i] & 0x7f;
				cmos.nmi_masked = data[i] & 0x80;
			} else {
				data[i] = 0xff;
			}
		} else if (port == 1) {
			if (is_write)
				cmos_write(cmos.index, data[i]);
			else
				data[i] = cmos_read(cmos.index);
		} else if (!is_write) {
			data[i] = 0xff;
		}
	}
	pthread_mutex_unlock(&cmos.lock);
}

static void cmos_reset(struct device *dev)
{
	struct vm *vm = dev->priv;
	u64 ram = vm->mem.size, below_4g = ram, kib;

	pthread_mutex_lock(&cmos.lock);
	memset(cmos.ram, 0, sizeof(cmos.ram));
	cmos.index = 0;
	cmos.nmi_masked = false;
	cmos.offset = 0;
	cmos.ram[RTC_REG_A] = 0x26;		/* 32.768 kHz, 1024 Hz */
	cmos.ram[RTC_REG_B] = REG_B_24H;	/* BCD, 24 hour */

	cmos.ram[0x14] = 0x06;			/* equipment: FPU, mouse */
	/* base memory: 640 KiB */
	cmos.ram[0x15] = 640 & 0xff;
	cmos.ram[0x16] = 640 >> 8;
	/* extended memory above 1 MiB in KiB, at most 65535 */
	kib = ram / 1024 > 1024 ? ram / 1024 - 1024 : 0;
	if (kib > 65535)
		kib = 65535;
	cmos.ram[0x17] = cmos.ram[0x30] = kib & 0xff;
	cmos.ram[0x18] = cmos.ram[0x31] = kib >> 8;
	/* memory above 16 MiB in 64 KiB units, at most 65535 */
	kib = below_4g > (16 << 20) ? (below_4g - (16 << 20)) >> 16 : 0;
	if (kib > 65535)
		kib = 65535;
	cmos.ram[0x34] = kib & 0xff;
	cmos.ram[0x35] = kib >> 8;
	/* memory above 4 GiB in 64 KiB units: none */
	cmos.ram[0x5b] = cmos.ram[0x5c] = cmos.ram[0x5d] = 0;
	cmos.ram[0x5f] = vm->smp - 1;		/* number of CPUs - 1 */
	pthread_mutex_unlock(&cmos.lock);
}

static int cmos_init(struct device *dev, struct vm *vm)
{
	dev->priv = vm;
	cmos_reset(dev);
	return bus_register(BUS_PIO, CMOS_PORT, 2, "cmos-rtc", cmos_io, NULL);
}

static struct device cmos_dev = {
	.name		= "cmos-rtc",
	.machines	= DEV_MACHINE_PC,
	.init		= cmos_init,
	.reset		= cmos_reset,
};
DEVICE_REGISTER(cmos_dev);
