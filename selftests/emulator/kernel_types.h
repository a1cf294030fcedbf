/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel types the decoder and the emulator core use, for building
 * them in userspace (kmod/decode.h includes this when !__KERNEL__).
 */
#ifndef SHV_KERNEL_TYPES_H
#define SHV_KERNEL_TYPES_H

#include <stdbool.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

#ifndef BIT
#define BIT(n)		(1UL << (n))
#endif
#ifndef BIT_ULL
#define BIT_ULL(n)	(1ULL << (n))
#endif

#endif /* SHV_KERNEL_TYPES_H */
