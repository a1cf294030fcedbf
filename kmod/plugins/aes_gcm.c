// SPDX-License-Identifier: GPL-2.0
/*
 * shv-aes-gcm: the authenticated encryption plug-in "aes-gcm-random" for
 * shv's encrypted disks.  Each sector is AES-GCM (the kernel's gcm(aes))
 * under the disk key with a fresh random 96-bit nonce per write; the
 * nonce and the 128-bit tag are the sector's metadata entry, which the
 * disk layer keeps in the image's metadata area.  The additional
 * authenticated data binds the sector to the image (its UUID) and to its
 * place (the IV sector), so tampered, moved or copied sectors fail with
 * -EBADMSG.  Keys of 16, 24 or 32 bytes.  Documentation/crypt.rst, "The
 * authenticated layout".
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/random.h>
#include <crypto/aead.h>
#include <crypto/gcm.h>
#include <asm/unaligned.h>

#include "shv_crypt.h"

#define GCM_NONCE	GCM_AES_IV_SIZE		/* 12 */
#define GCM_TAG		16
#define GCM_META	32	/* nonce, tag, 4 bytes 0 */
#define GCM_AAD		24	/* uuid, le64 IV sector */

/* one sector's AEAD request, allocated per sector (linear memory) */
struct shv_gcm_rq {
	u8 iv[GCM_NONCE];
	u8 tag[GCM_TAG];
	u8 aad[GCM_AAD];
	struct shv_crypt_req *req;
	struct scatterlist src[4];
	struct scatterlist dst[4];
};

#define SHV_GCM_AREQ_OFF	ALIGN(sizeof(struct shv_gcm_rq), CRYPTO_MINALIGN)

static inline struct aead_request *shv_gcm_areq(struct shv_gcm_rq *rq)
{
	return (void *)rq + SHV_GCM_AREQ_OFF;
}

static int shv_gcm_init(struct shv_crypt_inst *inst, const u8 *key)
{
	struct crypto_aead *tfm;
	int r;

	tfm = crypto_alloc_aead("gcm(aes)", 0, 0);
	if (IS_ERR(tfm))
		return PTR_ERR(tfm);
	r = -EOPNOTSUPP;
	if (crypto_aead_ivsize(tfm) != GCM_NONCE ||
	    crypto_aead_setauthsize(tfm, GCM_TAG))
		goto err;
	r = crypto_aead_setkey(tfm, key, inst->key_size);
	if (r) {
		r = -EKEYREJECTED;
		goto err;
	}
	inst->priv = tfm;
	return 0;
err:
	crypto_free_aead(tfm);
	return r;
}

static void shv_gcm_exit(struct shv_crypt_inst *inst)
{
	crypto_free_aead(inst->priv);
	inst->priv = NULL;
}

/* the requests are allocated by transform, not in req->ctx */
static unsigned int shv_gcm_reqsize(struct shv_crypt_inst *inst)
{
	return 0;
}

/* aad, then the sector's (at most two) entries, then the tag if any */
static void shv_gcm_sg(struct scatterlist *out, u8 *aad,
		       struct scatterlist *data, u8 *tag)
{
	unsigned int n = 0;

	sg_init_table(out, 4);
	sg_set_buf(&out[n++], aad, GCM_AAD);
	for (; data && n < 3; data = sg_next(data))
		sg_set_page(&out[n++], sg_page(data), data->length,
			    data->offset);
	if (tag)
		sg_set_buf(&out[n++], tag, GCM_TAG);
	sg_mark_end(&out[n - 1]);
}

/* the end of a request: the entry out, the memory back */
static int shv_gcm_finish(struct shv_gcm_rq *rq, int err)
{
	struct shv_crypt_req *req = rq->req;

	if (!err && req->encrypt) {
		memcpy(req->meta, rq->iv, GCM_NONCE);
		memcpy(req->meta + GCM_NONCE, rq->tag, GCM_TAG);
		memset(req->meta + GCM_NONCE + GCM_TAG, 0,
		       GCM_META - GCM_NONCE - GCM_TAG);
	}
	kfree(rq);
	return err;
}

