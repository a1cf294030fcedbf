// SPDX-License-Identifier: GPL-2.0
/*
 * shv-aes-xts: the aes-xts-plain64 encryption plug-in for shv's encrypted
 * disks, the same sectors as dm-crypt's aes-xts-plain64 (cryptsetup
 * --type plain --cipher aes-xts-plain64): AES-XTS of each sector with the
 * IV the little-endian 64-bit sector number.  Keys of 32, 48 or 64 bytes
 * (two AES-128, -192 or -256 keys).  Documentation/crypt.rst.
 */
#include <linux/module.h>

#include "shv_crypt.h"

static int shv_aes_xts_init(struct shv_crypt_inst *inst, const u8 *key)
{
	return shv_crypt_skcipher_init(inst, "xts(aes)", key);
}

static struct shv_crypt_plugin shv_aes_xts = {
	.name		= "aes-xts-plain64",
	.owner		= THIS_MODULE,
	.key_sizes	= { 32, 48, 64 },
	.sector_sizes	= 512 | 1024 | 2048 | 4096,
	.iv_scheme	= SHV_CRYPT_IV_PLAIN64,
	.init		= shv_aes_xts_init,
	.exit		= shv_crypt_skcipher_exit,
	.reqsize	= shv_crypt_skcipher_reqsize,
	.transform	= shv_crypt_skcipher_transform,
};

static int __init shv_aes_xts_mod_init(void)
{
	return shv_crypt_register(&shv_aes_xts);
}

static void __exit shv_aes_xts_mod_exit(void)
{
	shv_crypt_unregister(&shv_aes_xts);
}

module_init(shv_aes_xts_mod_init);
module_exit(shv_aes_xts_mod_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The shv developers");
MODULE_DESCRIPTION("shv encryption plug-in: aes-xts-plain64");
MODULE_SOFTDEP("pre: xts");
