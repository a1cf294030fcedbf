/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Layout and constants shared by synic_test.c and its guest code
 * (synic_guest.S).  Guest registers by convention, set by the test and
 * never changed by the guest: r12 = this vCPU's SIMP page, r13 = its SIEF
 * page, r14 = its hypercall input page, r15 = its data block (PC_*).
 */
#ifndef SYNIC_TEST_H
#define SYNIC_TEST_H

#define SHARED_GPA	0x20000		/* SH_*: between vCPUs */
#define PCPU0_GPA	0x21000		/* data blocks */
#define PCPU1_GPA	0x22000
#define HCALL_GPA	0x30000		/* hypercall page */
#define SIMP0_GPA	0x31000
#define SIEF0_GPA	0x32000
#define INPUT0_GPA	0x33000
#define SIMP1_GPA	0x34000
#define SIEF1_GPA	0x35000
#define INPUT1_GPA	0x36000
#define AP_STACK	0x60000
#define AP_SIPI_VECTOR	0x70		/* the AP starts at 0x70000 */

#define SH_READY	0x00
#define SH_DONE		0x08

#define PC_MSGS		0x00		/* message interrupts taken */
#define PC_EVTS		0x08		/* event interrupts taken */
#define PC_EOI_MODE	0x10		/* 0 none, 1 x2APIC EOI, 2 HV EOI MSR */
#define PC_EOMS		0x18		/* EOM writes */
#define PC_NLOG		0x20		/* log entries written */
#define PC_DIRECT	0x28		/* direct-mode timer interrupts */
#define PC_FLAGS	0x30		/* event flags 0..63 seen */
#define PC_LOG		0x100		/* 32 entries of 64 bytes, wrapping */
#define LOG_TYPE	0x00		/* message type or vector */
#define LOG_P0		0x08		/* payload qwords 0..2 */
#define LOG_P1		0x10
#define LOG_P2		0x18
#define LOG_FLAGS	0x20		/* message flags after the type clear */
#define LOG_SINT	0x28

#define SINT_MSG	2
#define SINT_EVT	3
#define SINT_TMR	4
#define SINT_RAW	5		/* raised from userspace */
#define VEC_MSG		0x52
#define VEC_EVT		0x53
#define VEC_TMR		0x54
#define VEC_DIRECT	0x60
#define VEC_LO		0x41
#define VEC_MID		0x42
#define VEC_HI		0x81

#define CONN_SELF_MSG	2		/* this vCPU, SINT_MSG */
#define CONN_SELF_EVT	3		/* this vCPU, SINT_EVT */
#define CONN_AP_MSG	12		/* vCPU 1 */
#define CONN_AP_EVT	13
#define CONN_VMB_MSG	20		/* vCPU 0 of another VM */
#define CONN_VMB_EVT	21
#define CONN_PORT_EVT	30		/* SINT_EVT, flags 40 and 41 */
#define CONN_BAD	99

#define N_IRQS		16		/* interrupts per exit-count phase */

/* Hyper-V */
#define HV_GUEST_OS_ID	0x40000000
#define HV_HYPERCALL	0x40000001
#define HV_VP_INDEX	0x40000002
#define HV_TIME_REF	0x40000020
#define HV_EOI		0x40000070
#define HV_SCONTROL	0x40000080
#define HV_SVERSION	0x40000081
#define HV_SIEFP	0x40000082
#define HV_SIMP		0x40000083
#define HV_EOM		0x40000084
#define HV_SINT0	0x40000090
#define HV_STIMER0_CFG	0x400000b0
#define HV_STIMER0_CNT	0x400000b1
#define HV_SINT_AUTOEOI	0x20000
#define HV_SINT_MASKED	0x10000
#define HV_SINT_POLLING	0x40000
#define HV_ST_ENABLE	0x1
#define HV_ST_PERIODIC	0x2
#define HV_ST_DIRECT	0x1000
#define HVCALL_POST	0x5c
#define HVCALL_SIGNAL	0x5d
#define HV_FAST		0x10000
#define HVMSG_TIMER	0x80000010

#define HV_STATUS_INVALID_HYPERCALL_CODE	2
#define HV_STATUS_INVALID_HYPERCALL_INPUT	3
#define HV_STATUS_INVALID_PARAMETER		5
#define HV_STATUS_INVALID_PORT_ID		17
#define HV_STATUS_INVALID_CONNECTION_ID		18
#define HV_STATUS_INSUFFICIENT_BUFFERS		19

#endif /* SYNIC_TEST_H */
