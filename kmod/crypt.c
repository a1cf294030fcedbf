// SPDX-License-Identifier: GPL-2.0
/*
 * Encrypted disks: the registry of encryption plug-ins (shv_crypt.h) and
 * the disks of a VM, image files whose sectors a plug-in encrypts.  Guest
 * reads and writes move between the image and guest memory here, in the
 * kernel: reads decrypt in place in guest memory, writes encrypt from
 * guest memory into bounce pages.  Documentation/crypt.rst.
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
#include <linux/uaccess.h>
#include <keys/user-type.h>
#include <crypto/skcipher.h>
#include <asm/unaligned.h>

#include "shv.h"
#include "shv_crypt.h"

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
	    !p->init || !p->exit || !p->reqsize || !p->transform)
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
	u64 nr_sectors;
	u64 iv_offset;		/* 512-byte units */
	u32 flags;		/* SHV_DISK_* */
	unsigned int shift;	/* log2(sector size) */
	unsigned int stride;	/* bytes per struct shv_disk_sector */
};

/* the I/O of up to SHV_DISK_CHUNK bytes at a time */
#define SHV_DISK_CHUNK_PAGES	64
#define SHV_DISK_CHUNK		(SHV_DISK_CHUNK_PAGES * PAGE_SIZE)

/* one sector's request: guest memory (2 pages at most), bounce or guest */
struct shv_disk_sector {
	struct scatterlist src[2];
	struct scatterlist dst[2];
	struct shv_crypt_req req;	/* last: its ctx follows */
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
	shv_disk_batch_end(req->data, err);
}

