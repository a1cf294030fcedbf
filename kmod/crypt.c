// SPDX-License-Identifier: GPL-2.0
/*
 * Encrypted disks: the registry of encryption plug-ins (shv_crypt.h) and
 * the disks of a VM, image files whose sectors a plug-in encrypts.  Guest
 * reads and writes move between the image and guest memory here, in the
 * kernel: reads decrypt in place in guest memory, writes encrypt from
 * guest memory into bounce pages.  The container (raw, or VHD through
 * disk_vhd.c) maps the virtual disk onto the file; for an authenticated
 * plug-in the virtual disk holds a header and per-sector metadata before
 * the data.  Documentation/crypt.rst.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/falloc.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/uio.h>
#include <linux/bvec.h>
#include <linux/key.h>
#include <linux/log2.h>
#include <linux/completion.h>
#include <linux/crc32.h>
#include <linux/highmem.h>
#include <linux/uaccess.h>
#include <keys/user-type.h>
#include <crypto/skcipher.h>
#include <asm/unaligned.h>

#include "shv.h"
#include "shv_crypt.h"
#include "disk_vhd.h"

/* ---------------------------------------------------------------- */
/* The plug-in registry */

static DEFINE_MUTEX(shv_crypt_lock);
static LIST_HEAD(shv_crypt_plugins);
static unsigned int shv_crypt_nr_plugins;

static struct shv_crypt_plugin *shv_crypt_find(const char *name)
{
	struct shv_crypt_plugin *p;

