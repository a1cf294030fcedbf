/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shv encryption plug-ins: the interface between shv.ko's encrypted disks
 * and the modules that encrypt their sectors.  See Documentation/crypt.rst.
 *
 * A plug-in is a module that fills in a struct shv_crypt_plugin and
 * registers it with shv_crypt_register() from its init function (and
 * shv_crypt_unregister() from its exit).  shv takes a reference on the
 * plug-in's module for every disk that uses it, so the module cannot be
 * unloaded under a disk.
 *
 * For every disk, shv calls ->init() with the key, once; the plug-in
 * keeps what it needs (a crypto API transform, usually) in inst->priv.
 * Then ->transform() encrypts or decrypts one sector per request,
 * asynchronously: it returns -EINPROGRESS and calls req->complete() later
 * (from any context, once), or completes at once and returns 0 or -errno
 * without calling req->complete().  Many requests of one instance are in
 * flight at a time.  ->exit() frees the instance's state; the key must not
 * survive it (crypto_free_*() wipes a transform's key schedule).
 *
 * An authenticated plug-in (caps SHV_CRYPT_CAP_AUTH) also has meta_size
 * bytes of metadata per sector (nonce, tag), which the disk layer keeps in
 * a metadata area of the image and passes in req->meta: ->transform()
 * fills it when encrypting and checks it when decrypting (-EBADMSG when
 * the sector does not authenticate).  inst->uuid identifies the image.
 */
#ifndef SHV_CRYPT_H
#define SHV_CRYPT_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/crypto.h>
#include <uapi/linux/shv.h>

struct shv_crypt_plugin;

/* a plug-in keyed for one disk */
struct shv_crypt_inst {
	struct shv_crypt_plugin *plugin;
	unsigned int sector_size;	/* bytes */
	unsigned int key_size;		/* bytes */
	u8 uuid[16];			/* authenticated: the image's UUID */
	void *priv;			/* the plug-in's */
};

/* one sector to encrypt or decrypt */
struct shv_crypt_req {
	struct shv_crypt_inst *inst;
	u64 iv_sector;		/* the sector number that makes the IV */
	/* sector_size bytes, at most two entries each; dst may equal src */
	struct scatterlist *src;
	struct scatterlist *dst;
	u8 *meta;		/* authenticated: the sector's meta_size bytes */
	bool encrypt;
	void (*complete)(struct shv_crypt_req *req, int err);
	void *data;		/* the caller's */
	/* the plug-in's request context, ->reqsize() bytes */
	u8 ctx[] CRYPTO_MINALIGN_ATTR;
};

struct shv_crypt_plugin {
	const char *name;	/* the cipher spec, dm-crypt style */
	struct module *owner;	/* THIS_MODULE */
	u16 key_sizes[SHV_CRYPT_MAX_KEY_SIZES];	/* bytes, 0 ends the list */
	u32 sector_sizes;	/* OR of the sizes supported, 512..4096 */
	u32 iv_scheme;		/* SHV_CRYPT_IV_* */
	u32 caps;		/* SHV_CRYPT_CAP_* */
	/* SHV_CRYPT_CAP_AUTH: metadata bytes per sector, 1..64; else 0 */
	unsigned int meta_size;

	int (*init)(struct shv_crypt_inst *inst, const u8 *key);
	void (*exit)(struct shv_crypt_inst *inst);
	/* bytes of request context ->transform() needs after req->ctx */
	unsigned int (*reqsize)(struct shv_crypt_inst *inst);
	int (*transform)(struct shv_crypt_req *req);

	/* shv's: the registry */
	struct list_head list;
	unsigned int users;
};

#define SHV_CRYPT_MAX_META_SIZE	64

int shv_crypt_register(struct shv_crypt_plugin *p);
void shv_crypt_unregister(struct shv_crypt_plugin *p);

/*
 * Helpers for plug-ins whose sectors are a kernel skcipher with an IV
 * made of the le64 sector number, zero padded (plain64; also the input
 * of the kernel's essiv template).  inst->priv is the transform.
 */
int shv_crypt_skcipher_init(struct shv_crypt_inst *inst, const char *alg,
			    const u8 *key);
void shv_crypt_skcipher_exit(struct shv_crypt_inst *inst);
unsigned int shv_crypt_skcipher_reqsize(struct shv_crypt_inst *inst);
int shv_crypt_skcipher_transform(struct shv_crypt_req *req);

#endif /* SHV_CRYPT_H */