static void shv_disk_free(struct shv_disk *d)
{
	struct shv_crypt_plugin *p = d->inst.plugin;

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
	int r;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	if (a.disk >= SHV_CRYPT_MAX_DISKS || (a.flags & ~known) || a.pad ||
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
	size = i_size_read(inode);
	r = -EINVAL;
	if (!size || (size & (a.sector_size - 1)))
		goto err_fput;

	p = shv_crypt_get(a.cipher, a.sector_size, a.key_size);
	if (IS_ERR(p)) {
		r = PTR_ERR(p);
		goto err_fput;
	}

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

	d->nr_sectors = size >> ilog2(a.sector_size);
	d->iv_offset = a.iv_offset;
	d->flags = a.flags;
	d->shift = ilog2(a.sector_size);
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

/* the scatterlist of sector_size bytes at byte off of the pinned pages */
static void shv_disk_sg(struct scatterlist *sg, struct page **pages,
			size_t off, unsigned int len)
{
	unsigned int po = offset_in_page(off);
	unsigned int first = min_t(unsigned int, len, PAGE_SIZE - po);

	if (first == len) {
		sg_init_table(sg, 1);
		sg_set_page(sg, pages[off >> PAGE_SHIFT], len, po);
		return;
	}
	sg_init_table(sg, 2);
	sg_set_page(&sg[0], pages[off >> PAGE_SHIFT], first, po);
	sg_set_page(&sg[1], pages[(off >> PAGE_SHIFT) + 1], len - first, 0);
}

/*
 * Encrypt (guest -> bounce) or decrypt (guest, in place) n sectors from
 * sector on, all requests in flight at once; sleeps until all are done.
 */
static int shv_disk_crypt(struct shv_disk *d, void *reqs, u64 sector,
			  unsigned int n, struct page **guest,
			  unsigned int goff, struct page **bounce)
{
	bool encrypt = bounce;
	unsigned int ss = 1u << d->shift, i;
	struct shv_disk_batch b;
	int r;

	atomic_set(&b.pending, 1);
	b.err = 0;
	init_completion(&b.done);
	for (i = 0; i < n; i++) {
		struct shv_disk_sector *s = reqs + i * d->stride;
		size_t boff = (size_t)i << d->shift;
		u64 iv = ((sector + i) << (d->shift - 9)) + d->iv_offset;

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
		s->req.encrypt = encrypt;
		s->req.complete = shv_disk_sector_done;
		s->req.data = &b;
		atomic_inc(&b.pending);
		r = d->inst.plugin->transform(&s->req);
		if (r != -EINPROGRESS) {
			shv_disk_batch_end(&b, r);
			if (r)
				break;
		}
	}
	shv_disk_batch_end(&b, 0);
	wait_for_completion(&b.done);
	return b.err ? -EIO : 0;
}

static int shv_disk_rw_chunk(struct shv_vm *vm, struct shv_disk *d,
			     u64 sector, unsigned int n, u64 gpa, bool write,
			     void *reqs, struct page **guest,
			     struct page **bounce, struct bio_vec *bv)
{
	size_t len = (size_t)n << d->shift, done;
	unsigned int goff = offset_in_page(gpa), nbv, i;
	loff_t pos = sector << d->shift;
	int np, r;

	np = shv_disk_pin(vm, gpa, len, !write, guest);
	if (np < 0)
		return np;

	if (write) {
		nbv = DIV_ROUND_UP(len, PAGE_SIZE);
		for (i = 0; i < nbv; i++) {
			if (!bounce[i]) {
				bounce[i] = alloc_page(GFP_KERNEL);
				if (!bounce[i]) {
					r = -ENOMEM;
					goto out;
				}
			}
			bv[i].bv_page = bounce[i];
			bv[i].bv_len = min_t(size_t, PAGE_SIZE,
					     len - i * PAGE_SIZE);
			bv[i].bv_offset = 0;
		}
		r = shv_disk_crypt(d, reqs, sector, n, guest, goff, bounce);
		if (!r)
			r = shv_disk_file_io(d, bv, nbv, len, pos, true);
		goto out;
	}

	/* read the ciphertext straight into guest memory, decrypt there */
	for (i = 0, done = 0; done < len; i++) {
		unsigned int off = i ? 0 : goff;
		unsigned int l = min_t(size_t, PAGE_SIZE - off, len - done);

		bv[i].bv_page = guest[i];
		bv[i].bv_len = l;
		bv[i].bv_offset = off;
		done += l;
	}
	r = shv_disk_file_io(d, bv, i, len, pos, false);
	if (!r)
		r = shv_disk_crypt(d, reqs, sector, n, guest, goff, NULL);
out:
	if (write)
		unpin_user_pages(guest, np);
	else
		unpin_user_pages_dirty_lock(guest, np, true);
	return r;
}

static int shv_disk_rw(struct shv_vm *vm, struct shv_disk *d,
		       struct shv_disk_io *io, bool write)
{
	unsigned int per_chunk = min_t(unsigned int, SHV_DISK_CHUNK >> d->shift,
				       io->nr_sectors), i;
	struct page *guest[SHV_DISK_CHUNK_PAGES + 1];
	struct page **bounce = NULL;
	struct bio_vec *bv;
	u64 gpa = io->gpa, sector = io->sector;
	unsigned int left = io->nr_sectors;
	void *reqs;
	int r = 0;

	if (gpa + ((u64)left << d->shift) < gpa ||
	    gpa + ((u64)left << d->shift) > (1ull << SHV_MAX_PHYS_BITS))
		return -EFAULT;

	reqs = kvmalloc_array(per_chunk, d->stride, GFP_KERNEL);
	bv = kmalloc_array(SHV_DISK_CHUNK_PAGES + 1, sizeof(*bv), GFP_KERNEL);
	if (write)
		bounce = kcalloc(SHV_DISK_CHUNK_PAGES, sizeof(*bounce),
				 GFP_KERNEL);
	if (!reqs || !bv || (write && !bounce)) {
		r = -ENOMEM;
		goto out;
	}
	while (left && !r) {
		unsigned int n = min(left, per_chunk);

		r = shv_disk_rw_chunk(vm, d, sector, n, gpa, write, reqs,
				      guest, bounce, bv);
		sector += n;
		gpa += (u64)n << d->shift;
		left -= n;
	}
	if (!r && write && (io->flags & SHV_DISK_IO_FUA))
		r = vfs_fsync_range(d->file, io->sector << d->shift,
				    ((io->sector + io->nr_sectors) << d->shift) - 1,
				    1);
out:
	if (bounce)
		for (i = 0; i < SHV_DISK_CHUNK_PAGES; i++)
			if (bounce[i])
				__free_page(bounce[i]);
	kfree(bounce);
	kfree(bv);
	kvfree(reqs);
	return r;
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
		return vfs_fsync(d->file, 1);
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
		return vfs_fallocate(d->file, FALLOC_FL_PUNCH_HOLE |
				     FALLOC_FL_KEEP_SIZE,
				     io->sector << d->shift,
				     (loff_t)io->nr_sectors << d->shift);
	}
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
		ios[i].result = shv_disk_do_io(vm, d, &ios[i]);
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
