// SPDX-License-Identifier: GPL-2.0
/*
 * shv-aes-cbc-essiv: the aes-cbc-essiv:sha256 encryption plug-in for shv's
 * encrypted disks, the same sectors as dm-crypt's aes-cbc-essiv:sha256:
 * AES-CBC of each sector whose IV is the little-endian 64-bit sector
 * number encrypted with AES under SHA-256(key) (the kernel's essiv
 * template does that step).  Keys of 16, 24 or 32 bytes.
 * Documentation/crypt.rst.
 */
#include <linux/module.h>

#include "shv_crypt.h"

static int shv_aes_cbc_essiv_init(struct shv_crypt_inst *inst, const u8 *key)
{
	return shv_crypt_skcipher_init(inst, "essiv(cbc(aes),sha256)", key);
}

static struct shv_crypt_plugin shv_aes_cbc_essiv = {
	.name		= "aes-cbc-essiv:sha256",
	.owner		= THIS_MODULE,
	.key_sizes	= { 16, 24, 32 },
	.sector_sizes	= 512 | 1024 | 2048 | 4096,
	.iv_scheme	= SHV_CRYPT_IV_ESSIV,
	.init		= shv_aes_cbc_essiv_init,
	.exit		= shv_crypt_skcipher_exit,
	.reqsize	= shv_crypt_skcipher_reqsize,
	.transform	= shv_crypt_skcipher_transform,
};

static int __init shv_aes_cbc_essiv_mod_init(void)
{
	return shv_crypt_register(&shv_aes_cbc_essiv);
}

static void __exit shv_aes_cbc_essiv_mod_exit(void)
{
	shv_crypt_unregister(&shv_aes_cbc_essiv);
}

module_init(shv_aes_cbc_essiv_mod_init);
module_exit(shv_aes_cbc_essiv_mod_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The shv developers");
MODULE_DESCRIPTION("shv encryption plug-in: aes-cbc-essiv:sha256");
MODULE_SOFTDEP("pre: essiv");