static void shv_gcm_done(struct crypto_async_request *areq, int err)
{
	struct shv_gcm_rq *rq = areq->data;
	struct shv_crypt_req *req = rq->req;

	/* a backlogged request has started: the real end follows */
	if (err == -EINPROGRESS)
		return;
	req->complete(req, shv_gcm_finish(rq, err));
}

static int shv_gcm_transform(struct shv_crypt_req *req)
{
	struct crypto_aead *tfm = req->inst->priv;
	unsigned int ss = req->inst->sector_size;
	struct aead_request *areq;
	struct shv_gcm_rq *rq;
	int r;

	/* a decryption checks the entry: its last bytes are 0 */
	if (!req->encrypt &&
	    memchr_inv(req->meta + GCM_NONCE + GCM_TAG, 0,
		       GCM_META - GCM_NONCE - GCM_TAG))
		return -EBADMSG;

	rq = kmalloc(SHV_GCM_AREQ_OFF + sizeof(*areq) +
		     crypto_aead_reqsize(tfm), GFP_KERNEL);
	if (!rq)
		return -ENOMEM;
	rq->req = req;
	memcpy(rq->aad, req->inst->uuid, 16);
	put_unaligned_le64(req->iv_sector, rq->aad + 16);

	areq = shv_gcm_areq(rq);
	aead_request_set_tfm(areq, tfm);
	aead_request_set_callback(areq, CRYPTO_TFM_REQ_MAY_BACKLOG |
				  CRYPTO_TFM_REQ_MAY_SLEEP,
				  shv_gcm_done, rq);
	aead_request_set_ad(areq, GCM_AAD);
	if (req->encrypt) {
		get_random_bytes(rq->iv, GCM_NONCE);
		shv_gcm_sg(rq->src, rq->aad, req->src, NULL);
		shv_gcm_sg(rq->dst, rq->aad, req->dst, rq->tag);
		aead_request_set_crypt(areq, rq->src, rq->dst, ss, rq->iv);
		r = crypto_aead_encrypt(areq);
	} else {
		memcpy(rq->iv, req->meta, GCM_NONCE);
		memcpy(rq->tag, req->meta + GCM_NONCE, GCM_TAG);
		shv_gcm_sg(rq->src, rq->aad, req->src, rq->tag);
		shv_gcm_sg(rq->dst, rq->aad, req->dst, NULL);
		aead_request_set_crypt(areq, rq->src, rq->dst, ss + GCM_TAG,
				       rq->iv);
		r = crypto_aead_decrypt(areq);
	}
	/* -EBUSY: backlogged, the callback comes */
	if (r == -EINPROGRESS || r == -EBUSY)
		return -EINPROGRESS;
	return shv_gcm_finish(rq, r);
}

static struct shv_crypt_plugin shv_aes_gcm = {
	.name		= "aes-gcm-random",
	.owner		= THIS_MODULE,
	.key_sizes	= { 16, 24, 32 },
	.sector_sizes	= 512 | 1024 | 2048 | 4096,
	.iv_scheme	= SHV_CRYPT_IV_RANDOM,
	.caps		= SHV_CRYPT_CAP_AUTH,
	.meta_size	= GCM_META,
	.init		= shv_gcm_init,
	.exit		= shv_gcm_exit,
	.reqsize	= shv_gcm_reqsize,
	.transform	= shv_gcm_transform,
};

static int __init shv_aes_gcm_mod_init(void)
{
	return shv_crypt_register(&shv_aes_gcm);
}

static void __exit shv_aes_gcm_mod_exit(void)
{
	shv_crypt_unregister(&shv_aes_gcm);
}

module_init(shv_aes_gcm_mod_init);
module_exit(shv_aes_gcm_mod_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The shv developers");
MODULE_DESCRIPTION("shv encryption plug-in: aes-gcm-random (authenticated)");
MODULE_SOFTDEP("pre: gcm");
