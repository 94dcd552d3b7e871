// SPDX-License-Identifier: GPL-2.0-only
/*
 * romlock: the exec lock.
 *
 * Input: a pid named by root (securityfs exec_lock, or prctl) or a task's
 * request for itself.  Output: that task, all its threads and every
 * current and future descendant fail execve/execveat (and so fexecve of a
 * memfd, which is execveat(AT_EMPTY_PATH)) with EPERM.
 *
 * How descendants are found, and why there is no fork race:
 *
 * Every task owns a small "lineage" node; task_alloc gives the child a new
 * node that points to (and pins, by refcount) the node of the task that
 * created it.  Locking a process sets the flag in the nodes of its
 * threads; exec is refused if the caller's node or any node up its chain
 * is locked.  The chain is fixed when the child is created and nothing
 * ever unlinks it, so:
 *   - a child created while the lock is being set holds a pointer to its
 *     creator's node from the moment it exists; whichever of "set flag" and
 *     "create child" comes first, the child's exec sees the flag;
 *   - descendants that already exist need no walk under tasklist_lock:
 *     they reach the locked node through their own chains;
 *   - reparenting (the locked parent exits, the orphan moves to init or a
 *     subreaper) changes real_parent but not the chain, so a walk of
 *     real_parent would let such an orphan escape; the chain does not;
 *   - CLONE_PARENT and CLONE_THREAD chain to the creator, not to the task
 *     named as parent, so neither can step outside the lock.
 * The flag only goes from false to true.  A node lives as long as its task
 * or any descendant's node, so memory is bounded by the depth of the live
 * process trees, not by their number.  An exec walks its chain: the depth
 * of the process tree, a handful of pointers.
 *
 * The same chain carries two more facts, set once and inherited the same
 * way:
 *   - the jail a task entered (its chroot rule, set by a chroot after the
 *     seal): jail.c confines every task whose chain reaches such a node;
 *   - a start lock: init names a service's first process before it execs
 *     the service; from that exec on, the process tree may exec only the
 *     programs init listed (what the trace saw it start while starting),
 *     until init locks it completely once it is ready.  No window.
 * Start-lock lists hold (superblock, inode number) pairs, not references:
 * they name files of the read-only root, which is never unmounted, and a
 * node may be freed from RCU callback context, where a path_put could
 * sleep.
 */
#include <linux/binfmts.h>
#include <linux/fs.h>
#include <linux/overflow.h>
#include <linux/capability.h>
#include <linux/pid.h>
#include <linux/prctl.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "romlock.h"

struct romlock_start_allow {
	int count;
	struct {
		const struct super_block *sb;
		unsigned long ino;
	} files[];
};

struct romlock_lineage {
	refcount_t usage;
	bool locked;
	bool start_pending;	/* start lock armed: active from the next exec */
	bool start_active;
	struct romlock_start_allow *start_allow;	/* owned, with a start lock */
	const struct romlock_rule *jail;	/* the jail this task entered */
	struct romlock_lineage *parent;
};

struct romlock_task {
	struct romlock_lineage *lineage;
};

struct lsm_blob_sizes romlock_blob_sizes __ro_after_init = {
	.lbs_task = sizeof(struct romlock_task),
	.lbs_file = sizeof(void *),	/* jail.c: the jail that set a file's owner */
};

static struct kmem_cache *romlock_lineage_cache __ro_after_init;

static struct romlock_task *romlock_task(const struct task_struct *task)
{
	return task->security + romlock_blob_sizes.lbs_task;
}

static int romlock_task_alloc(struct task_struct *task,
			      unsigned long clone_flags)
{
	struct romlock_lineage *parent = romlock_task(current)->lineage;
	struct romlock_lineage *node;

	node = kmem_cache_alloc(romlock_lineage_cache, GFP_KERNEL);
	if (!node)
		return -ENOMEM;
	refcount_set(&node->usage, 1);
	/* Only a shortcut for the exec check; the chain is what counts. */
	node->locked = parent && READ_ONCE(parent->locked);
	node->start_pending = false;
	node->start_active = false;
	node->start_allow = NULL;
	node->jail = parent ? READ_ONCE(parent->jail) : NULL;
	node->parent = parent;
	if (parent)
		refcount_inc(&parent->usage);
	romlock_task(task)->lineage = node;
	return 0;
}

/* May run in RCU callback (softirq) context: no sleeping here. */
static void romlock_task_free(struct task_struct *task)
{
	struct romlock_lineage *node = romlock_task(task)->lineage;
	struct romlock_lineage *parent;

	romlock_task(task)->lineage = NULL;
	while (node && refcount_dec_and_test(&node->usage)) {
		parent = node->parent;
		kfree(node->start_allow);
		kmem_cache_free(romlock_lineage_cache, node);
		node = parent;
	}
}

static bool romlock_start_allows(const struct romlock_start_allow *allow,
				 const struct file *file)
{
	const struct inode *inode = file_inode(file);
	int i;

	for (i = 0; i < allow->count; i++)
		if (allow->files[i].sb == inode->i_sb &&
		    allow->files[i].ino == inode->i_ino)
			return true;
	return false;
}

static int romlock_bprm_creds_for_exec(struct linux_binprm *bprm)
{
	const struct romlock_lineage *node = romlock_task(current)->lineage;
	const struct romlock_start_allow *allow = NULL;

	for (; node; node = node->parent) {
		if (READ_ONCE(node->locked))
			return romlock_deny(ROMLOCK_OP_EXEC,
					    "exec %s (exec-locked)",
					    bprm->filename);
		if (!allow && smp_load_acquire(&node->start_active))
			allow = node->start_allow;
	}
	if (allow && !romlock_start_allows(allow, bprm->file))
		return romlock_deny(ROMLOCK_OP_EXEC,
				    "exec %s (exec-locked since its start: not one of its start-up programs)",
				    bprm->filename);
	return 0;
}