	list_for_each_entry(p, &shv_crypt_plugins, list)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

#define SHV_CRYPT_SECTOR_SIZES	(512 | 1024 | 2048 | 4096)

int shv_crypt_register(struct shv_crypt_plugin *p)
{
	unsigned int i;
	int r = 0;

	if (!p->name || !p->name[0] ||
	    strlen(p->name) >= SHV_CRYPT_NAME_LEN || !p->key_sizes[0] ||
	    !p->sector_sizes || (p->sector_sizes & ~SHV_CRYPT_SECTOR_SIZES) ||
	    !p->init || !p->exit || !p->reqsize || !p->transform ||
	    (p->caps & ~SHV_CRYPT_CAP_AUTH) ||
	    !(p->caps & SHV_CRYPT_CAP_AUTH) != !p->meta_size ||
	    p->meta_size > SHV_CRYPT_MAX_META_SIZE)
		return -EINVAL;
	for (i = 0; i < SHV_CRYPT_MAX_KEY_SIZES && p->key_sizes[i]; i++)
		if (p->key_sizes[i] > SHV_CRYPT_MAX_KEY_SIZE)
			return -EINVAL;

	mutex_lock(&shv_crypt_lock);
	if (shv_crypt_find(p->name)) {
		r = -EEXIST;
	} else if (shv_crypt_nr_plugins >= SHV_CRYPT_MAX_PLUGINS) {
		r = -ENOSPC;
	} else {
		p->users = 0;
		list_add_tail(&p->list, &shv_crypt_plugins);
		shv_crypt_nr_plugins++;
	}
	mutex_unlock(&shv_crypt_lock);
	if (!r)
		pr_info("encryption plug-in %s registered\n", p->name);
	return r;
}
EXPORT_SYMBOL_GPL(shv_crypt_register);

/* From the plug-in's module exit: no disk can hold it any more. */
void shv_crypt_unregister(struct shv_crypt_plugin *p)
{
	mutex_lock(&shv_crypt_lock);
	WARN_ON(p->users);
	list_del(&p->list);
	shv_crypt_nr_plugins--;
	mutex_unlock(&shv_crypt_lock);
}
EXPORT_SYMBOL_GPL(shv_crypt_unregister);

/* a plug-in for a disk, its module referenced; or ERR_PTR */
static struct shv_crypt_plugin *shv_crypt_get(const char *name,
					      unsigned int sector_size,
					      unsigned int key_size)
{
	struct shv_crypt_plugin *p;
	unsigned int i;
	int r = -ENOENT;

	mutex_lock(&shv_crypt_lock);
	p = shv_crypt_find(name);
	if (!p || !try_module_get(p->owner))
		goto err;
	r = -EOPNOTSUPP;
	if (!(p->sector_sizes & sector_size))
		goto err_put;
	for (i = 0; i < SHV_CRYPT_MAX_KEY_SIZES && p->key_sizes[i]; i++)
		if (p->key_sizes[i] == key_size)
			break;
	if (i == SHV_CRYPT_MAX_KEY_SIZES || !p->key_sizes[i])
		goto err_put;
	p->users++;
	mutex_unlock(&shv_crypt_lock);
	return p;

err_put:
	module_put(p->owner);
err:
	mutex_unlock(&shv_crypt_lock);
	return ERR_PTR(r);
}

static void shv_crypt_put(struct shv_crypt_plugin *p)
{
	struct module *owner = p->owner;

	mutex_lock(&shv_crypt_lock);
	p->users--;
	mutex_unlock(&shv_crypt_lock);
	module_put(owner);
}

long shv_crypt_list(struct shv_crypt_list __user *arg)
{
	struct shv_crypt_plugin_info info;
	struct shv_crypt_plugin *p;
	struct shv_crypt_list hdr;
	unsigned int n = 0;
	long r;

	if (copy_from_user(&hdr, arg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.pad || hdr.nr > SHV_CRYPT_MAX_PLUGINS)
		return -EINVAL;

	mutex_lock(&shv_crypt_lock);
	list_for_each_entry(p, &shv_crypt_plugins, list) {
		if (n >= hdr.nr)
			break;
		memset(&info, 0, sizeof(info));
		strscpy(info.name, p->name, sizeof(info.name));
		memcpy(info.key_sizes, p->key_sizes, sizeof(info.key_sizes));
		info.sector_sizes = p->sector_sizes;
		info.iv_scheme = p->iv_scheme;
		info.caps = p->caps;
		info.users = p->users;
		if (copy_to_user(&arg->plugins[n], &info, sizeof(info))) {
			r = -EFAULT;
			goto out;
		}
		n++;
	}
	r = shv_crypt_nr_plugins;
out:
	mutex_unlock(&shv_crypt_lock);
	return r;
}

/* ---------------------------------------------------------------- */
/* Helpers for skcipher plug-ins with a le64 sector IV */

int shv_crypt_skcipher_init(struct shv_crypt_inst *inst, const char *alg,
			    const u8 *key)
{
	struct crypto_skcipher *tfm;
	int r;

	tfm = crypto_alloc_skcipher(alg, 0, 0);
	if (IS_ERR(tfm))
		return PTR_ERR(tfm);
	if (crypto_skcipher_ivsize(tfm) < sizeof(u64) ||
	    inst->sector_size % crypto_skcipher_blocksize(tfm)) {
		r = -EOPNOTSUPP;
		goto err;
	}
	crypto_skcipher_set_flags(tfm, CRYPTO_TFM_REQ_FORBID_WEAK_KEYS);
	r = crypto_skcipher_setkey(tfm, key, inst->key_size);
	if (r) {
		r = -EKEYREJECTED;
		goto err;
	}
	inst->priv = tfm;
	return 0;
err:
	crypto_free_skcipher(tfm);
	return r;
}
EXPORT_SYMBOL_GPL(shv_crypt_skcipher_init);

void shv_crypt_skcipher_exit(struct shv_crypt_inst *inst)
{
	/* frees the tfm and its key schedule with kfree_sensitive() */
	crypto_free_skcipher(inst->priv);
	inst->priv = NULL;
}
EXPORT_SYMBOL_GPL(shv_crypt_skcipher_exit);

/* req->ctx: the skcipher_request, its context, then the IV */
static unsigned int shv_crypt_sk_ivoff(struct crypto_skcipher *tfm)
{
	return ALIGN(sizeof(struct skcipher_request) +
		     crypto_skcipher_reqsize(tfm), CRYPTO_MINALIGN);
}

unsigned int shv_crypt_skcipher_reqsize(struct shv_crypt_inst *inst)
{
	struct crypto_skcipher *tfm = inst->priv;

	return shv_crypt_sk_ivoff(tfm) + crypto_skcipher_alignmask(tfm) +
	       crypto_skcipher_ivsize(tfm);
}
EXPORT_SYMBOL_GPL(shv_crypt_skcipher_reqsize);

static void shv_crypt_sk_done(struct crypto_async_request *areq, int err)
{
	struct shv_crypt_req *req = areq->data;

	/* a backlogged request has started: the real end follows */
	if (err == -EINPROGRESS)
		return;
	req->complete(req, err);
}

int shv_crypt_skcipher_transform(struct shv_crypt_req *req)
{
	struct crypto_skcipher *tfm = req->inst->priv;
	struct skcipher_request *sk = (void *)req->ctx;
	unsigned int ivsize = crypto_skcipher_ivsize(tfm);
	u8 *iv;
	int r;

	iv = PTR_ALIGN(req->ctx + shv_crypt_sk_ivoff(tfm),
		       crypto_skcipher_alignmask(tfm) + 1);
	memset(iv, 0, ivsize);
	put_unaligned_le64(req->iv_sector, iv);

	skcipher_request_set_tfm(sk, tfm);
	skcipher_request_set_callback(sk, CRYPTO_TFM_REQ_MAY_BACKLOG |
				      CRYPTO_TFM_REQ_MAY_SLEEP,
				      shv_crypt_sk_done, req);
	skcipher_request_set_crypt(sk, req->src, req->dst,
				   req->inst->sector_size, iv);
	r = req->encrypt ? crypto_skcipher_encrypt(sk) :
			   crypto_skcipher_decrypt(sk);
	/* -EBUSY: backlogged, the callback comes */
	return r == -EBUSY ? -EINPROGRESS : r;
}
EXPORT_SYMBOL_GPL(shv_crypt_skcipher_transform);

/* ---------------------------------------------------------------- */
/* Disks */

struct shv_disk {
	struct file *file;
	struct shv_crypt_inst inst;
	struct shv_vhd *vhd;	/* a dynamic VHD; NULL: raw, or fixed VHD */
	u64 nr_sectors;		/* guest sectors */
	u64 data_offset;	/* the virtual sector of guest sector 0 */
	u64 meta_pos;		/* authenticated: virtual byte of entry 0 */
	u64 iv_offset;		/* 512-byte units */
	u32 flags;		/* SHV_DISK_* */
	unsigned int meta_size;	/* authenticated: bytes per entry; else 0 */
	unsigned int shift;	/* log2(sector size) */
	unsigned int stride;	/* bytes per struct shv_disk_sector */
	/* authenticated or dynamic: writes exclude all other I/O */
	bool serial;
	struct rw_semaphore sem;
};

/* the I/O of up to SHV_DISK_CHUNK bytes at a time */
#define SHV_DISK_CHUNK_PAGES	64
#define SHV_DISK_CHUNK		(SHV_DISK_CHUNK_PAGES * PAGE_SIZE)

/* one sector's request: guest memory (2 pages at most), bounce or guest */
struct shv_disk_sector {
	struct scatterlist src[2];
	struct scatterlist dst[2];
	int err;
	struct shv_crypt_req req;	/* last: its ctx follows */
};

/* the buffers of one SHV_DISK_IO descriptor's chunks */
struct shv_disk_ctx {
	unsigned int per_chunk;		/* sectors */
	void *reqs;			/* per_chunk * stride */
	void *fill_reqs;		/* a whole chunk's, for new blocks */
	u8 *meta;			/* authenticated: per_chunk entries */
	struct page **bounce;		/* writes: SHV_DISK_CHUNK_PAGES */
	struct bio_vec *bv;		/* SHV_DISK_CHUNK_PAGES + 1 */
	struct page *guest[SHV_DISK_CHUNK_PAGES + 1];
};

struct shv_disk_batch {
	atomic_t pending;
	int err;
	struct completion done;
};

static void shv_disk_batch_end(struct shv_disk_batch *b, int err)
{
	if (err)
		cmpxchg(&b->err, 0, err);
	if (atomic_dec_and_test(&b->pending))
		complete(&b->done);
}

static void shv_disk_sector_done(struct shv_crypt_req *req, int err)
{
	struct shv_disk_batch *b = req->data;

	container_of(req, struct shv_disk_sector, req)->err = err;
	shv_disk_batch_end(b, err);
}

static void shv_disk_free(struct shv_disk *d)
{
	struct shv_crypt_plugin *p = d->inst.plugin;
	int r;

	if (d->vhd) {
		/* the BAT entries of blocks allocated since the last flush */
		if (!(d->flags & SHV_DISK_READONLY)) {
			r = shv_vhd_flush(d->vhd);
			if (r)
				pr_warn_ratelimited("VHD flush at detach failed: %d\n",
						    r);
		}
		shv_vhd_free(d->vhd);
	}
	p->exit(&d->inst);
	fput(d->file);
	shv_crypt_put(p);
	kfree_sensitive(d);
}

static int shv_disk_key_keyring(const char __user *udesc, u8 *out,
				unsigned int size)
{
	const struct user_key_payload *payload;
	struct key_type *type;
	const char *name;
	struct key *key;
	char *desc;
	int r;

	desc = strndup_user(udesc, 256);
	if (IS_ERR(desc))
		return PTR_ERR(desc);
	if (!strncmp(desc, "logon:", 6)) {
		type = &key_type_logon;
		name = desc + 6;
	} else if (!strncmp(desc, "user:", 5)) {
		type = &key_type_user;
		name = desc + 5;
	} else {
		r = -EINVAL;
		goto out;
	}
	key = request_key(type, name, NULL);
	if (IS_ERR(key)) {
		r = PTR_ERR(key);
		goto out;
	}
	down_read(&key->sem);
	payload = user_key_payload_locked(key);
	if (!payload) {
		r = -EKEYREVOKED;
	} else if (payload->datalen != size) {
		r = -EINVAL;
	} else {
		memcpy(out, payload->data, size);
		r = 0;
	}
	up_read(&key->sem);
	key_put(key);
out:
	kfree(desc);
	return r;
}

/* ---------------------------------------------------------------- */
/* The container: virtual disk bytes to file positions */

/* the file position of virtual byte pos; *len cut to what is contiguous */
static loff_t shv_disk_map(struct shv_disk *d, u64 pos, u64 *len)
{
	if (!d->vhd)
		return pos;	/* raw, fixed VHD */
	return shv_vhd_map(d->vhd, pos, len);
}

static int shv_disk_crypt(struct shv_disk *d, void *reqs, u64 sector,
			  unsigned int n, struct page **guest,
			  unsigned int goff, struct page **bounce, u8 *meta);

/* Read or write len bytes of the image at pos through a bvec array. */
static int shv_disk_file_io(struct shv_disk *d, struct bio_vec *bv,
			    unsigned int nbv, size_t len, loff_t pos,
			    bool write)
{
	struct iov_iter it;
	ssize_t r;

	iov_iter_bvec(&it, write ? ITER_SOURCE : ITER_DEST, bv, nbv, len);
	while (iov_iter_count(&it)) {
		if (write) {
			file_start_write(d->file);
			r = vfs_iter_write(d->file, &it, &pos, 0);
			file_end_write(d->file);
		} else {
			r = vfs_iter_read(d->file, &it, &pos, 0);
		}
		if (r < 0)
			return r;
		if (!r)
			return -EIO;	/* the image shrank under us */
	}
	return 0;
}

/* bounce pages for len bytes, described in c->bv; the number of bvecs */
static int shv_disk_bounce(struct shv_disk_ctx *c, size_t len)
{
	unsigned int nbv = DIV_ROUND_UP(len, PAGE_SIZE), i;

	for (i = 0; i < nbv; i++) {
		if (!c->bounce[i]) {
			c->bounce[i] = alloc_page(GFP_KERNEL);
			if (!c->bounce[i])
				return -ENOMEM;
		}
		c->bv[i].bv_page = c->bounce[i];
		c->bv[i].bv_len = min_t(size_t, PAGE_SIZE, len - i * PAGE_SIZE);
		c->bv[i].bv_offset = 0;
	}
	return nbv;
}

/*
 * Make the virtual sectors [vpos, vpos + len) at file position fpos of a
 * new block read as zeros: the encryption of zero sectors (guest sector =
 * virtual sector without an authenticated layout).
 */
static int shv_disk_fill_zero(struct shv_disk *d, struct shv_disk_ctx *c,
			      u64 vpos, loff_t fpos, u64 len)
{
	unsigned int per_chunk = SHV_DISK_CHUNK >> d->shift;

	if (len && !c->fill_reqs) {
		c->fill_reqs = kvmalloc_array(per_chunk, d->stride,
					      GFP_KERNEL);
		if (!c->fill_reqs)
			return -ENOMEM;
	}
	while (len) {
		unsigned int n = min_t(u64, per_chunk, len >> d->shift);
		size_t bytes = (size_t)n << d->shift;
		int nbv, r;

		nbv = shv_disk_bounce(c, bytes);
		if (nbv < 0)
			return nbv;
		r = shv_disk_crypt(d, c->fill_reqs, vpos >> d->shift, n, NULL,
				   0, c->bounce, NULL);
		if (!r)
			r = shv_disk_file_io(d, c->bv, nbv, bytes, fpos, true);
		if (r)
			return r;
		vpos += bytes;
		fpos += bytes;
		len -= bytes;
	}
	return 0;
}

struct shv_disk_fill {
	struct shv_disk *d;
	struct shv_disk_ctx *c;
	u64 keep, keep_end;	/* what the caller writes next */
};

static int shv_disk_fill(void *arg, u64 vstart, loff_t fpos, u64 len)
{
	struct shv_disk_fill *f = arg;
	u64 keep = clamp(f->keep, vstart, vstart + len);
	u64 keep_end = clamp(f->keep_end, keep, vstart + len);
	int r;

	/* an authenticated layout: zeros are "never written" */
	if (f->d->meta_size)
		return 0;
	r = shv_disk_fill_zero(f->d, f->c, vstart, fpos, keep - vstart);
	if (r)
		return r;
	return shv_disk_fill_zero(f->d, f->c, keep_end,
				  fpos + (keep_end - vstart),
				  vstart + len - keep_end);
}

/* allocate the dynamic VHD block of virtual byte pos; c for the fill */
static int shv_disk_alloc(struct shv_disk *d, struct shv_disk_ctx *c,
			  u64 pos, u64 keep_end)
{
	struct shv_disk_fill f = {
		.d = d, .c = c, .keep = pos, .keep_end = keep_end,
	};

	return shv_vhd_alloc(d->vhd, pos, shv_disk_fill, &f);
}

enum { SHV_VIO_READ, SHV_VIO_WRITE, SHV_VIO_CLEAR };

/*
 * Plaintext bytes of the virtual disk (the authenticated header and
 * metadata): READ (unallocated reads as zeros), WRITE (allocating), or
 * CLEAR (write buf, zeros, where allocated).
 */
static int shv_disk_vio(struct shv_disk *d, u64 pos, void *buf, size_t len,
			int mode)
{
	while (len) {
		u64 n = len;
		loff_t f = shv_disk_map(d, pos, &n), fp = f;
		ssize_t r;

		if (f == SHV_VHD_UNALLOCATED) {
			if (mode == SHV_VIO_READ)
				memset(buf, 0, n);
			if (mode != SHV_VIO_WRITE)
				goto next;
			/* no fill: authenticated layouts only come here */
			r = shv_disk_alloc(d, NULL, pos, pos + n);
			if (r)
				return r;
			continue;
		}
		if (mode == SHV_VIO_READ)
			r = kernel_read(d->file, buf, n, &fp);
		else
			r = kernel_write(d->file, buf, n, &fp);
		if (r < 0)
			return r;
		if (r != n)
			return -EIO;
next:
		pos += n;
		buf += n;
		len -= n;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* The authenticated layout: a header sector, metadata entries, data */

#define SHV_AUTH_MAGIC		"SHVAUTH1"
#define SHV_AUTH_VERSION	1

struct shv_auth_header {
	u8 magic[8];
	__le32 version;
	__le32 sector_size;
	__le32 meta_size;
	__le32 flags;
	u8 uuid[16];
	__le64 nr_sectors;
	__le64 meta_offset;	/* sectors */
	__le64 data_offset;	/* sectors */
	char cipher[64];
	u8 reserved[380];
	__le32 crc32;		/* of the bytes before */
} __packed;

static_assert(sizeof(struct shv_auth_header) == 512);

static int shv_disk_auth_open(struct shv_disk *d, u64 vsize,
			      struct shv_crypt_plugin *p)
{
	u64 vs = vsize >> d->shift, nr, meta, data;
	struct shv_auth_header *h;
	int r;

	h = kmalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	r = shv_disk_vio(d, 0, h, sizeof(*h), SHV_VIO_READ);
	if (r)
		goto out;
	r = -EINVAL;
	if (memcmp(h->magic, SHV_AUTH_MAGIC, 8) ||
	    le32_to_cpu(h->crc32) != ~crc32_le(~0, (u8 *)h,
					       offsetof(typeof(*h), crc32)) ||
	    le32_to_cpu(h->version) != SHV_AUTH_VERSION ||
	    le32_to_cpu(h->sector_size) != 1u << d->shift ||
	    le32_to_cpu(h->meta_size) != p->meta_size || h->flags ||
	    strncmp(h->cipher, p->name, sizeof(h->cipher)) ||
	    memchr_inv(h->reserved, 0, sizeof(h->reserved)))
		goto out;
	nr = le64_to_cpu(h->nr_sectors);
	meta = le64_to_cpu(h->meta_offset);
	data = le64_to_cpu(h->data_offset);
	/* header, metadata, data: in this order, in the virtual disk */
	if (!nr || nr > vs || !meta || meta > vs || data > vs ||
	    meta + DIV_ROUND_UP(nr * p->meta_size, 1u << d->shift) > data ||
	    nr > vs - data)
		goto out;
	d->nr_sectors = nr;
	d->data_offset = data;
	d->meta_pos = meta << d->shift;
	d->meta_size = p->meta_size;
	memcpy(d->inst.uuid, h->uuid, sizeof(d->inst.uuid));
	r = 0;
out:
	kfree(h);
	return r;
}

/* ---------------------------------------------------------------- */
/* Attach and detach */

static int shv_disk_attach(struct shv_vm *vm, struct shv_disk_attach __user *arg)
{
	const unsigned int known = SHV_DISK_READONLY |
		SHV_DISK_IV_LARGE_SECTORS | SHV_DISK_KEY_KEYRING;
	struct shv_crypt_plugin *p;
	struct shv_disk_attach a;
	struct shv_disk *d;
	struct inode *inode;
	u8 *key = NULL;
	loff_t size;
	u64 vsize;
	int r;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	if (a.disk >= SHV_CRYPT_MAX_DISKS || (a.flags & ~known) ||
	    a.format > SHV_DISK_FORMAT_VHD ||
	    memchr_inv(a.reserved, 0, sizeof(a.reserved)))
		return -EINVAL;
	if (!is_power_of_2(a.sector_size) || a.sector_size < 512 ||
	    a.sector_size > 4096)
		return -EINVAL;
	if (!a.key_size || a.key_size > SHV_CRYPT_MAX_KEY_SIZE)
		return -EINVAL;
	if (!memchr(a.cipher, 0, sizeof(a.cipher)))
		return -EINVAL;

	d = kzalloc(sizeof(*d), GFP_KERNEL_ACCOUNT);
	if (!d)
		return -ENOMEM;
	init_rwsem(&d->sem);
	d->file = fget(a.fd);
	if (!d->file) {
		r = -EBADF;
		goto err_free;
	}
	inode = file_inode(d->file);
	r = -EINVAL;
	/* O_APPEND would send every write to the end of the image */
	if (!S_ISREG(inode->i_mode) || (d->file->f_flags & O_APPEND))
		goto err_fput;
	r = -EBADF;
	if (!(d->file->f_mode & FMODE_READ) ||
	    (!(a.flags & SHV_DISK_READONLY) &&
	     !(d->file->f_mode & FMODE_WRITE)))
		goto err_fput;
	d->shift = ilog2(a.sector_size);
	size = i_size_read(inode);
	vsize = size;
	if (a.format == SHV_DISK_FORMAT_VHD) {
		r = shv_vhd_open(d->file, a.sector_size, &vsize, &d->vhd);
		if (r)
			goto err_fput;
	} else if (!size || (size & (a.sector_size - 1))) {
		r = -EINVAL;
		goto err_fput;
	}

	p = shv_crypt_get(a.cipher, a.sector_size, a.key_size);
	if (IS_ERR(p)) {
		r = PTR_ERR(p);
		goto err_fput;
	}
	if (p->caps & SHV_CRYPT_CAP_AUTH) {
		r = shv_disk_auth_open(d, vsize, p);
		if (r)
			goto err_put;
	} else {
		d->nr_sectors = vsize >> d->shift;
	}
	/* metadata entries and BAT updates are not block-aligned I/O */
	r = -EINVAL;
	if ((d->meta_size || d->vhd) && (d->file->f_flags & O_DIRECT))
		goto err_put;

	key = kmalloc(a.key_size, GFP_KERNEL);
	r = -ENOMEM;
	if (!key)
		goto err_put;
	if (a.flags & SHV_DISK_KEY_KEYRING)
		r = shv_disk_key_keyring(u64_to_user_ptr(a.key), key,
					 a.key_size);
	else
		r = copy_from_user(key, u64_to_user_ptr(a.key), a.key_size) ?
		    -EFAULT : 0;
	if (r)
		goto err_put;

	d->inst.plugin = p;
	d->inst.sector_size = a.sector_size;
	d->inst.key_size = a.key_size;
	r = p->init(&d->inst, key);
	kfree_sensitive(key);
	key = NULL;
	if (r)
		goto err_put;

	d->iv_offset = a.iv_offset;
	d->flags = a.flags;
	d->serial = d->meta_size || d->vhd;
	d->stride = ALIGN(sizeof(struct shv_disk_sector) +
			  p->reqsize(&d->inst), CRYPTO_MINALIGN);

	down_write(&vm->disks_lock);
	if (vm->disks[a.disk]) {
		up_write(&vm->disks_lock);
		shv_disk_free(d);
		return -EEXIST;
	}
	vm->disks[a.disk] = d;
	up_write(&vm->disks_lock);

	/* the disk is live; a failed copy-out leaves it attached */
	if (put_user(d->nr_sectors, &arg->nr_sectors))
		return -EFAULT;
	return 0;

err_put:
	kfree_sensitive(key);
	shv_crypt_put(p);
err_fput:
	shv_vhd_free(d->vhd);
	fput(d->file);
err_free:
	kfree(d);
	return r;
}

static int shv_disk_detach(struct shv_vm *vm, unsigned long nr)
{
	struct shv_disk *d;

	if (nr >= SHV_CRYPT_MAX_DISKS)
		return -EINVAL;
	/* waits for the disk's I/O, which holds the lock for reading */
	down_write(&vm->disks_lock);
	d = vm->disks[nr];
	vm->disks[nr] = NULL;
	up_write(&vm->disks_lock);
	if (!d)
		return -ENOENT;
	shv_disk_free(d);
	return 0;
}

void shv_disks_destroy(struct shv_vm *vm)
{
	unsigned int i;

	for (i = 0; i < SHV_CRYPT_MAX_DISKS; i++)
		if (vm->disks[i])
			shv_disk_free(vm->disks[i]);
}

/* ---------------------------------------------------------------- */
/* Guest I/O */

/* Pin the guest pages behind [gpa, gpa + len); returns how many. */
static int shv_disk_pin(struct shv_vm *vm, u64 gpa, size_t len, bool write,
			struct page **pages)
{
	u64 gfn, last = (gpa + len - 1) >> PAGE_SHIFT;
	int n = 0, r = 0;

	down_read(&vm->slots_lock);
	for (gfn = gpa >> PAGE_SHIFT; gfn <= last; gfn++) {
		struct shv_memslot *s = shv_gfn_to_slot(vm, gfn);
		unsigned long hva;

		if (!s || (write && (s->flags & SHV_MEM_READONLY))) {
			r = -EFAULT;
			break;
		}
		hva = s->userspace_addr + ((gfn - s->base_gfn) << PAGE_SHIFT);
		if (pin_user_pages_fast(hva, 1, write ? FOLL_WRITE : 0,
					&pages[n]) != 1) {
			r = -EFAULT;
			break;
		}
		n++;
	}
	up_read(&vm->slots_lock);
	if (r) {
		unpin_user_pages(pages, n);
		return r;
	}
	return n;
}

/* len bytes at byte off of the pinned pages (NULL: the zero page) */
static void shv_disk_sg(struct scatterlist *sg, struct page **pages,
			size_t off, unsigned int len)
{
	unsigned int po = offset_in_page(off);
	unsigned int first = min_t(unsigned int, len, PAGE_SIZE - po);
	struct page *p0 = pages ? pages[off >> PAGE_SHIFT] : ZERO_PAGE(0);

	if (first == len) {
		sg_init_table(sg, 1);
		sg_set_page(sg, p0, len, po);
		return;
	}
	sg_init_table(sg, 2);
	sg_set_page(&sg[0], p0, first, po);
	sg_set_page(&sg[1], pages ? pages[(off >> PAGE_SHIFT) + 1] :
		    ZERO_PAGE(0), len - first, 0);
}

/* zero len bytes at byte off of the pinned pages */
static void shv_disk_zero(struct page **pages, size_t off, size_t len)
{
	while (len) {
		unsigned int po = offset_in_page(off);
		unsigned int l = min_t(size_t, len, PAGE_SIZE - po);

		memzero_page(pages[off >> PAGE_SHIFT], po, l);
		off += l;
		len -= l;
	}
}

/*
 * Encrypt (guest -> bounce) or decrypt (guest, in place) n sectors from
 * sector on, all requests in flight at once; sleeps until all are done.
 * guest NULL encrypts zero sectors.  With an authenticated layout, meta
 * holds the n entries: filled by encryption, checked by decryption; an
 * entry of zeros (never written) decrypts to a zero sector.  A sector
 * that fails to decrypt is zeroed in guest memory.
 */
static int shv_disk_crypt(struct shv_disk *d, void *reqs, u64 sector,
			  unsigned int n, struct page **guest,
			  unsigned int goff, struct page **bounce, u8 *meta)
{
	bool encrypt = bounce;
	unsigned int ss = 1u << d->shift, ms = d->meta_size, i, started;
	struct shv_disk_batch b;
	int r;

	atomic_set(&b.pending, 1);
	b.err = 0;
	init_completion(&b.done);
	for (i = 0; i < n; i++) {
		struct shv_disk_sector *s = reqs + i * d->stride;
		size_t boff = (size_t)i << d->shift;
		u64 iv = ((sector + i) << (d->shift - 9)) + d->iv_offset;

		s->err = 0;
		if (meta && !encrypt && !memchr_inv(meta + i * ms, 0, ms)) {
			shv_disk_zero(guest, goff + boff, ss);
			continue;
		}
		if (d->flags & SHV_DISK_IV_LARGE_SECTORS)
			iv >>= d->shift - 9;
		shv_disk_sg(s->src, guest, goff + boff, ss);
		if (encrypt) {
			sg_init_table(s->dst, 1);
			sg_set_page(s->dst, bounce[boff >> PAGE_SHIFT], ss,
				    offset_in_page(boff));
			s->req.dst = s->dst;
		} else {
			s->req.dst = s->src;
		}
		s->req.inst = &d->inst;
		s->req.iv_sector = iv;
		s->req.src = s->src;
		s->req.meta = meta ? meta + i * ms : NULL;
		s->req.encrypt = encrypt;
		s->req.complete = shv_disk_sector_done;
		s->req.data = &b;
		atomic_inc(&b.pending);
		r = d->inst.plugin->transform(&s->req);
		if (r != -EINPROGRESS) {
			s->err = r;
			shv_disk_batch_end(&b, r);
			/* a sector that does not authenticate: go on */
			if (r && r != -EBADMSG)
				break;
		}
	}
	started = i < n ? i + 1 : n;
	shv_disk_batch_end(&b, 0);
	wait_for_completion(&b.done);
	if (!b.err)
		return 0;
	/* no ciphertext or unauthenticated plaintext left in the guest */
	for (i = 0; !encrypt && i < n; i++) {
		struct shv_disk_sector *s = reqs + i * d->stride;

		if (i >= started || s->err)
			shv_disk_zero(guest, goff + ((size_t)i << d->shift),
				      ss);
	}
	return -EIO;
}

static int shv_disk_rw_chunk(struct shv_vm *vm, struct shv_disk *d,
			     struct shv_disk_ctx *c, u64 sector,
			     unsigned int n, u64 gpa, bool write)
{
	size_t len = (size_t)n << d->shift, done;
	u64 vpos = (sector + d->data_offset) << d->shift, maplen = len;
	u64 meta_pos = d->meta_pos + sector * d->meta_size;
	size_t meta_len = (size_t)n * d->meta_size;
	unsigned int goff = offset_in_page(gpa), i;
	u8 *meta = d->meta_size ? c->meta : NULL;
	struct page **guest = c->guest;
	loff_t pos;
	int np, nbv, r;

	np = shv_disk_pin(vm, gpa, len, !write, guest);
	if (np < 0)
		return np;
	/* shv_disk_rw() cut the chunk at the block end: maplen stays len */
	pos = shv_disk_map(d, vpos, &maplen);

	if (write) {
		if (pos == SHV_VHD_UNALLOCATED) {
			r = shv_disk_alloc(d, c, vpos, vpos + len);
			if (r)
				goto out;
			pos = shv_disk_map(d, vpos, &maplen);
		}
		nbv = shv_disk_bounce(c, len);
		if (nbv < 0) {
			r = nbv;
			goto out;
		}
		r = shv_disk_crypt(d, c->reqs, sector, n, guest, goff,
				   c->bounce, meta);
		if (!r)
			r = shv_disk_file_io(d, c->bv, nbv, len, pos, true);
		/* the entries after the data (crypt.rst: crashes) */
		if (!r && meta)
			r = shv_disk_vio(d, meta_pos, meta, meta_len,
					 SHV_VIO_WRITE);
		goto out;
	}

	if (meta) {
		r = shv_disk_vio(d, meta_pos, meta, meta_len, SHV_VIO_READ);
		if (r)
			goto out;
	}
	if (pos == SHV_VHD_UNALLOCATED) {
		/* zeros, in plaintext; a written entry there is a lie */
		shv_disk_zero(guest, goff, len);
		r = meta && memchr_inv(meta, 0, meta_len) ? -EIO : 0;
		goto out;
	}
	/* read the ciphertext straight into guest memory, decrypt there */
	for (i = 0, done = 0; done < len; i++) {
		unsigned int off = i ? 0 : goff;
		unsigned int l = min_t(size_t, PAGE_SIZE - off, len - done);

		c->bv[i].bv_page = guest[i];
		c->bv[i].bv_len = l;
		c->bv[i].bv_offset = off;
		done += l;
	}
	r = shv_disk_file_io(d, c->bv, i, len, pos, false);
	if (!r)
		r = shv_disk_crypt(d, c->reqs, sector, n, guest, goff, NULL,
				   meta);
out:
	if (write)
		unpin_user_pages(guest, np);
	else
		unpin_user_pages_dirty_lock(guest, np, true);
	return r;
}

static int shv_disk_flush(struct shv_disk *d)
{
	if (d->vhd)
		return shv_vhd_flush(d->vhd);
	return vfs_fsync(d->file, 1);
}

static int shv_disk_rw(struct shv_vm *vm, struct shv_disk *d,
		       struct shv_disk_io *io, bool write)
{
	u64 gpa = io->gpa, sector = io->sector;
	unsigned int left = io->nr_sectors, i;
	struct shv_disk_ctx *c;
	int r = 0;

	if (gpa + ((u64)left << d->shift) < gpa ||
	    gpa + ((u64)left << d->shift) > (1ull << SHV_MAX_PHYS_BITS))
		return -EFAULT;

	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	c->per_chunk = min_t(unsigned int, SHV_DISK_CHUNK >> d->shift, left);
	c->reqs = kvmalloc_array(c->per_chunk, d->stride, GFP_KERNEL);
	c->bv = kmalloc_array(SHV_DISK_CHUNK_PAGES + 1, sizeof(*c->bv),
			      GFP_KERNEL);
	if (write)
		c->bounce = kcalloc(SHV_DISK_CHUNK_PAGES, sizeof(*c->bounce),
				    GFP_KERNEL);
	if (d->meta_size)
		c->meta = kvmalloc_array(c->per_chunk, d->meta_size,
					 GFP_KERNEL);
	if (!c->reqs || !c->bv || (write && !c->bounce) ||
	    (d->meta_size && !c->meta)) {
		r = -ENOMEM;
		goto out;
	}
	while (left && !r) {
		unsigned int n = min(left, c->per_chunk);
		u64 len = (u64)n << d->shift;

		/* not across a dynamic VHD block */
		shv_disk_map(d, (sector + d->data_offset) << d->shift, &len);
		n = len >> d->shift;
		r = shv_disk_rw_chunk(vm, d, c, sector, n, gpa, write);
		sector += n;
		gpa += (u64)n << d->shift;
		left -= n;
	}
	if (!r && write && (io->flags & SHV_DISK_IO_FUA)) {
		if (d->vhd || d->meta_size)
			r = shv_disk_flush(d);
		else
			r = vfs_fsync_range(d->file, io->sector << d->shift,
					    ((io->sector + io->nr_sectors) <<
					     d->shift) - 1, 1);
	}
out:
	if (c->bounce)
		for (i = 0; i < SHV_DISK_CHUNK_PAGES; i++)
			if (c->bounce[i])
				__free_page(c->bounce[i]);
	kfree(c->bounce);
	kvfree(c->meta);
	kfree(c->bv);
	kvfree(c->fill_reqs);
	kvfree(c->reqs);
	kfree(c);
	return r;
}

/* Clear the sectors' metadata entries, then punch their data out. */
static int shv_disk_discard(struct shv_disk *d, struct shv_disk_io *io)
{
	u64 pos = (io->sector + d->data_offset) << d->shift;
	u64 left = (u64)io->nr_sectors << d->shift;
	int r;

	if (d->meta_size) {
		size_t len = (size_t)io->nr_sectors * d->meta_size;
		void *zero = kvzalloc(len, GFP_KERNEL);

		if (!zero)
			return -ENOMEM;
		r = shv_disk_vio(d, d->meta_pos + io->sector * d->meta_size,
				 zero, len, SHV_VIO_CLEAR);
		kvfree(zero);
		if (r)
			return r;
	}
	while (left) {
		u64 n = left;
		loff_t f = shv_disk_map(d, pos, &n);

		if (f != SHV_VHD_UNALLOCATED) {
			r = vfs_fallocate(d->file, FALLOC_FL_PUNCH_HOLE |
					  FALLOC_FL_KEEP_SIZE, f, n);
			if (r)
				return r;
		}
		pos += n;
		left -= n;
	}
	return 0;
}

static int shv_disk_do_io(struct shv_vm *vm, struct shv_disk *d,
			  struct shv_disk_io *io)
{
	bool ro = d->flags & SHV_DISK_READONLY;

	if (io->reserved || io->op > SHV_DISK_OP_DISCARD ||
	    (io->flags & ~SHV_DISK_IO_FUA) ||
	    (io->flags && io->op != SHV_DISK_OP_WRITE))
		return -EINVAL;
	if (io->op == SHV_DISK_OP_FLUSH) {
		if (io->sector || io->nr_sectors || io->gpa)
			return -EINVAL;
		return shv_disk_flush(d);
	}
	if (!io->nr_sectors || io->nr_sectors > SHV_DISK_MAX_IO_SECTORS ||
	    io->sector >= d->nr_sectors ||
	    io->nr_sectors > d->nr_sectors - io->sector)
		return -ERANGE;
	if (ro && io->op != SHV_DISK_OP_READ)
		return -EROFS;
	switch (io->op) {
	case SHV_DISK_OP_READ:
		return shv_disk_rw(vm, d, io, false);
	case SHV_DISK_OP_WRITE:
		return shv_disk_rw(vm, d, io, true);
	default:
		if (io->gpa)
			return -EINVAL;
		return shv_disk_discard(d, io);
	}
}

/* authenticated or dynamic disks: reads in parallel, the rest alone */
static int shv_disk_do_io_locked(struct shv_vm *vm, struct shv_disk *d,
				 struct shv_disk_io *io)
{
	bool shared = io->op == SHV_DISK_OP_READ;
	int r;

	if (!d->serial)
		return shv_disk_do_io(vm, d, io);
	if (shared)
		down_read(&d->sem);
	else
		down_write(&d->sem);
	r = shv_disk_do_io(vm, d, io);
	if (shared)
		up_read(&d->sem);
	else
		up_write(&d->sem);
	return r;
}

static long shv_disk_io(struct shv_vm *vm, struct shv_disk_ios __user *arg)
{
	struct shv_disk_ios hdr;
	struct shv_disk_io *ios;
	struct shv_disk *d;
	unsigned int i;
	long r;

	if (copy_from_user(&hdr, arg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.disk >= SHV_CRYPT_MAX_DISKS || !hdr.nr ||
	    hdr.nr > SHV_DISK_MAX_IOS || hdr.reserved)
		return -EINVAL;
	ios = memdup_user(arg->ios, hdr.nr * sizeof(*ios));
	if (IS_ERR(ios))
		return PTR_ERR(ios);

	down_read(&vm->disks_lock);
	d = vm->disks[hdr.disk];
	if (!d) {
		r = -ENOENT;
		goto out;
	}
	for (i = 0; i < hdr.nr; i++) {
		ios[i].result = shv_disk_do_io_locked(vm, d, &ios[i]);
		if (ios[i].result)
			break;
	}
	r = i;
	/* the descriptors after a failure were not started */
	while (++i < hdr.nr)
		ios[i].result = -ECANCELED;
	if (copy_to_user(arg->ios, ios, hdr.nr * sizeof(*ios)))
		r = -EFAULT;
out:
	up_read(&vm->disks_lock);
	kfree(ios);
	return r;
}

long shv_disk_ioctl(struct shv_vm *vm, unsigned int ioctl, unsigned long arg)
{
	switch (ioctl) {
	case SHV_DISK_ATTACH:
		return shv_disk_attach(vm, (void __user *)arg);
	case SHV_DISK_DETACH:
		return shv_disk_detach(vm, arg);
	case SHV_DISK_IO:
		return shv_disk_io(vm, (void __user *)arg);
	default:
		return -ENOTTY;
	}
}
