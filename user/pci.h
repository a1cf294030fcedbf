/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shv-run: PCI bus 0 of the PC machine (devices/pci.c): configuration
 * mechanism #1 at 0xcf8/0xcfc and BAR decoding in the PCI windows of
 * pc.h.  The runner plays the firmware: BARs are assigned and decoding
 * is enabled before the guest starts; the guest may move them within
 * the windows.
 */
#ifndef SHV_RUN_PCI_H
#define SHV_RUN_PCI_H

#include "bus.h"

#define PCI_CFG_SIZE		256
#define PCI_NR_BARS		6

#define PCI_VENDOR_ID		0x00
#define PCI_DEVICE_ID		0x02
#define PCI_COMMAND		0x04
#define PCI_STATUS		0x06
#define PCI_REVISION_ID		0x08
#define PCI_CLASS_PROG		0x09
#define PCI_CLASS_DEVICE	0x0a
#define PCI_CACHE_LINE_SIZE	0x0c
#define PCI_LATENCY_TIMER	0x0d
#define PCI_HEADER_TYPE		0x0e
#define PCI_BASE_ADDRESS_0	0x10
#define PCI_SUBSYSTEM_VENDOR_ID	0x2c
#define PCI_SUBSYSTEM_ID	0x2e
#define PCI_INTERRUPT_LINE	0x3c
#define PCI_INTERRUPT_PIN	0x3d

#define PCI_COMMAND_IO		0x1
#define PCI_COMMAND_MEMORY	0x2

struct pci_bar {
	u32 size;		/* power of two; 0: no BAR */
	bool io;
	bus_io_fn *fn;		/* offset is from the BAR's base */
	void *opaque;
};

struct pci_device {
	const char *name;
	u8 devfn;		/* slot << 3 | function, on bus 0 */
	u8 cfg[PCI_CFG_SIZE];
	u8 wmask[PCI_CFG_SIZE];	/* guest-writable bits */
	struct pci_bar bars[PCI_NR_BARS];
};

/*
 * Set up the header of @d: IDs, class (base << 16 | sub << 8 | prog),
 * revision, header type 0 (| 0x80 if @multifunction), writable command,
 * cache line size, latency timer and interrupt line.
 */
void pci_init_header(struct pci_device *d, u16 vendor, u16 device,
		     u32 class_code, u8 revision, bool multifunction);

/* Add @d to bus 0, assign its BARs and enable their decoding */
int pci_add(struct pci_device *d);

#endif /* SHV_RUN_PCI_H */
