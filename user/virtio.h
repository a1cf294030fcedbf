/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shv-run: virtio 1.x over PCI (the "modern" interface of the virtio
 * specification, sections 2 and 4.1) and the virtio-blk device
 * (devices/virtio_blk.c, Documentation/machine.rst).
 */
#ifndef SHV_RUN_VIRTIO_H
#define SHV_RUN_VIRTIO_H

#include "util.h"

struct accel_ops;

/* device status (2.1) */
#define VIRTIO_STATUS_ACKNOWLEDGE	0x01
#define VIRTIO_STATUS_DRIVER		0x02
#define VIRTIO_STATUS_DRIVER_OK		0x04
#define VIRTIO_STATUS_FEATURES_OK	0x08
#define VIRTIO_STATUS_NEEDS_RESET	0x40
#define VIRTIO_STATUS_FAILED		0x80

/* reserved feature bits (6) */
#define VIRTIO_F_VERSION_1		32

/* PCI: vendor, capabilities (4.1.4) */
#define VIRTIO_PCI_VENDOR		0x1af4
#define VIRTIO_PCI_DEVICE_BASE		0x1040	/* + device id */
#define VIRTIO_PCI_CAP_COMMON_CFG	1
#define VIRTIO_PCI_CAP_NOTIFY_CFG	2
#define VIRTIO_PCI_CAP_ISR_CFG		3
#define VIRTIO_PCI_CAP_DEVICE_CFG	4
#define VIRTIO_PCI_CAP_PCI_CFG		5
#define VIRTIO_MSI_NO_VECTOR		0xffff

/* common configuration structure, offsets (4.1.4.3) */
#define VIRTIO_PCI_DFSELECT		0x00
#define VIRTIO_PCI_DF			0x04
#define VIRTIO_PCI_GFSELECT		0x08
#define VIRTIO_PCI_GF			0x0c
#define VIRTIO_PCI_MSIX_CONFIG		0x10
#define VIRTIO_PCI_NUM_QUEUES		0x12
#define VIRTIO_PCI_STATUS		0x14
#define VIRTIO_PCI_CFG_GENERATION	0x15
#define VIRTIO_PCI_Q_SELECT		0x16
#define VIRTIO_PCI_Q_SIZE		0x18
#define VIRTIO_PCI_Q_MSIX		0x1a
#define VIRTIO_PCI_Q_ENABLE		0x1c
#define VIRTIO_PCI_Q_NOFF		0x1e
#define VIRTIO_PCI_Q_DESC		0x20
#define VIRTIO_PCI_Q_AVAIL		0x28
#define VIRTIO_PCI_Q_USED		0x30
#define VIRTIO_PCI_COMMON_SIZE		0x38

/* split virtqueues (2.7) */
#define VRING_DESC_F_NEXT		1
#define VRING_DESC_F_WRITE		2
#define VRING_DESC_F_INDIRECT		4
#define VRING_AVAIL_F_NO_INTERRUPT	1

/* virtio-blk (5.2) */
#define VIRTIO_ID_BLOCK			2
#define VIRTIO_BLK_F_SIZE_MAX		1
#define VIRTIO_BLK_F_SEG_MAX		2
#define VIRTIO_BLK_F_RO			5
#define VIRTIO_BLK_F_BLK_SIZE		6
#define VIRTIO_BLK_F_FLUSH		9
#define VIRTIO_BLK_F_DISCARD		13

#define VIRTIO_BLK_T_IN			0
#define VIRTIO_BLK_T_OUT		1
#define VIRTIO_BLK_T_FLUSH		4
#define VIRTIO_BLK_T_GET_ID		8
#define VIRTIO_BLK_T_DISCARD		11

#define VIRTIO_BLK_S_OK			0
#define VIRTIO_BLK_S_IOERR		1
#define VIRTIO_BLK_S_UNSUPP		2

#define VIRTIO_BLK_ID_BYTES		20

/* struct virtio_blk_config offsets */
#define VIRTIO_BLK_CFG_CAPACITY		0x00
#define VIRTIO_BLK_CFG_SIZE_MAX		0x08
#define VIRTIO_BLK_CFG_SEG_MAX		0x0c
#define VIRTIO_BLK_CFG_BLK_SIZE		0x14
#define VIRTIO_BLK_CFG_NUM_QUEUES	0x22
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 0x24
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG	0x28
#define VIRTIO_BLK_CFG_DISCARD_ALIGN	0x2c
#define VIRTIO_BLK_CFG_SIZE		0x3c

/*
 * --disk path[,format=raw][,cipher=SPEC,keyid=DESC|keyfile=PATH]
 *        [,sector=512|4096][,ro]: one more virtio-blk disk.  0, or -1
 * with a message.
 */
int disk_parse_option(const char *arg);
/* After every option: the disks against the accelerator and machine */
int disk_check_options(const struct accel_ops *accel, bool pc_machine);

#endif /* SHV_RUN_VIRTIO_H */