/* The exec that armed a start lock is the service itself: lock from here. */
static void romlock_bprm_committed_creds(const struct linux_binprm *bprm)
{
	struct romlock_lineage *node = romlock_task(current)->lineage;

	if (node && READ_ONCE(node->start_pending)) {
		WRITE_ONCE(node->start_pending, false);
		smp_store_release(&node->start_active, true);
	}
}

/*
 * Arms a start lock on the single-threaded process @nr (init's child that
 * is about to exec a service): its next exec is allowed, every later one
 * in its tree only if it is one of the @count files.  Takes ownership of
 * @allow.  CAP_SYS_ADMIN (the securityfs file checks it).
 */
int romlock_start_lock_pid(pid_t nr, struct romlock_start_allow *allow)
{
	struct task_struct *p;
	struct romlock_lineage *node;
	int err = 0;

	rcu_read_lock();
	p = find_task_by_vpid(nr);
	node = p ? romlock_task(p)->lineage : NULL;
	if (!p || !node)
		err = -ESRCH;
	else if (get_nr_threads(p) != 1 || node->start_allow || node->start_active)
		err = -EBUSY;
	else {
		node->start_allow = allow;
		WRITE_ONCE(node->start_pending, true);
	}
	rcu_read_unlock();
	if (err) {
		kfree(allow);
		return err;
	}
	romlock_allow(ROMLOCK_OP_EXEC_LOCK,
		      "start lock on pid %d from its next exec (%d start-up program(s) allowed)",
		      nr, allow->count);
	return 0;
}

struct romlock_start_allow *romlock_start_allow_alloc(int count)
{
	struct romlock_start_allow *allow;

	allow = kzalloc(struct_size(allow, files, count), GFP_KERNEL);
	if (allow)
		allow->count = 0;
	return allow;
}

void romlock_start_allow_add(struct romlock_start_allow *allow,
			     const struct inode *inode)
{
	allow->files[allow->count].sb = inode->i_sb;
	allow->files[allow->count].ino = inode->i_ino;
	allow->count++;
}

/* ---- jails: set by a chroot after the seal, inherited like the lock ---- */

const struct romlock_rule *romlock_task_jail(const struct task_struct *task)
{
	const struct romlock_lineage *node = romlock_task(task)->lineage;
	const struct romlock_rule *jail;

	for (; node; node = node->parent) {
		jail = READ_ONCE(node->jail);
		if (jail)
			return jail;
	}
	return NULL;
}

/* The calling process entered @jail: it and every descendant belong to it. */
void romlock_enter_jail(const struct romlock_rule *jail)
{
	struct task_struct *t;

	rcu_read_lock();
	for_each_thread(current, t) {
		struct romlock_lineage *node = romlock_task(t)->lineage;

		if (node && !READ_ONCE(node->jail))
			WRITE_ONCE(node->jail, jail);
	}
	rcu_read_unlock();
}

/*
 * Locks the process with (virtual) pid @nr, or the caller's own process
 * when @nr is 0.  Naming another process needs CAP_SYS_ADMIN.
 */
int romlock_exec_lock_pid(pid_t nr)
{
	struct task_struct *p, *t;
	char comm[TASK_COMM_LEN];
	pid_t tgid;

	if (nr < 0)
		return -EINVAL;
	if (nr && nr != task_tgid_vnr(current) && !capable(CAP_SYS_ADMIN))
		return -EPERM;

	rcu_read_lock();
	p = nr ? find_task_by_vpid(nr) : current;
	if (!p) {
		rcu_read_unlock();
		return -ESRCH;
	}
	for_each_thread(p, t) {
		struct romlock_lineage *node = romlock_task(t)->lineage;

		if (node)
			WRITE_ONCE(node->locked, true);
	}
	tgid = task_tgid_vnr(p);
	get_task_comm(comm, p);
	rcu_read_unlock();

	romlock_allow(ROMLOCK_OP_EXEC_LOCK,
		      "exec_lock pid %d (%s) and all its descendants", tgid,
		      comm);
	return 0;
}

static int romlock_task_prctl(int option, unsigned long arg2,
			      unsigned long arg3, unsigned long arg4,
			      unsigned long arg5)
{
	if (option != PR_ROMLOCK_EXEC_LOCK)
		return -ENOSYS;
	if (arg3 || arg4 || arg5 || arg2 > PID_MAX_LIMIT)
		return -EINVAL;
	return romlock_exec_lock_pid((pid_t)arg2);
}

static struct security_hook_list romlock_exec_hooks[] __ro_after_init = {
	LSM_HOOK_INIT(task_alloc, romlock_task_alloc),
	LSM_HOOK_INIT(task_free, romlock_task_free),
	LSM_HOOK_INIT(bprm_creds_for_exec, romlock_bprm_creds_for_exec),
	LSM_HOOK_INIT(bprm_committed_creds, romlock_bprm_committed_creds),
	LSM_HOOK_INIT(task_prctl, romlock_task_prctl),
};

void __init romlock_add_exec_hooks(void)
{
	romlock_lineage_cache = KMEM_CACHE(romlock_lineage, SLAB_PANIC);
	security_add_hooks(romlock_exec_hooks, ARRAY_SIZE(romlock_exec_hooks),
			   &romlock_lsmid);
}
